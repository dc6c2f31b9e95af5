"""Mutation operators for dropout: left out, its probability changed, left on in eval mode, unscaled.

Each operator edits only the graded scopes (see ``core``) and yields its sites in file order;
``OPERATORS`` lists them in the order they run.
"""

from __future__ import annotations

import ast
import copy

from .core import (Operator, argument, drop_keyword, expression_text, is_number, keyword, library_call,
                   prefix_of, registrar, replace, with_keyword)

OPERATORS: list[Operator] = []
operator = registrar(OPERATORS)


DROPOUT_FUNCTIONS = {"dropout", "dropout2d", "dropout1d", "alpha_dropout", "feature_alpha_dropout"}
DROPOUT_MODULES = {"Dropout", "Dropout1d", "Dropout2d", "AlphaDropout"}


@operator("dropout_removed", "a dropout left out (F.dropout's input passed on, nn.Identity() for nn.Dropout)")
def _dropout_removed(ctx):
    for _, call in ctx.calls():
        name = library_call(call)
        if name in DROPOUT_FUNCTIONS and call.args:
            yield replace(ctx, call, expression_text(ctx, call.args[0]))
        elif name in DROPOUT_MODULES:
            yield replace(ctx, call, f"{prefix_of(call)}Identity()")


@operator("dropout_p_changed", "a dropout's probability halved (0.25 where it was left at its default)")
def _dropout_p_changed(ctx):
    for _, call in ctx.calls():
        name = library_call(call)
        if name in DROPOUT_MODULES:
            p = argument(call, "p", 0)
        elif name in DROPOUT_FUNCTIONS:
            p = argument(call, "p", 1)
        else:
            continue
        if p is None:
            yield with_keyword(ctx, call, "p", "0.25")
        elif is_number(p) and p.value > 0:
            yield replace(ctx, p, repr(p.value / 2))


@operator("dropout_training_dropped", "F.dropout without training=self.training: dropout stays on in eval mode")
def _dropout_training_dropped(ctx):
    for _, call in ctx.calls():
        if library_call(call) in DROPOUT_FUNCTIONS:
            given = keyword(call, "training")
            if given is not None:
                yield drop_keyword(ctx, call, given)
            elif len(call.args) >= 3:
                new = copy.deepcopy(call)
                new.args = new.args[:2]
                yield replace(ctx, call, ast.unparse(new))


def _one_minus(node: ast.AST) -> bool:
    return (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and is_number(node.left)
            and node.left.value == 1)


@operator("dropout_scaling_dropped", "inverted dropout's 1/(1 - p) scaling of the survivors left out")
def _dropout_scaling_dropped(ctx):
    for _, node in ctx.nodes(ast.BinOp):
        if isinstance(node.op, ast.Div) and _one_minus(node.right):
            yield replace(ctx, node, expression_text(ctx, node.left))
        elif (isinstance(node.op, ast.Mult) and isinstance(node.right, ast.BinOp) and isinstance(node.right.op, ast.Div)
              and is_number(node.right.left) and node.right.left.value == 1 and _one_minus(node.right.right)):
            yield replace(ctx, node, expression_text(ctx, node.left))
