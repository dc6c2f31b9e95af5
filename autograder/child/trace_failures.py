"""Words for a forward() the tracer could not follow, and the output it prints meanwhile.

The tracer's own complaints (a decision on a tensor's values, a GPU, numpy) are
put in words by ``explain``. Any other failure is run again eagerly, as PyTorch
runs it, on the same concrete batch (``worded_failure``): its own exception, with
the submission's line and sizes as numbers, is what the student reads, with the
layers measured up to it for display only; nothing measured here is judged.
What forward() prints while the grader traces or reruns it goes out under a line
that says when it was printed.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from pathlib import Path

import torch
from torch import nn

from ..wire import graph_format as fmt
from .graph_writer import CompileFailure, line_in


@contextlib.contextmanager
def quiet_tracer():
    """The tracer logs its own diagnostics; they are not the submission's output."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _traceback_line(exc: BaseException, filename: str) -> int | None:
    import traceback

    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).name == filename:
            found = frame.lineno
    return found


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


def batch_specialized_line(module: nn.Module, example: torch.Tensor, filename: str) -> int | None:
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


def explain(exc: BaseException, filename: str, who: str = "forward()") -> CompileFailure | None:
    """Words for the tracer's own complaints about ``who``; None for the submission's ordinary errors."""
    text = f"{type(exc).__name__}: {exc}"
    line = _traceback_line(exc, filename) or line_in(str(exc), filename)
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
def labelled_output(label: str):
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
        with quiet_tracer(), labelled_output(f"ran forward() in {mode} mode on a batch of {batch} to find "
                                              "where it fails"), recorder:
            module(example.clone())
    except Exception as exc:  # noqa: BLE001 - the submission's own error is what is wanted
        exc.measured_layers = recorder.rows
        exc.batch = batch
        return exc
    return None


def worded_failure(exc: BaseException, module: nn.Module, example: torch.Tensor, filename: str,
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
