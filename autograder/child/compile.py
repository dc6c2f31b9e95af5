"""Compile a submission's module into an op graph of plain data (the child's only model job).

``torch.export`` traces a model's ``forward()`` into ATen ops; this module writes
the result in the format of ``graph_format.py``: inputs (parameters, buffers,
constants by name, and the one tensor input), nodes (op name, arguments,
the submission line it came from) and outputs. The train-mode and eval-mode
graphs are traced separately. The batch dimension is traced as dynamic; a
forward() that fixes the batch size is traced once per batch size asked for.

A hand-written tensor function has no parameters and one fixed input, so it
is traced by ``make_fx`` at the same level (pre-dispatch ATen ops, the same op
names) for about half the cost; its captured tensors become constants.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import re
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..wire import graph_format as fmt


class CompileFailure(Exception):
    """forward() could not be turned into a graph; the message says why and what to change."""


def _line_in(text: str, filename: str) -> int | None:
    """The last line of ``filename`` named in a stack-trace text."""
    found = None
    for match in re.finditer(r'File "([^"]+)", line (\d+)', text or ""):
        if Path(match.group(1)).name == filename:
            found = int(match.group(2))
    return found


def _traceback_line(exc: BaseException, filename: str) -> int | None:
    import traceback

    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).name == filename:
            found = frame.lineno
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
        line = node.meta.get(LINE) or _line_in(node.meta.get("stack_trace", ""), self.filename)
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


@contextlib.contextmanager
def _quiet_tracer():
    """The tracer logs its own diagnostics; they are not the submission's output."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


LINE = "submission_line"        # node.meta key: the submission line a make_fx node came from


@contextlib.contextmanager
def _recording_lines(filename: str):
    """While tracing, note on each new node the innermost line of ``filename`` on the stack.

    A walk up the frames costs far less than the full stack trace make_fx can record.
    """
    create_node = torch.fx.Graph.create_node
    ours: dict[Any, bool] = {}          # code object -> whether it is the submission's

    def create_and_locate(graph, *args, **kwargs):
        node = create_node(graph, *args, **kwargs)
        frame = sys._getframe(1)
        while frame is not None:
            code = frame.f_code
            if code not in ours:
                ours[code] = Path(code.co_filename).name == filename
            if ours[code]:
                node.meta[LINE] = frame.f_lineno
                break
            frame = frame.f_back
        return node

    torch.fx.Graph.create_node = create_and_locate
    try:
        yield
    finally:
        torch.fx.Graph.create_node = create_node


def _trace_function(module: nn.Module, example: torch.Tensor, filename: str) -> torch.fx.GraphModule:
    from torch.fx.experimental.proxy_tensor import make_fx

    with _quiet_tracer(), _recording_lines(filename):
        # fake tensors: no value is computed, so nothing can be decided from one unnoticed
        return make_fx(module, tracing_mode="fake", pre_dispatch=True, _allow_non_fake_inputs=True)(example)


def compile_function(module: nn.Module, input_shape: list[int], batch_sizes: list[int], filename: str,
                     who: str = "the function") -> dict:
    """Trace a hand-written tensor function (a module of its one tensor input) once per batch size;
    ``who`` names it in messages, e.g. "max_pool2d()".

    The function's other arguments are fixed, so each graph holds exactly the
    shape it was traced at; it runs in eval mode only.
    """
    if any(True for _ in module.parameters()) or any(True for _ in module.buffers()):
        raise CompileFailure(f"{who} is compiled without parameters or buffers")
    module.eval()
    constants: dict[str, torch.Tensor] = {}
    graphs = []
    for batch in sorted(set(batch_sizes)):
        try:
            traced = _trace_function(module, torch.randn(batch, *input_shape), filename)
        except Exception as exc:  # noqa: BLE001 - the tracer's complaints are put in words; others stay errors
            explained = _explain(exc, filename, who)
            if explained is not None:
                raise explained from None
            exc.batch = batch
            raise
        graphs.append(fx_graph(traced, filename, batch, f"eval{batch}", constants, who))
    return {"class_name": type(module).__name__[:fmt.MAX_STRING], "parameters": {}, "trainable": {},
            "buffers": {}, "constants": constants, "graphs": {"eval": graphs}}


def _export(module: nn.Module, example: torch.Tensor, dynamic: bool):
    from torch.export import Dim, export

    shapes = ({0: Dim("batch", min=1, max=1 << 16)},) if dynamic else None
    with _quiet_tracer():
        return export(module, (example,), dynamic_shapes=shapes, strict=False)


class _GuardLines(logging.Handler):
    """Collects the submission lines where the tracer fixed a size (its "[guard added]" records)."""

    def __init__(self, filename: str) -> None:
        super().__init__(logging.INFO)
        self.pattern = re.compile(r"\[guard added\].*?\(([^()]*?)" + re.escape(filename) + r":(\d+) in ")
        self.lines: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            match = self.pattern.search(record.getMessage())
        except Exception:  # noqa: BLE001 - a record that cannot be formatted names no line
            return
        if match and (not match.group(1) or match.group(1).endswith("/")):
            self.lines.append(int(match.group(2)))


def _batch_specialized_line(module: nn.Module, example: torch.Tensor, filename: str) -> int | None:
    """The first line of ``filename`` where tracing with a dynamic batch fixed the batch size."""
    logger = logging.getLogger("torch.fx.experimental.symbolic_shapes")
    handler = _GuardLines(filename)
    level, propagate, handlers = logger.level, logger.propagate, list(logger.handlers)
    logger.setLevel(logging.INFO)
    logger.propagate = False            # the tracer's records are not the submission's output
    for other in handlers:
        logger.removeHandler(other)
    logger.addHandler(handler)
    try:
        from torch.export import Dim, export
        export(module, (example,), dynamic_shapes=({0: Dim("batch", min=1, max=1 << 16)},), strict=False)
    except Exception:  # noqa: BLE001 - the failure is expected; only the lines are wanted
        pass
    finally:
        logger.removeHandler(handler)
        for other in handlers:
            logger.addHandler(other)
        logger.setLevel(level)
        logger.propagate = propagate
    return handler.lines[0] if handler.lines else None


def _explain(exc: BaseException, filename: str, who: str = "forward()") -> CompileFailure | None:
    """Words for the tracer's own complaints about ``who``; None for the submission's ordinary errors."""
    text = f"{type(exc).__name__}: {exc}"
    line = _traceback_line(exc, filename) or _line_in(str(exc), filename)
    where = f" (line {line})" if line else ""
    if "data-dependent" in text or "GuardOnDataDependent" in text or "DataDependentOutputException" in text:
        return CompileFailure(f"{who} decides something from the values of a tensor{where} (an if or a loop on "
                              f"a tensor, or .item()); the grader runs {who} as a fixed graph of tensor "
                              "operations: use torch.where or masks instead of Python control flow on values")
    if "cuda" in text.lower():
        has = "has a GPU but decides the device itself" if torch.cuda.is_available() else "has none"
        return CompileFailure(f"{who} asks for a GPU{where} (.cuda() or device='cuda') but this grader {has}: "
                              "use the device of the input (x.device) instead")
    if "numpy" in text.lower() or "data pointer" in text or "FakeTensor" in text:
        return CompileFailure(f"{who} leaves torch{where} (numpy, .tolist() or Python numbers from tensors); "
                              f"keep {who} in torch operations so the grader can run it")
    return None



# ----------------------------------------------------------------- words for what failed

SYMBOL = re.compile(r"\bs\d+\b")      # the tracer's name for a dynamic size: s77


def _traced_sizes() -> dict[str, int]:
    """The sizes the tracer is following now, by symbol ({"s77": 4}); empty outside a trace."""
    try:
        from torch._guards import detect_fake_mode

        env = getattr(detect_fake_mode(), "shape_env", None)
        values = getattr(env, "backed_var_to_val", None) if env is not None else None
        if values is None and env is not None:
            values = env.var_to_val               # torch releases before backed_var_to_val
        return {str(symbol): int(value) for symbol, value in dict(values or {}).items()}
    except Exception:  # noqa: BLE001 - only words depend on it
        return {}


class _LabelledStream:
    """stdout or stderr while the grader traces or reruns forward(): the first text written gets a
    line saying when it was printed, and sizes the tracer holds as symbols read as the batch it traces
    (torch.Size([4, 6, 12, 12]) where the tracer would print torch.Size([s77, 6, 12, 12]))."""

    def __init__(self, stream, label: str) -> None:
        self._stream = stream
        self._label = label
        self._started = False

    def write(self, text):
        if not isinstance(text, str):
            return self._stream.write(text)
        sizes = _traced_sizes()
        if sizes:
            text = SYMBOL.sub(lambda m: str(sizes.get(m.group(0), m.group(0))), text)
        if not self._started and text:
            self._started = True
            self._stream.write(f"[printed while the grader {self._label}]\n")
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _labelled_output(label: str):
    """What forward() prints meanwhile goes out under ``label`` (see _LabelledStream)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _LabelledStream(sys.stdout, label), _LabelledStream(sys.stderr, label)
    try:
        yield
    finally:
        # a forward() that replaced them itself keeps its own; ours are taken away
        sys.stdout = saved[0] if isinstance(sys.stdout, _LabelledStream) else sys.stdout
        sys.stderr = saved[1] if isinstance(sys.stderr, _LabelledStream) else sys.stderr


# Tensor functions that are no layer: sizes, metadata and conversions are left out of the table.
_NOT_LAYERS = frozenset({"size", "dim", "numel", "item", "tolist", "__get__", "__getitem__", "__len__",
                         "__repr__", "__format__", "__bool__", "__index__", "__int__", "__float__", "to",
                         "cpu", "cuda", "type", "contiguous", "detach", "clone", "float", "double"})
MAX_MEASURED_LAYERS = 200


class _LayerRecorder:
    """Records, while forward() runs eagerly, each leaf module's output shape (forward hooks) and each
    torch function the submission's own lines call outside a module, up to the exception if one comes.

    For display only: these shapes are measured in the submission's process, never judged."""

    def __init__(self, module: nn.Module, filename: str) -> None:
        self.module = module
        self.filename = filename
        self.rows: list[list] = []        # [what, output shape or None, parameters or None, failed]
        self.inside: list[str] = []       # leaf modules entered and not yet left
        self.failed = False
        self.handles: list = []

    def _add(self, what: str, shape, parameters, failed: bool = False) -> None:
        if len(self.rows) < MAX_MEASURED_LAYERS:
            self.rows.append([what[:fmt.MAX_STRING], shape, parameters, failed])

    def _from_submission(self) -> bool:
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if Path(name).name == self.filename:
                return True
            if "torch" not in Path(name).parts and name != __file__:
                return False
            frame = frame.f_back
        return False

    def __enter__(self):
        from torch.overrides import TorchFunctionMode

        recorder = self

        class Calls(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                name = getattr(func, "__name__", "")
                if recorder.inside or recorder.failed or name in _NOT_LAYERS or name.startswith("_") \
                        or not recorder._from_submission():
                    return func(*args, **(kwargs or {}))
                try:
                    out = func(*args, **(kwargs or {}))
                except Exception:
                    recorder.failed = True
                    recorder._add(name, None, None, failed=True)
                    raise
                if isinstance(out, torch.Tensor):
                    recorder._add(name, list(out.shape), None)
                return out

        for name, sub in self.module.named_modules():
            if sub is self.module or any(True for _ in sub.children()):
                continue
            what = f"{name} ({type(sub).__name__})"
            count = sum(p.numel() for p in sub.parameters(recurse=False))
            self.handles.append(sub.register_forward_pre_hook(lambda _m, _i, what=what: self.inside.append(what)))
            self.handles.append(sub.register_forward_hook(
                lambda _m, _i, out, what=what, count=count: self._left(what, out, count)))
        self.mode = Calls()
        self.mode.__enter__()
        return self

    def _left(self, what: str, out, count: int) -> None:
        if self.inside:
            self.inside.pop()
        shape = list(out.shape) if isinstance(out, torch.Tensor) else None
        self._add(what, shape, count)

    def __exit__(self, exc_type, exc, tb):
        self.mode.__exit__(None, None, None)
        for handle in self.handles:
            handle.remove()
        if exc is not None and self.inside and not self.failed:      # the error came inside this module
            self._add(self.inside[-1], None, None, failed=True)
        return False


def _eager_failure(module: nn.Module, example: torch.Tensor, filename: str, mode: str) -> BaseException | None:
    """forward() run as PyTorch runs it, on the concrete batch the tracer failed on: its own exception
    (torch's words, the submission's line, sizes as numbers), with the layers measured up to it
    (``measured_layers``) and the batch (``batch``); None when it runs through.

    Only the message and the display come from this run; every check is still judged by the grader."""
    batch = len(example)
    recorder = _LayerRecorder(module, filename)
    try:
        with _quiet_tracer(), _labelled_output(f"ran forward() in {mode} mode on a batch of {batch} to find "
                                               "where it fails"), recorder:
            module(example.clone())
    except Exception as exc:  # noqa: BLE001 - the submission's own error is what is wanted
        exc.measured_layers = recorder.rows
        exc.batch = batch
        return exc
    return None


def _worded_failure(exc: BaseException, module: nn.Module, example: torch.Tensor, filename: str,
                    mode: str) -> BaseException:
    """The error to report for a forward() the tracer could not follow: eager PyTorch's own when a run on
    the same concrete batch fails too, else the tracer's with its symbolic sizes read as that batch."""
    eager = _eager_failure(module, example, filename, mode)
    if eager is not None:
        return eager
    if len(exc.args) == 1 and isinstance(exc.args[0], str) and str(exc) == exc.args[0]:
        exc.args = (SYMBOL.sub(str(len(example)), exc.args[0]),)
    exc.batch = len(example)
    return exc


def compile_module(module: nn.Module, input_shape: list[int], batch_sizes: list[int],
                   modes: list[str], filename: str) -> dict:
    """Trace ``module`` in each mode; return its graphs and tensors as plain data.

    For each mode: one graph with a dynamic batch dimension when forward()
    allows it, else one graph per batch size in ``batch_sizes``.
    """
    graphs: dict[str, list[dict]] = {}
    constants: dict[str, torch.Tensor] = {}
    specialized_line = None             # where forward() fixed the batch size, when it does
    for mode in modes:
        module.train(mode == "train")
        example = torch.randn(max(2, min(batch_sizes)), *input_shape)
        try:
            with _labelled_output(f"compiled forward() in {mode} mode with a batch of {len(example)}"):
                program = _export(module, example, dynamic=True)
            graphs[mode] = [to_graph(program, filename, len(example), True, mode, constants)]
            continue
        except CompileFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - a batch-specific forward() is retried below
            explained = _explain(exc, filename)
            if explained is not None:
                raise explained from None
            if "Constraints violated" not in str(exc) and "specialized" not in str(exc):
                raise _worded_failure(exc, module, example, filename, mode) from None
            if specialized_line is None:
                with _labelled_output(f"compiled forward() in {mode} mode with a batch of {len(example)} to find "
                                      "where it fixes the batch size"):
                    specialized_line = _batch_specialized_line(module, example, filename)
        graphs[mode] = []
        for batch in sorted(set(batch_sizes)):
            concrete = torch.randn(batch, *input_shape)
            try:
                with _labelled_output(f"compiled forward() in {mode} mode with a batch of {batch}"):
                    program = _export(module, concrete, dynamic=False)
            except Exception as exc:  # noqa: BLE001
                explained = _explain(exc, filename)
                if explained is not None:
                    raise explained from None
                raise _worded_failure(exc, module, concrete, filename, mode) from None
            graphs[mode].append(to_graph(program, filename, batch, False, f"{mode}{batch}", constants))
    return {
        "class_name": type(module).__name__[:fmt.MAX_STRING],
        "parameters": {name: p.detach().cpu().clone() for name, p in module.named_parameters()},
        "trainable": {name: bool(p.requires_grad) for name, p in module.named_parameters()},
        "buffers": {name: b.detach().cpu().clone() for name, b in module.named_buffers()},
        "constants": constants,
        "graphs": graphs,
        "batch_specialized_line": specialized_line,
    }
