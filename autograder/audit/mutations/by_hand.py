"""Mutation operators for code written by hand: loop bounds, slices, off-by-one sizes, integer
division, comparisons, the numbers of a formula, and a by-hand exercise handed to the library op
it stands in for.

Each operator edits only the graded scopes (see ``core``) and yields its sites in file order;
``OPERATORS`` lists them in the order they run. ``number_changed`` leaves alone the literals that
the other families own, so one mistake makes one mutant.
"""

from __future__ import annotations

import ast

from .core import Edit, Operator, dotted, expression_text, is_number, library_call, registrar, replace
from .dropout import DROPOUT_FUNCTIONS, DROPOUT_MODULES
from .layers import LAYER_CLASSES, layer_numbers

OPERATORS: list[Operator] = []
operator = registrar(OPERATORS)


@operator("range_off_by_one", "a loop's range one short or one long")
def _range_off_by_one(ctx):
    for _, call in ctx.calls():
        if dotted(call.func) == "range" and call.args and not call.keywords:
            stop = call.args[0] if len(call.args) == 1 else call.args[1]
            text = expression_text(ctx, stop)
            yield replace(ctx, stop, f"{text} - 1")
            yield replace(ctx, stop, f"{text} + 1")


@operator("slice_off_by_one", "a slice's end one short or one long (a window of the wrong size)")
def _slice_off_by_one(ctx):
    for _, node in ctx.nodes(ast.Slice):
        if node.upper is not None and node.lower is not None:
            text = expression_text(ctx, node.upper)
            yield replace(ctx, node.upper, f"{text} - 1")
            yield replace(ctx, node.upper, f"{text} + 1")


@operator("plus_minus_one_dropped", "a `+ 1` or `- 1` left out (an output size, a count)")
def _plus_minus_one_dropped(ctx):
    for _, node in ctx.nodes(ast.BinOp):
        if isinstance(node.op, (ast.Add, ast.Sub)) and is_number(node.right) and node.right.value == 1:
            yield replace(ctx, node, expression_text(ctx, node.left))


@operator("padding_off_by_one", "the padding one too large where a by-hand computation uses it")
def _padding_off_by_one(ctx):
    for _, node in ctx.nodes(ast.BinOp):
        for side in (node.left, node.right):
            if isinstance(side, ast.Name) and side.id == "padding":
                yield replace(ctx, side, "(padding + 1)")


@operator("true_division", "`//` written as `/`: a float where an integer size is due")
def _true_division(ctx):
    for _, node in ctx.nodes(ast.BinOp):
        if isinstance(node.op, ast.FloorDiv):
            start = ctx.source.span(node.left)[1]
            end = ctx.source.span(node.right)[0]
            between = ctx.source.data[start:end].decode("utf-8")
            yield Edit(((start, end, between.replace("//", "/", 1)),))


@operator("comparison_boundary_shifted", "a comparison's boundary moved: >= for >, < for <= and so on")
def _comparison_boundary_shifted(ctx):
    shifted = {ast.GtE: ">", ast.Gt: ">=", ast.LtE: "<", ast.Lt: "<="}
    words = {ast.GtE: ">=", ast.Gt: ">", ast.LtE: "<=", ast.Lt: "<"}
    for _, node in ctx.nodes(ast.Compare):
        if len(node.ops) == 1 and type(node.ops[0]) in shifted:
            start = ctx.source.span(node.left)[1]
            end = ctx.source.span(node.comparators[0])[0]
            between = ctx.source.data[start:end].decode("utf-8")
            op = type(node.ops[0])
            yield Edit(((start, end, between.replace(words[op], shifted[op], 1)),))


# literals other operators own: a layer's sizes, dims, dropout's p, range() bounds, eps and momentum
OWNED_KEYWORDS = {"dim", "keepdim", "p", "eps", "momentum", "unbiased", "correction", "padding", "stride"}


@operator("number_changed", "a number in the code one more (an integer) or doubled (a float): a constant of a formula, "
                            "an index, a learning rate or a step count")
def _number_changed(ctx):
    owned = {id(node) for node in layer_numbers(ctx)}
    for _, call in ctx.calls():
        if dotted(call.func) == "range" or library_call(call) in (DROPOUT_FUNCTIONS | DROPOUT_MODULES | LAYER_CLASSES):
            owned.update(id(n) for n in ast.walk(call))
        for kw in call.keywords:
            if kw.arg in OWNED_KEYWORDS:
                owned.update(id(n) for n in ast.walk(kw.value))
    for scope in ctx.scopes:
        defaults = scope.node.args.defaults + [d for d in scope.node.args.kw_defaults if d is not None]
        owned.update(id(n) for d in defaults for n in ast.walk(d))
    for _, node in ctx.nodes(ast.Constant):
        if id(node) in owned or type(node.value) not in (int, float):
            continue
        if type(node.value) is int:
            yield replace(ctx, node, str(node.value + 1))
        elif node.value != 0:
            yield replace(ctx, node, repr(node.value * 2))


# What a by-hand exercise stands in for: a student who calls it instead of writing it.
LIBRARY_EQUIVALENTS = {
    "max_pool2d": "torch.nn.functional.max_pool2d({0}, {1}, {2})",
    "avg_pool2d": "torch.nn.functional.avg_pool2d({0}, {1}, {2})",
    "max_pool1d": "torch.nn.functional.max_pool1d({0}, {1}, {2})",
    "avg_pool1d": "torch.nn.functional.avg_pool1d({0}, {1}, {2})",
    "conv1d": "torch.nn.functional.conv1d({0}, {1}, stride={stride}, padding={padding})",
    "conv2d": "torch.nn.functional.conv2d({0}, {1}, stride={stride}, padding={padding})",
    "softmax": "torch.softmax({0}, dim=1)",
    "log_softmax": "torch.log_softmax({0}, dim=1)",
    "cross_entropy": "torch.nn.functional.cross_entropy({0}, {1})",
    "relu": "torch.relu({0})",
}
LIBRARY_MODULES = {
    "dropout": "torch.nn.functional.dropout({0}, self.p, self.training)",
    "batchnorm": ("torch.nn.functional.batch_norm({0}, self.running_mean, self.running_var, self.weight, "
                  "self.bias, self.training, self.momentum, self.eps)"),
}


@operator("library_op_in_by_hand", "a by-hand exercise handed to the library op it replaces (e.g. F.max_pool2d in max_pool2d)")
def _library_op_in_by_hand(ctx):
    if not ctx.has_torch:
        return
    for scope in ctx.scopes:
        if not scope.by_hand or scope.node.name.startswith("_"):
            continue
        params = [a.arg for a in scope.node.args.args]
        if scope.owner is None:
            template = LIBRARY_EQUIVALENTS.get(scope.node.name)
            names = params
        elif scope.is_forward:
            owner = scope.owner.lower()
            template = next((t for key, t in LIBRARY_MODULES.items() if key in owner), None)
            names = params[1:]
        else:
            continue
        if template is None or not names:
            continue
        named = {name: name for name in params}
        named.setdefault("stride", "1")
        named.setdefault("padding", "0")
        try:
            call = template.format(*names, *["None"] * 3, **named)
        except (IndexError, KeyError):
            continue
        body = scope.node.body
        first = body[1] if (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                            and len(body) > 1) else body[0]
        start = ctx.source.span(first)[0]
        end = ctx.source.span(body[-1])[1]
        indent = ctx.source.indent_of(first)
        # the rest of the body stays, unreachable, so the file still reads as the student's
        yield Edit(((start, start, f"return {call}\n{indent}"),)) if end > start else None
