"""Mutation operators for losses and reductions: the wrong loss, a sum for a mean, the wrong
dimension, keepdim dropped, the softmax's stability shift left out.

Each operator edits only the graded scopes (see ``core``) and yields its sites in file order;
``OPERATORS`` lists them in the order they run.
"""

from __future__ import annotations

import ast
import copy

from .core import (Operator, argument, drop_keyword, expression_text, is_int, is_number, keyword, library_call,
                   method_call, registrar, replace)
from .outputs import other_dim

OPERATORS: list[Operator] = []
operator = registrar(OPERATORS)


LOSS_SWAPS = {"nll_loss": "cross_entropy", "cross_entropy": "nll_loss", "mse_loss": "l1_loss", "l1_loss": "mse_loss",
              "NLLLoss": "CrossEntropyLoss", "CrossEntropyLoss": "NLLLoss", "MSELoss": "L1Loss", "L1Loss": "MSELoss",
              "binary_cross_entropy": "binary_cross_entropy_with_logits",
              "binary_cross_entropy_with_logits": "binary_cross_entropy", "BCELoss": "BCEWithLogitsLoss",
              "BCEWithLogitsLoss": "BCELoss"}


@operator("loss_swapped", "the wrong loss: nll_loss for cross_entropy (and back), an absolute error for a squared one")
def _loss_swapped(ctx):
    for _, call in ctx.calls():
        name = library_call(call)
        if name in LOSS_SWAPS:
            new = copy.deepcopy(call)
            new.func.attr = LOSS_SWAPS[name]
            yield replace(ctx, call, ast.unparse(new))
    for _, node in ctx.nodes(ast.BinOp):
        if (isinstance(node.op, ast.Pow) and is_number(node.right) and node.right.value == 2
                and isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Sub)):
            yield replace(ctx, node, f"{expression_text(ctx, node.left)}.abs()")


REDUCTION_SWAPS = {"mean": "sum", "sum": "mean"}


@operator("reduction_changed", "a sum where a mean is due, or the other way round (also reduction='sum'/'mean')")
def _reduction_changed(ctx):
    for _, call in ctx.calls():
        name = method_call(call) or library_call(call)
        if name in REDUCTION_SWAPS:
            new = copy.deepcopy(call)
            new.func.attr = REDUCTION_SWAPS[name]
            yield replace(ctx, call, ast.unparse(new))
        given = keyword(call, "reduction")
        if given is not None and isinstance(given.value, ast.Constant) and given.value.value in REDUCTION_SWAPS:
            yield replace(ctx, given.value, repr(REDUCTION_SWAPS[given.value.value]))


REDUCTIONS = {"sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std", "prod", "logsumexp",
              "cumsum", "norm"}


@operator("reduction_dim_changed", "a reduction over the wrong dimension (a tuple of dimensions loses its first)")
def _reduction_dim_changed(ctx):
    for _, call in ctx.calls():
        method = method_call(call)
        name = method or library_call(call)
        if name not in REDUCTIONS:
            continue
        dim = argument(call, "dim", 0 if method else 1)
        if dim is None:
            continue
        if is_int(dim) or (isinstance(dim, ast.UnaryOp) and is_int(dim.operand)):
            yield replace(ctx, dim, str(other_dim(ast.literal_eval(dim))))
        elif isinstance(dim, ast.Tuple) and len(dim.elts) > 1:
            rest = [ctx.source.segment(e) for e in dim.elts[1:]]
            yield replace(ctx, dim, f"({', '.join(rest)}{',' if len(rest) == 1 else ''})")


@operator("keepdim_dropped", "keepdim=True left out: the reduced tensor no longer broadcasts against its input")
def _keepdim_dropped(ctx):
    for _, call in ctx.calls():
        given = keyword(call, "keepdim")
        if given is not None and isinstance(given.value, ast.Constant) and given.value.value is True:
            yield drop_keyword(ctx, call, given)


@operator("stability_shift_removed", "the largest logit no longer subtracted before exp(): overflow for large logits")
def _stability_shift_removed(ctx):
    for _, node in ctx.nodes(ast.BinOp):
        if isinstance(node.op, ast.Sub) and any(
                isinstance(n, ast.Call) and (method_call(n) or library_call(n)) in ("max", "amax")
                for n in ast.walk(node.right)):
            yield replace(ctx, node, expression_text(ctx, node.left))
