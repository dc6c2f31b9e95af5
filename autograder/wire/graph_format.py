"""The op graph as plain data: what the child sends and the grader's executor reads.

A compiled module travels as

    {"inputs":  [{"kind": "parameter"|"buffer"|"constant"|"input", "name": str}, ...],
     "nodes":   [{"op": "aten.conv2d.default", "args": [...], "kwargs": {...}}, ...],
     "outputs": [value, ...],
     "batch":   int (the batch size it was traced with), "dynamic": bool}

Values are numbered in order: first the inputs, then one per node. An argument
is a plain constant (int, float, bool, None, short str), a list of arguments,
or one of the tagged dicts below. Nothing else crosses: no pickled objects, no
code, no callables; ops are names the executor looks up in its own allow-list.
This module is imported by both sides and holds no torch state.
"""

from __future__ import annotations

import math
from typing import Any

# Tagged argument forms.
REF = "ref"                  # {"ref": i}: the i-th value (input or node result)
DTYPE = "dtype"              # {"dtype": "float32"}
DEVICE = "device"            # {"device": "cpu"}: the executor substitutes its own device
LAYOUT = "layout"            # {"layout": "strided"}
MEMORY_FORMAT = "memory_format"  # {"memory_format": "contiguous_format"}

INPUT_KINDS = ("parameter", "buffer", "constant", "input")

# Pseudo-ops the child emits around a block traced under torch.no_grad():
# "grad.disable" returns the previous grad mode, "grad.restore" takes it back.
GRAD_DISABLE = "grad.disable"
GRAD_RESTORE = "grad.restore"

# Limits that keep a hostile graph from costing the grader much before it runs.
MAX_NODES = 20000
MAX_STRING = 200
MAX_LIST = 4096
MAX_DEPTH = 6


class GraphFormatError(ValueError):
    """The graph is not well-formed plain data (said in words safe to show a student)."""


def check_argument(value: Any, values_so_far: int, depth: int = 0) -> None:
    """Raise GraphFormatError unless ``value`` is a well-formed argument referring only to earlier values."""
    if depth > MAX_DEPTH:
        raise GraphFormatError("an argument is nested too deeply")
    if value is None or isinstance(value, bool) or isinstance(value, int):
        # a 64-bit integer: the tracer writes an open slice end (x[1:], x[::2]) as 2**63 - 1
        if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
            raise GraphFormatError("an integer argument is out of range")
        return
    if isinstance(value, float):
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise GraphFormatError("a text argument is too long")
        return
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_LIST:
            raise GraphFormatError("a list argument is too long")
        for item in value:
            check_argument(item, values_so_far, depth + 1)
        return
    if isinstance(value, dict) and len(value) == 1:
        (tag, inner), = value.items()
        if tag == REF:
            if not isinstance(inner, int) or isinstance(inner, bool) or not 0 <= inner < values_so_far:
                raise GraphFormatError("a node refers to a value that does not come before it")
            return
        if tag in (DTYPE, DEVICE, LAYOUT, MEMORY_FORMAT):
            if not isinstance(inner, str) or len(inner) > 40:
                raise GraphFormatError(f"a malformed {tag} argument")
            return
    raise GraphFormatError(f"an argument of an unsupported kind ({type(value).__name__})")


def check_graph(graph: Any) -> None:
    """Structural checks only; which ops may run is the executor's allow-list's business."""
    if not isinstance(graph, dict):
        raise GraphFormatError("the compiled graph is not a mapping")
    inputs, nodes, outputs = graph.get("inputs"), graph.get("nodes"), graph.get("outputs")
    if not isinstance(inputs, list) or not isinstance(nodes, list) or not isinstance(outputs, list):
        raise GraphFormatError("the compiled graph lacks inputs, nodes or outputs")
    if len(nodes) > MAX_NODES or len(inputs) > MAX_NODES:
        raise GraphFormatError(f"forward() compiles to more than {MAX_NODES:,} operations")
    user_inputs = 0
    for item in inputs:
        if (not isinstance(item, dict) or item.get("kind") not in INPUT_KINDS
                or not isinstance(item.get("name"), str) or len(item["name"]) > MAX_STRING):
            raise GraphFormatError("a malformed graph input")
        user_inputs += item["kind"] == "input"
    if user_inputs != 1:
        raise GraphFormatError("forward() must take exactly one tensor input")
    count = len(inputs)
    for node in nodes:
        if (not isinstance(node, dict) or not isinstance(node.get("op"), str) or len(node["op"]) > MAX_STRING
                or not isinstance(node.get("args"), list) or not isinstance(node.get("kwargs"), dict)):
            raise GraphFormatError("a malformed graph node")
        check_argument(node["args"], count)
        for key, value in node["kwargs"].items():
            if not isinstance(key, str) or len(key) > MAX_STRING:
                raise GraphFormatError("a malformed keyword argument")
            check_argument(value, count)
        count += 1
    check_argument(outputs, count)
    batch = graph.get("batch")
    if not isinstance(batch, int) or isinstance(batch, bool) or not 0 < batch <= 1 << 20:
        raise GraphFormatError("a malformed batch size")
    if not isinstance(graph.get("dynamic"), bool):
        raise GraphFormatError("the graph does not say whether its batch size is dynamic")


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
