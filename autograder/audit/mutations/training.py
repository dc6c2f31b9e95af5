"""Mutation operators for gradients and training: gradients cut, normalisation constants, and the
steps of a training loop (zero_grad, backward, step, eval/train) left out, swapped or reversed.

Each operator edits only the graded scopes (see ``core``) and yields its sites in file order;
``OPERATORS`` lists them in the order they run.
"""

from __future__ import annotations

import ast
from typing import Iterator, Sequence

from .core import (Context, Edit, Operator, Scope, expression_text, is_number, is_self_call, keyword,
                   library_call, method_call, prefix_of, registrar, remove_statement, replace, swap,
                   with_keyword)
from .dropout import DROPOUT_FUNCTIONS
from .layers import ACTIVATION_FUNCTIONS, POOL_SWAPS
from .outputs import SOFTMAXES

OPERATORS: list[Operator] = []
operator = registrar(OPERATORS)


@operator("detach_inserted", "a tensor detached on its way into a layer or torch function: no gradient flows back past it")
def _detach_inserted(ctx):
    for scope, call in ctx.calls():
        if not (scope.is_forward or scope.by_hand) or not call.args or isinstance(call.args[0], ast.Starred):
            continue
        if (scope.is_forward and is_self_call(call)) or library_call(call) in (
                ACTIVATION_FUNCTIONS | SOFTMAXES | set(POOL_SWAPS) | DROPOUT_FUNCTIONS | {"exp", "log", "flatten", "sqrt"}):
            first = call.args[0]
            if scope.is_forward and not scope.by_hand and _is_the_input(scope, first):
                continue        # a trained model's input carries no gradient anyway: not a mistake
            yield replace(ctx, first, f"{expression_text(ctx, first)}.detach()")


def _is_the_input(scope: Scope, node: ast.AST) -> bool:
    """``node`` is forward()'s input as it came in (no assignment to its name before this line)."""
    params = [a.arg for a in scope.node.args.args[1:]]
    if not params or not (isinstance(node, ast.Name) and node.id == params[0]):
        return False
    assigned = [n.lineno for n in ast.walk(scope.node) if isinstance(n, ast.Name) and n.id == node.id
                and isinstance(n.ctx, ast.Store)]
    return not assigned or node.lineno <= min(assigned)


def _literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


@operator("no_grad_inserted", "a step of forward() (or of a by-hand function) run under torch.no_grad()")
def _no_grad_inserted(ctx):
    if not ctx.has_torch:
        return
    for scope in ctx.scopes:
        if not (scope.is_forward or (scope.by_hand and scope.owner is None)):
            continue
        for statement in scope.node.body:
            if (isinstance(statement, (ast.Assign, ast.Return)) and statement.value is not None
                    and statement.lineno == statement.end_lineno and not _literal(statement.value)):
                indent = ctx.source.indent_of(statement)
                text = f"with torch.no_grad():\n{indent}    {ctx.source.segment(statement)}"
                yield replace(ctx, statement, text)


@operator("no_grad_removed", "torch.no_grad() left out (torch.enable_grad() in its place)")
def _no_grad_removed(ctx):
    for _, node in ctx.nodes(ast.With):
        for item in node.items:
            call = item.context_expr
            if isinstance(call, ast.Call) and library_call(call) in ("no_grad", "inference_mode"):
                yield replace(ctx, call, f"{prefix_of(call)}enable_grad()")


# ----------------------------------------------------------------- normalisation

@operator("variance_bias_flipped", "the biased variance where the unbiased one is due, or the other way round")
def _variance_bias_flipped(ctx):
    for _, call in ctx.calls():
        if (method_call(call) or library_call(call)) not in ("var", "std", "var_mean", "std_mean"):
            continue
        unbiased, correction = keyword(call, "unbiased"), keyword(call, "correction")
        if unbiased is not None and isinstance(unbiased.value, ast.Constant):
            yield replace(ctx, unbiased.value, str(not unbiased.value.value))
        elif correction is not None and is_number(correction.value):
            yield replace(ctx, correction.value, "0" if correction.value.value else "1")
        else:
            yield with_keyword(ctx, call, "unbiased", "False")


NORM_CONSTANTS = {"eps": lambda v: v * 100, "momentum": lambda v: round(1 - v, 6)}


@operator("norm_constant_changed", "batch norm's eps a hundred times too large, or momentum in the other convention (1 - m)")
def _norm_constant_changed(ctx):
    found = []
    for scope in ctx.scopes:
        arguments = scope.node.args
        positional = arguments.posonlyargs + arguments.args
        pairs = list(zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults))
        pairs += [(a, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults) if d is not None]
        found += [(arg.arg, default) for arg, default in pairs if arg.arg in NORM_CONSTANTS]
    for _, call in ctx.calls():
        found += [(k.arg, k.value) for k in call.keywords if k.arg in NORM_CONSTANTS]
    for name, value in sorted(found, key=lambda item: (item[1].lineno, item[1].col_offset)):
        if is_number(value) and value.value > 0:
            yield replace(ctx, value, repr(NORM_CONSTANTS[name](value.value)))


# ----------------------------------------------------------------- training code

def _calls_method(statement: ast.stmt, names: Sequence[str]) -> bool:
    """``<anything>.<name>(...)`` as a statement of its own."""
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Attribute) and statement.value.func.attr in names)


@operator("zero_grad_removed", "the gradients never zeroed: zero_grad() (or p.grad.zero_()) left out")
def _zero_grad_removed(ctx):
    for _, statement in ctx.nodes(ast.Expr):
        if _calls_method(statement, ("zero_grad", "zero_")):
            yield remove_statement(ctx, statement)


def _adjacent(ctx: Context, first_names, second_names) -> Iterator[Edit]:
    for _, block in ctx.statement_lists():
        for first, second in zip(block, block[1:]):
            if ((_calls_method(first, first_names) and _calls_method(second, second_names))
                    or (_calls_method(first, second_names) and _calls_method(second, first_names))):
                yield swap(ctx, first, second)


@operator("step_backward_swapped", "optimizer.step() before loss.backward()")
def _step_backward_swapped(ctx):
    yield from _adjacent(ctx, ("backward",), ("step",))


@operator("zero_grad_misplaced", "zero_grad() after backward(): the gradients are wiped before the step")
def _zero_grad_misplaced(ctx):
    yield from _adjacent(ctx, ("zero_grad",), ("backward",))


@operator("optimizer_step_removed", "optimizer.step() left out: nothing learns")
def _step_removed(ctx):
    for _, statement in ctx.nodes(ast.Expr):
        if _calls_method(statement, ("step",)):
            yield remove_statement(ctx, statement)


@operator("backward_removed", "backward() left out: no gradient is computed")
def _backward_removed(ctx):
    for _, statement in ctx.nodes(ast.Expr):
        if _calls_method(statement, ("backward",)):
            yield remove_statement(ctx, statement)


@operator("mode_switch_removed", "model.eval() or model.train() left out")
def _mode_switch_removed(ctx):
    for _, statement in ctx.nodes(ast.Expr):
        if _calls_method(statement, ("eval", "train")) and not statement.value.args:
            yield remove_statement(ctx, statement)


@operator("training_flag_ignored", "an `if ... .training` test taken as always true: train-mode behaviour in eval mode")
def _training_flag_ignored(ctx):
    for _, node in ctx.nodes(ast.If):
        for sub in ast.walk(node.test):
            if isinstance(sub, ast.Attribute) and sub.attr == "training" and isinstance(sub.ctx, ast.Load):
                yield replace(ctx, sub, "True")


@operator("update_sign_flipped", "a gradient step taken uphill: p += lr * p.grad")
def _update_sign_flipped(ctx):
    for _, node in ctx.nodes(ast.AugAssign):
        mentions_grad = any(isinstance(n, ast.Attribute) and n.attr == "grad" for n in ast.walk(node.value))
        if mentions_grad and isinstance(node.op, (ast.Sub, ast.Add)):
            start = ctx.source.span(node.target)[1]
            end = ctx.source.span(node.value)[0]
            between = ctx.source.data[start:end].decode("utf-8")
            new = between.replace("-=", "+=") if isinstance(node.op, ast.Sub) else between.replace("+=", "-=")
            yield Edit(((start, end, new),))
