"""What the grader does with a rebuilt fx graph besides running it.

The grad-mode pseudo-ops a graph may call (graph_format.py's ``GRAD_DISABLE`` and
``GRAD_RESTORE``), the pass that drops every op whose result reaches no output,
and the interpreter that records each op's output shape for a trace. Nothing
here reads the child's names: it works on the graphs program.py builds.
"""

from __future__ import annotations

import torch
from torch import fx, nn

from ..wire import graph_format as fmt
from ..wire.allowlist import short_name


def _grad_disable() -> bool:
    previous = torch.is_grad_enabled()
    torch.set_grad_enabled(False)
    return previous


def _grad_restore(previous: bool) -> None:
    torch.set_grad_enabled(bool(previous))


PSEUDO_OPS = {fmt.GRAD_DISABLE: _grad_disable, fmt.GRAD_RESTORE: _grad_restore}


VIEW_OPS = {"view", "reshape", "_unsafe_view", "select", "slice", "narrow", "unsqueeze", "squeeze", "expand",
            "transpose", "permute", "t", "numpy_T", "alias", "detach", "flatten", "unflatten", "view_as",
            "expand_as", "reshape_as", "movedim", "contiguous"}


def drop_dead_ops(g: fx.Graph) -> None:
    """Keep only ops whose results reach the output, or that change in place a tensor that does
    (a buffer, or a tensor filled by index assignment that is used afterwards).

    A decoy layer computed and thrown away is not part of the network the grader
    measures (fx's own dead-code pass keeps random ops such as dropout, and with
    them everything that feeds them).
    """
    nodes = list(g.nodes)
    base: dict[fx.Node, fx.Node] = {}          # the tensor a view or an in-place result really is
    mutations: list[fx.Node] = []
    live: set[fx.Node] = set()
    for node in nodes:
        raw = str(node.target).split(".")[1] if isinstance(node.target, torch._ops.OpOverload) else ""
        first = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
        in_place = raw.endswith("_") and not raw.startswith("_")       # mul_, add_, copy_: they return self
        base[node] = base.get(first, first) if first is not None and (raw in VIEW_OPS or in_place) else node
        if in_place:
            mutations.append(node)
        if node.op in ("output", "get_attr", "placeholder") or node.target in PSEUDO_OPS.values():
            live.add(node)

    def mark(start: fx.Node) -> None:
        stack = [start]
        while stack:
            node = stack.pop()
            for parent in node.all_input_nodes:
                if parent not in live:
                    live.add(parent)
                    stack.append(parent)

    for node in list(live):
        mark(node)
    changed = True
    while changed:                              # a mutation matters when what it mutates is live
        changed = False
        for node in mutations:
            if node not in live and base[node] in live:
                live.add(node)
                mark(node)
                changed = True
    for node in reversed(nodes):
        if node not in live:
            g.erase_node(node)


class ShapeRecorder(fx.Interpreter):
    """Runs a graph and appends [op name, output shape or None, parameters it reads, pooling window or None]
    for each op to ``calls``."""

    def __init__(self, module: fx.GraphModule, calls: list) -> None:
        super().__init__(module)
        self.calls = calls

    def run_node(self, n):
        result = super().run_node(n)
        if n.op == "call_function":
            name = _target_name(n.target)
            if name:
                shape = list(result.shape) if isinstance(result, torch.Tensor) else None
                # parameters this op reads directly (a layer's weight and bias)
                weights = sum(getattr(self.module, a.target).numel() for a in n.all_input_nodes
                              if a.op == "get_attr" and isinstance(getattr(self.module, a.target), nn.Parameter))
                self.calls.append([name, shape, weights, _pooling_window(name, n)])
        return result


def _pooling_window(name: str, n: fx.Node) -> list[int] | None:
    """The window of a (non-adaptive) pooling op, e.g. [2, 2]; None for every other op."""
    if "pool" not in name or name.startswith("adaptive"):
        return None
    window = n.args[1] if len(n.args) > 1 else n.kwargs.get("kernel_size")
    if isinstance(window, int):
        window = [window]
    if not isinstance(window, (list, tuple)) or not all(isinstance(k, int) for k in window):
        return None
    return [int(k) for k in window]


def _target_name(target) -> str:
    if isinstance(target, torch._ops.OpOverload):
        name = short_name(str(target))
        if name.startswith(("sym_", "_assert")):
            return ""
        return name
    return ""
