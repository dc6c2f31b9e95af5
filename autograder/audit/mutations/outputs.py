"""Mutation operators for the output layer and flattening: the (log-)softmax and the flatten before
the first fully connected layer.

Each operator edits only the graded scopes (see ``core``) and yields its sites in file order;
``OPERATORS`` lists them in the order they run.
"""

from __future__ import annotations

import ast
from typing import Iterator

from .core import (Context, Operator, Scope, argument, expression_text, is_int, library_call, method_call,
                   registrar, replace, with_keyword)

OPERATORS: list[Operator] = []
operator = registrar(OPERATORS)


SOFTMAXES = {"log_softmax", "softmax"}


def _softmax_calls(ctx: Context) -> Iterator[tuple[ast.Call, ast.expr | None, bool]]:
    """(call, its dim argument, is a method call x.log_softmax(...)) for each (log-)softmax."""
    for _, call in ctx.calls():
        if library_call(call) in SOFTMAXES and call.args:
            yield call, argument(call, "dim", 1), False
        elif method_call(call) in SOFTMAXES:
            yield call, argument(call, "dim", 0), True


@operator("log_softmax_removed", "the (log-)softmax of the output left out: logits where log-probabilities are asked for")
def _log_softmax_removed(ctx):
    for call, _, method in _softmax_calls(ctx):
        inner = call.func.value if method else call.args[0]
        yield replace(ctx, call, expression_text(ctx, inner))


def other_dim(value: int) -> int:
    return 0 if value != 0 else 1


@operator("softmax_dim_changed", "the (log-)softmax taken over the wrong dimension")
def _softmax_dim_changed(ctx):
    for call, dim, _ in _softmax_calls(ctx):
        if dim is None:
            yield with_keyword(ctx, call, "dim", "0")
        elif is_int(dim) or (isinstance(dim, ast.UnaryOp) and is_int(dim.operand)):
            value = ast.literal_eval(dim)
            yield replace(ctx, dim, str(other_dim(value)))


def _flattens(ctx: Context) -> Iterator[tuple[Scope, ast.Call, ast.expr]]:
    """(scope, call, the tensor) for each flatten in forward(): torch.flatten(x, 1), x.flatten(1),
    x.view(x.size(0), -1), x.reshape(len(x), -1), ..."""
    for scope, call in ctx.calls(forward_only=True):
        if library_call(call) == "flatten" and call.args:
            yield scope, call, call.args[0]
        elif method_call(call) == "flatten":
            yield scope, call, call.func.value
        elif method_call(call) in ("view", "reshape") and len(call.args) == 2:
            last = call.args[1]
            if isinstance(last, ast.UnaryOp) and is_int(last.operand) and last.operand.value == 1:
                yield scope, call, call.func.value


@operator("batch_size_fixed", "the flatten written for one batch size: x.view(64, -1)")
def _batch_size_fixed(ctx):
    for _, call, tensor in _flattens(ctx):
        yield replace(ctx, call, f"{expression_text(ctx, tensor)}.view(64, -1)")


@operator("flatten_all_dims", "the batch dimension flattened too: torch.flatten(x) instead of torch.flatten(x, 1)")
def _flatten_all_dims(ctx):
    if ctx.has_torch:
        for _, call, tensor in _flattens(ctx):
            yield replace(ctx, call, f"torch.flatten({ctx.source.segment(tensor)})")


def _first_linear_inputs(ctx: Context, owner: str | None, seen: set | None = None) -> ast.expr | None:
    """The in_features of the first nn.Linear the class (or a base it inherits from) builds."""
    seen = seen if seen is not None else set()
    cls = ctx.classes.get(owner or "")
    if cls is None or owner in seen:
        return None
    seen.add(owner)
    for node in ast.walk(cls):
        if isinstance(node, ast.Call) and library_call(node) == "Linear":
            return argument(node, "in_features", 0)
    for base in cls.bases:
        if isinstance(base, ast.Name):
            found = _first_linear_inputs(ctx, base.id, seen)
            if found is not None:
                return found
    return None


@operator("flatten_hard_coded", "the flatten size written as a number: x.view(-1, <in_features of the first Linear>)")
def _flatten_hard_coded(ctx):
    for scope, call, tensor in _flattens(ctx):
        size = _first_linear_inputs(ctx, scope.owner)
        if size is not None:
            yield replace(ctx, call, f"{expression_text(ctx, tensor)}.view(-1, {ctx.source.segment(size)})")
