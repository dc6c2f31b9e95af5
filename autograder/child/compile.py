"""Compile a submission's module into an op graph of plain data (the child's only model job).

``torch.export`` traces a model's ``forward()`` into ATen ops; ``graph_writer.py``
writes the result in the format of ``graph_format.py``: inputs (parameters, buffers,
constants by name, and the one tensor input), nodes (op name, arguments,
the submission line it came from) and outputs. The train-mode and eval-mode
graphs are traced separately. The batch dimension is traced as dynamic; a
forward() that fixes the batch size is traced once per batch size asked for.

A hand-written tensor function has no parameters and one fixed input, so it
is traced by ``make_fx`` at the same level (pre-dispatch ATen ops, the same op
names) for about half the cost; its captured tensors become constants.

A failure the tracer meets is put in words by ``trace_failures.py``.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..wire import graph_format as fmt
from .graph_writer import LINE, CompileFailure, fx_graph, to_graph
from .trace_failures import batch_specialized_line, explain, labelled_output, quiet_tracer, worded_failure

__all__ = ["CompileFailure", "compile_function", "compile_module"]


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

    with quiet_tracer(), _recording_lines(filename):
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
            explained = explain(exc, filename, who)
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
    with quiet_tracer():
        return export(module, (example,), dynamic_shapes=shapes, strict=False)


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
            with labelled_output(f"compiled forward() in {mode} mode with a batch of {len(example)}"):
                program = _export(module, example, dynamic=True)
            graphs[mode] = [to_graph(program, filename, len(example), True, mode, constants)]
            continue
        except CompileFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - a batch-specific forward() is retried below
            explained = explain(exc, filename)
            if explained is not None:
                raise explained from None
            if "Constraints violated" not in str(exc) and "specialized" not in str(exc):
                raise worded_failure(exc, module, example, filename, mode) from None
            if specialized_line is None:
                with labelled_output(f"compiled forward() in {mode} mode with a batch of {len(example)} to find "
                                     "where it fixes the batch size"):
                    specialized_line = batch_specialized_line(module, example, filename)
        graphs[mode] = []
        for batch in sorted(set(batch_sizes)):
            concrete = torch.randn(batch, *input_shape)
            try:
                with labelled_output(f"compiled forward() in {mode} mode with a batch of {batch}"):
                    program = _export(module, concrete, dynamic=False)
            except Exception as exc:  # noqa: BLE001
                explained = explain(exc, filename)
                if explained is not None:
                    raise explained from None
                raise worded_failure(exc, module, concrete, filename, mode) from None
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
