"""Write a traced graph as plain data in the format of wire/graph_format.py.

``to_graph`` writes a ``torch.export`` program (parameters, buffers, constants by
name, the one tensor input), ``fx_graph`` a ``make_fx`` trace of a hand-written
function (one input, captured tensors as constants). Each node keeps its op name,
its arguments and the submission line it came from; anything the executor could
not rebuild (a Python object, a higher-order op, a value turned into a Python
number) is refused here with a ``CompileFailure`` that says what to change.
"""

from __future__ import annotations

import operator
import re
from pathlib import Path
from typing import Any

import torch

from ..wire import graph_format as fmt
from ..wire.answers import SubmissionFact

LINE = "submission_line"        # node.meta key: the submission line a make_fx node came from


class CompileFailure(SubmissionFact):
    """forward() could not be turned into a graph; the message says why and what to change."""


def line_in(text: str, filename: str) -> int | None:
    """The last line of ``filename`` named in a stack-trace text."""
    found = None
    for match in re.finditer(r'File "([^"]+)", line (\d+)', text or ""):
        if Path(match.group(1)).name == filename:
            found = int(match.group(2))
    return found


class _Writer:
    """Turns a traced graph into plain nodes: an ExportedProgram's (``program``), or a make_fx
    GraphModule's (``program`` None; inputs from ``write_fx_inputs``)."""

    def __init__(self, program, filename: str, prefix: str, constants: dict, who: str = "forward()") -> None:
        self.program = program
        self.who = who                    # names the traced code in messages
        self.filename = filename
        self.prefix = prefix              # constants of different graphs must not share names
        self.constants = constants        # filled with this graph's constant tensors
        self.values: dict[Any, Any] = {}   # fx node -> {"ref": i} or a list of such (a tuple result)
        self.inputs: list[dict] = []
        self.nodes: list[dict] = []
        self.grad_modes: list[dict] = []   # refs of grad.disable nodes not yet restored (make_fx graphs)

    def _count(self) -> int:
        return len(self.inputs) + len(self.nodes)

    def _emit(self, op: str, args: list, kwargs: dict, line: int | None) -> dict:
        ref = {fmt.REF: self._count()}
        self.nodes.append({"op": op, "args": args, "kwargs": kwargs, "line": line})
        return ref

    def _arg(self, value: Any) -> Any:
        if isinstance(value, torch.fx.Node):
            if value not in self.values:
                raise CompileFailure(f"the traced graph uses '{value.name}' before defining it")
            return self.values[value]
        if isinstance(value, (list, tuple)):
            return [self._arg(v) for v in value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return value[:fmt.MAX_STRING]
        if isinstance(value, torch.dtype):
            return {fmt.DTYPE: str(value).removeprefix("torch.")}
        if isinstance(value, torch.device):
            return {fmt.DEVICE: value.type}
        if isinstance(value, torch.layout):
            return {fmt.LAYOUT: str(value).removeprefix("torch.")}
        if isinstance(value, torch.memory_format):
            return {fmt.MEMORY_FORMAT: str(value).removeprefix("torch.")}
        raise CompileFailure(f"{self.who} passes a {type(value).__name__} to a torch operation; "
                             "the grader only runs graphs of tensors, numbers and lists")

    def write_inputs(self) -> None:
        from torch.export.graph_signature import InputKind

        kinds = {InputKind.PARAMETER: "parameter", InputKind.BUFFER: "buffer",
                 InputKind.CONSTANT_TENSOR: "constant", InputKind.USER_INPUT: "input"}
        specs = {spec.arg.name: spec for spec in self.program.graph_signature.input_specs}
        for node in self.program.graph.nodes:
            if node.op != "placeholder":
                continue
            spec = specs.get(node.name)
            if spec is None or spec.kind not in kinds:
                what = spec.kind.name.lower() if spec is not None else "unknown"
                raise CompileFailure(f"forward() takes an input of a kind the grader does not run ({what})")
            if spec.kind == InputKind.USER_INPUT and not isinstance(spec.arg, torch.export.graph_signature.TensorArgument):
                raise CompileFailure("forward() must take one tensor; it takes a non-tensor argument too")
            name = spec.target if spec.target else node.name
            if spec.kind == InputKind.CONSTANT_TENSOR:
                tensor = self.program.constants.get(name)
                if not isinstance(tensor, torch.Tensor):
                    raise CompileFailure("forward() uses a constant the grader cannot transport")
                name = f"{self.prefix}/{name}"
                self.constants[name] = tensor.detach().cpu().clone()
            self.values[node] = {fmt.REF: self._count()}
            self.inputs.append({"kind": kinds[spec.kind], "name": name})

    def write_fx_inputs(self, module: torch.fx.GraphModule) -> None:
        """A make_fx graph's inputs: its one placeholder, and every captured tensor as a constant."""
        for node in module.graph.nodes:
            if node.op == "placeholder":
                self.values[node] = {fmt.REF: self._count()}
                self.inputs.append({"kind": "input", "name": node.name})
            elif node.op == "get_attr":
                tensor = getattr(module, str(node.target), None)
                if not isinstance(tensor, torch.Tensor):
                    raise CompileFailure(f"{self.who} uses a constant the grader cannot transport")
                name = f"{self.prefix}/{node.target}"
                self.constants[name] = tensor.detach().cpu().clone()
                self.values[node] = {fmt.REF: self._count()}
                self.inputs.append({"kind": "constant", "name": name})

    def write_body(self, graph: torch.fx.Graph, module: torch.fx.GraphModule, skip_placeholders: bool) -> list:
        """Write ``graph``'s nodes; return the output node's arguments."""
        for node in graph.nodes:
            if node.op == "placeholder":
                if not skip_placeholders:
                    raise CompileFailure("an unexpected input inside the traced graph")
                continue
            if node.op == "get_attr":
                continue                      # constants (written as inputs) or submodules of higher-order ops
            if node.op == "output":
                return node.args[0]
            if node.op != "call_function":
                raise CompileFailure(f"the traced graph has a '{node.op}' node the grader does not run")
            self._call(node, module)
        raise CompileFailure("the traced graph has no output")

    def _call(self, node: torch.fx.Node, module: torch.fx.GraphModule) -> None:
        line = node.meta.get(LINE) or line_in(node.meta.get("stack_trace", ""), self.filename)
        target = node.target
        if target is torch._C._set_grad_enabled:      # make_fx's record of torch.no_grad()
            self._grad_mode(bool(node.args[0]), line)
            self.values[node] = None
            return
        if target is operator.getitem and isinstance(self.values.get(node.args[0]), list):
            self.values[node] = self.values[node.args[0]][node.args[1]]
            return
        if target is torch.ops.higher_order.wrap_with_set_grad_enabled:
            self._inline_grad_block(node, module, line)
            return
        if isinstance(target, torch._ops.HigherOrderOperator):
            raise CompileFailure(f"{self.who} uses {target.name()}" + (f" (line {line})" if line else "") +
                                 f", which the grader does not run: write {self.who} with plain torch operations")
        if isinstance(target, torch._ops.OpOverload):
            name = str(target)                                   # "aten.conv2d.default"
        elif getattr(target, "__module__", "") in ("_operator", "operator"):
            name = f"operator.{target.__name__}"
        else:
            name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__name__', type(target).__name__)}"
        if name == "aten._local_scalar_dense.default":
            where = f" on line {line}" if line else ""
            raise CompileFailure(f"{self.who} turns a tensor into a Python number (.item(), float(), int() or "
                                 f"a comparison used in an if){where}; the grader runs {self.who} as a graph of "
                                 "tensor operations: keep values as tensors (torch.where instead of if)")
        args = [self._arg(a) for a in node.args]
        kwargs = {k: self._arg(v) for k, v in node.kwargs.items()}
        self.values[node] = self._emit(name, args, kwargs, line)

    def _grad_mode(self, enabled: bool, line: int | None) -> None:
        if not enabled:
            self.grad_modes.append(self._emit(fmt.GRAD_DISABLE, [], {}, line))
        elif self.grad_modes:
            self._emit(fmt.GRAD_RESTORE, [self.grad_modes.pop()], {}, line)
        else:
            raise CompileFailure(f"{self.who} turns gradients on itself (torch.set_grad_enabled or "
                                 "torch.enable_grad); the grader does not run that")

    def _inline_grad_block(self, node: torch.fx.Node, module: torch.fx.GraphModule, line: int | None) -> None:
        enabled, submodule_node, *operands = node.args
        if enabled:
            raise CompileFailure("forward() turns gradients back on inside torch.no_grad(); the grader does not run that")
        submodule = getattr(module, submodule_node.target)
        previous = self._emit(fmt.GRAD_DISABLE, [], {}, line)
        placeholders = [n for n in submodule.graph.nodes if n.op == "placeholder"]
        for placeholder, operand in zip(placeholders, operands):
            self.values[placeholder] = self._arg(operand)
        result = self.write_body(submodule.graph, submodule, skip_placeholders=True)
        self._emit(fmt.GRAD_RESTORE, [previous], {}, line)
        outputs = result if isinstance(result, (list, tuple)) else [result]
        self.values[node] = [self._arg(o) for o in outputs]

    def write_outputs(self, output_args) -> list:
        from torch.export.graph_signature import OutputKind

        outputs = []
        by_name = {}
        for value in (output_args if isinstance(output_args, (list, tuple)) else [output_args]):
            if isinstance(value, torch.fx.Node):
                by_name[value.name] = value
        for spec, value in zip(self.program.graph_signature.output_specs, output_args):
            if spec.kind == OutputKind.USER_OUTPUT:
                outputs.append(self._arg(value))
            elif spec.kind == OutputKind.BUFFER_MUTATION:
                buffer = next(i for i, item in enumerate(self.inputs)
                              if item["kind"] == "buffer" and item["name"] == spec.target)
                self._emit("aten.copy_.default", [{fmt.REF: buffer}, self._arg(value)], {}, None)
            else:
                raise CompileFailure(f"forward() produces an output of a kind the grader does not run "
                                     f"({spec.kind.name.lower()})")
        return outputs


def to_graph(program, filename: str, batch: int, dynamic: bool, prefix: str, constants: dict) -> dict:
    writer = _Writer(program, filename, prefix, constants)
    writer.write_inputs()
    output_args = writer.write_body(program.graph, program.graph_module, skip_placeholders=True)
    outputs = writer.write_outputs(output_args)
    graph = {"inputs": writer.inputs, "nodes": writer.nodes, "outputs": outputs, "batch": batch, "dynamic": dynamic}
    fmt.check_graph(graph)
    return graph


def fx_graph(module: torch.fx.GraphModule, filename: str, batch: int, prefix: str, constants: dict,
             who: str) -> dict:
    """The plain graph of a make_fx trace: one input, captured tensors as constants, outputs flattened."""
    from torch.utils._pytree import tree_leaves

    writer = _Writer(None, filename, prefix, constants, who)
    writer.write_fx_inputs(module)
    output_args = writer.write_body(module.graph, module, skip_placeholders=True)
    outputs = [writer._arg(value) for value in tree_leaves(output_args)]
    graph = {"inputs": writer.inputs, "nodes": writer.nodes, "outputs": outputs, "batch": batch, "dynamic": False}
    fmt.check_graph(graph)
    return graph
