"""Mutation operators for deep-learning code: the mistakes students make, made on purpose.

``autograder audit`` edits an assignment's reference solution with each operator
below, one edit per mutant, and grades the mutants: a check that lets a broken
network through shows up as a surviving mutant. Every operator is a small,
documented edit of the source found with Python's ``ast`` module, and it is
applied only inside what the assignment grades: the classes and functions its
checks name in grading.toml, and the module-level helpers those call. Script
code (``main()``, a training loop the checks never run) is left alone, since no
check could notice a change there.

An edit replaces spans of the original text (everything else, comments
included, stays as written), so a mutant's diff is one or two lines; every
mutant is compiled before it is kept, and two operators that make the same file
make one mutant. Mutants come out in a fixed order (operator, then position),
so a seed and ``sample`` pick the same ones on every machine.
"""

from __future__ import annotations

import ast
import bisect
import copy
import random
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

# ----------------------------------------------------------------- what a mutant is


@dataclass(frozen=True)
class Mutant:
    """One edited copy of the reference solution."""

    id: str            # "<operator>-<n>": n counts the operator's sites in file order
    operator: str
    line: int          # first line changed (1-based)
    before: str        # the changed lines of the reference, on one line
    after: str         # the same lines in the mutant, on one line
    source: str

    @property
    def diff(self) -> str:
        return f"line {self.line}: {self.before or '(new line)'} → {self.after or '(removed)'}"


@dataclass(frozen=True)
class Edit:
    """Replacements of byte spans of the source: ((start, end, new text), ...), never overlapping."""

    replacements: tuple[tuple[int, int, str], ...]


@dataclass(frozen=True)
class Operator:
    name: str
    summary: str
    find: Callable[["Context"], Iterator[Edit]]


OPERATORS: list[Operator] = []


def operator(name: str, summary: str):
    """Register ``find(ctx)``, which yields one Edit per mutant, as the operator ``name``."""
    def register(find):
        OPERATORS.append(Operator(name, summary, find))
        return find
    return register


def operator_names() -> list[str]:
    return [op.name for op in OPERATORS]


# ----------------------------------------------------------------- the source and its graded scopes

class Source:
    """The reference's text with byte offsets for its AST positions (``ast`` counts columns in UTF-8 bytes)."""

    def __init__(self, text: str, filename: str = "<reference>") -> None:
        self.text = text
        self.filename = filename
        self.data = text.encode("utf-8")
        self.tree = ast.parse(text, filename=filename)
        self.line_starts = [0]
        for index, byte in enumerate(self.data):
            if byte == 0x0A:
                self.line_starts.append(index + 1)

    def offset(self, lineno: int, col: int) -> int:
        return self.line_starts[lineno - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset))

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.data[start:end].decode("utf-8")

    def indent_of(self, node: ast.stmt) -> str:
        start = self.line_starts[node.lineno - 1]
        return self.data[start:start + node.col_offset].decode("utf-8")


@dataclass
class Scope:
    """A graded function or method: where operators may edit."""

    node: ast.FunctionDef
    owner: str | None           # the class it belongs to, or None for a module-level function
    by_hand: bool               # a check grades it "by hand" (allowed_ops): library ops are the mistake

    @property
    def is_forward(self) -> bool:
        return self.owner is not None and self.node.name == "forward"


class Context:
    def __init__(self, source: Source, scopes: list[Scope], classes: dict[str, ast.ClassDef]) -> None:
        self.source = source
        self.scopes = scopes
        self.classes = classes
        bound = set()
        for node in source.tree.body:
            if isinstance(node, ast.Import):
                bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        self.has_torch = "torch" in bound

    def nodes(self, kind=ast.AST, forward_only: bool = False) -> Iterator[tuple[Scope, ast.AST]]:
        """Every node of ``kind`` in the graded scopes, in file order (each once)."""
        found = []
        for scope in self.scopes:
            if forward_only and not scope.is_forward:
                continue
            for node in ast.walk(scope.node):
                if isinstance(node, kind) and hasattr(node, "lineno"):
                    found.append((node.lineno, node.col_offset, id(node), scope, node))
        for *_, scope, node in sorted(found, key=lambda item: item[:3]):
            yield scope, node

    def calls(self, forward_only: bool = False) -> Iterator[tuple[Scope, ast.Call]]:
        yield from self.nodes(ast.Call, forward_only)

    def statement_lists(self, forward_only: bool = False) -> Iterator[tuple[Scope, list[ast.stmt]]]:
        """Every block of statements in the graded scopes (function bodies, loop and if bodies, ...)."""
        for scope in self.scopes:
            if forward_only and not scope.is_forward:
                continue
            for node in ast.walk(scope.node):
                for field in ("body", "orelse", "finalbody"):
                    block = getattr(node, field, None)
                    if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                        yield scope, block


def graded_scopes(tree: ast.Module, names: Iterable[str], by_hand: Iterable[str] = ()) -> tuple[list[Scope], dict]:
    """The functions and methods the checks reach: the named classes and functions, their base
    classes, and every module-level function or class they use, followed to the end."""
    top: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top[node.name] = node
    wanted = [name for name in names if name in top]
    seen: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        for sub in ast.walk(top[name]):
            if isinstance(sub, ast.Name) and sub.id in top and sub.id not in seen:
                wanted.append(sub.id)
    hand = set(by_hand)
    scopes: list[Scope] = []
    for node in tree.body:                      # file order
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name not in seen:
            continue
        if isinstance(node, ast.FunctionDef):
            scopes.append(Scope(node, None, node.name in hand))
            continue
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                scopes.append(Scope(item, node.name, node.name in hand))
    classes = {name: node for name, node in top.items() if isinstance(node, ast.ClassDef)}
    return scopes, classes


# ----------------------------------------------------------------- small helpers for operators

TORCH_PREFIXES = {"torch", "nn", "F", "torch.nn", "torch.nn.functional", "functional", "torch.Tensor"}


def dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def library_call(call: ast.Call) -> str | None:
    """``relu`` for ``F.relu(...)``, ``torch.relu(...)``, ``nn.ReLU(...)``; None for anything else."""
    name = dotted(call.func)
    if name and "." in name:
        prefix, _, tail = name.rpartition(".")
        if prefix in TORCH_PREFIXES:
            return tail
    return None


def prefix_of(call: ast.Call) -> str:
    """``nn.`` of ``nn.ReLU()``, ``torch.nn.`` of ``torch.nn.ReLU()``: to name a sibling the same way."""
    name = dotted(call.func) or ""
    return name.rpartition(".")[0] + "."


def method_call(call: ast.Call) -> str | None:
    """``sum`` for ``x.sum(...)`` where x is not a torch module."""
    if isinstance(call.func, ast.Attribute) and library_call(call) is None:
        return call.func.attr
    return None


def is_self_call(call: ast.Call) -> bool:
    """``self.conv1(x)``: a layer the module holds."""
    func = call.func
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self"


def is_int(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def is_number(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant, ast.List, ast.Tuple, ast.Dict)


def expression_text(ctx: Context, node: ast.expr) -> str:
    """``node`` as written, in parentheses unless it is an atom, so it can stand anywhere."""
    text = ctx.source.segment(node)
    return text if isinstance(node, ATOMS) else f"({text})"


def replace(ctx: Context, node: ast.AST, text: str) -> Edit:
    start, end = ctx.source.span(node)
    return Edit(((start, end, text),))


def keyword(call: ast.Call, name: str) -> ast.keyword | None:
    return next((k for k in call.keywords if k.arg == name), None)


def argument(call: ast.Call, name: str, position: int | None) -> ast.expr | None:
    """The argument ``name`` of a call, given by keyword or at ``position``."""
    given = keyword(call, name)
    if given is not None:
        return given.value
    if position is not None and position < len(call.args) and not isinstance(call.args[position], ast.Starred):
        return call.args[position]
    return None


def drop_keyword(ctx: Context, call: ast.Call, kw: ast.keyword) -> Edit:
    """The call without one keyword argument (rewritten from the tree: the call is one expression)."""
    new = copy.deepcopy(call)
    new.keywords = [k for k in new.keywords if not (k.arg == kw.arg)]
    return replace(ctx, call, ast.unparse(new))


def with_keyword(ctx: Context, call: ast.Call, name: str, value: str) -> Edit:
    new = copy.deepcopy(call)
    new.keywords = [k for k in new.keywords if k.arg != name] + [ast.keyword(name, ast.parse(value, mode="eval").body)]
    return replace(ctx, call, ast.unparse(new))


def remove_statement(ctx: Context, statement: ast.stmt) -> Edit:
    return replace(ctx, statement, "pass")


def swap(ctx: Context, first: ast.AST, second: ast.AST) -> Edit:
    a, b = ctx.source.span(first), ctx.source.span(second)
    return Edit(((a[0], a[1], ctx.source.segment(second)), (b[0], b[1], ctx.source.segment(first))))


def sequential_elements(ctx: Context) -> Iterator[tuple[ast.Call, list[ast.expr]]]:
    """Each ``nn.Sequential(a, b, ...)`` in the graded scopes, with its layers."""
    for _, call in ctx.calls():
        if library_call(call) == "Sequential" and len(call.args) >= 2 and not call.keywords:
            yield call, call.args


def remove_element(ctx: Context, elements: list[ast.expr], index: int) -> Edit:
    """Drop one argument of a call with its comma (and a comment that ends its line)."""
    start, end = ctx.source.span(elements[index])
    if index + 1 < len(elements):
        end = ctx.source.span(elements[index + 1])[0]
    else:
        start = ctx.source.span(elements[index - 1])[1]
    return Edit(((start, end, ""),))


def sites(items: Iterable[Edit | None]) -> Iterator[Edit]:
    for item in items:
        if item is not None:
            yield item


# ----------------------------------------------------------------- layers and their numbers

LAYER_CLASSES = {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d", "Linear", "Bilinear", "MaxPool1d", "MaxPool2d",
                 "AvgPool1d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Embedding", "LSTM", "GRU", "RNN"}
LAYER_FUNCTIONS = {"max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "conv1d", "conv2d"}
NOT_SIZES = {"bias", "inplace", "ceil_mode", "count_include_pad", "return_indices", "affine",
             "track_running_stats", "dim", "batch_first", "eps", "momentum", "dilation", "groups"}
PADDING_POSITION = {"Conv1d": 4, "Conv2d": 4, "Conv3d": 4, "MaxPool1d": 2, "MaxPool2d": 2, "AvgPool1d": 2,
                    "AvgPool2d": 2, "max_pool2d": 3, "avg_pool2d": 3, "conv2d": 4, "conv1d": 4}


def _layer_numbers(ctx: Context) -> Iterator[ast.Constant]:
    """The integer literals that size a layer: channels, features, kernel size, stride, padding."""
    for _, call in ctx.calls():
        name = library_call(call)
        if name not in LAYER_CLASSES and name not in LAYER_FUNCTIONS:
            continue
        given = list(call.args[1:] if name in LAYER_FUNCTIONS else call.args)
        given += [k.value for k in call.keywords if k.arg not in NOT_SIZES]
        for value in given:
            for node in ast.walk(value):
                if is_int(node):
                    yield node


@operator("layer_number_plus_one", "a layer's size (channels, features, kernel size, stride or padding) one more")
def _plus_one(ctx):
    for node in _layer_numbers(ctx):
        yield replace(ctx, node, str(node.value + 1))


@operator("layer_number_minus_one", "a layer's size one less (never below 0)")
def _minus_one(ctx):
    for node in _layer_numbers(ctx):
        if node.value >= 1:
            yield replace(ctx, node, str(node.value - 1))


@operator("layer_number_doubled", "a layer's size (channels, features, kernel size, stride or padding) doubled")
def _doubled(ctx):
    for node in _layer_numbers(ctx):
        if node.value >= 2:
            yield replace(ctx, node, str(node.value * 2))


@operator("layer_padding_zeroed", "a layer's padding forgotten (padding=0), as when a 32x32 architecture meets 28x28 images")
def _padding_zeroed(ctx):
    for _, call in ctx.calls():
        name = library_call(call)
        value = argument(call, "padding", PADDING_POSITION.get(name)) if name in PADDING_POSITION else None
        if value is not None and is_int(value) and value.value > 0:
            yield replace(ctx, value, "0")


# ----------------------------------------------------------------- activations and pooling

ACTIVATION_FUNCTIONS = {"relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu", "relu6", "silu", "softplus", "selu"}
ACTIVATION_MODULES = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "GELU": "gelu", "ELU": "elu",
                      "LeakyReLU": "leaky_relu", "ReLU6": "relu6", "SiLU": "silu", "Softplus": "softplus",
                      "SELU": "selu"}
MODULE_OF = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def _activations(ctx: Context) -> Iterator[tuple[ast.Call, str, bool]]:
    """(call, activation, is a module like nn.ReLU()) for each activation in the graded code."""
    for _, call in ctx.calls():
        name = library_call(call)
        if name in ACTIVATION_FUNCTIONS and call.args:
            yield call, name, False
        elif name in ACTIVATION_MODULES:
            yield call, ACTIVATION_MODULES[name], True


def _activation_edit(ctx: Context, call: ast.Call, module: bool, new: str | None) -> Edit:
    """The activation replaced by ``new`` (relu, tanh, sigmoid) or by nothing (None)."""
    if module:
        return replace(ctx, call, f"{prefix_of(call)}{MODULE_OF[new] if new else 'Identity'}()")
    if new is None:
        return replace(ctx, call, expression_text(ctx, call.args[0]))
    return replace(ctx, call, f"torch.{new}({ctx.source.segment(call.args[0])})")


@operator("activation_swapped", "the activation swapped: ReLU for tanh, tanh (or any other) for ReLU")
def _activation_swapped(ctx):
    if ctx.has_torch:
        for call, name, module in _activations(ctx):
            yield _activation_edit(ctx, call, module, "tanh" if name == "relu" else "relu")


@operator("activation_to_sigmoid", "the activation replaced by a sigmoid")
def _activation_to_sigmoid(ctx):
    if ctx.has_torch:
        for call, name, module in _activations(ctx):
            if name != "sigmoid":
                yield _activation_edit(ctx, call, module, "sigmoid")


@operator("activation_removed", "the activation left out (the identity): stacked layers collapse into one linear map")
def _activation_removed(ctx):
    for call, _, module in _activations(ctx):
        yield _activation_edit(ctx, call, module, None)


POOL_SWAPS = {"max_pool1d": "avg_pool1d", "avg_pool1d": "max_pool1d", "max_pool2d": "avg_pool2d",
              "avg_pool2d": "max_pool2d", "adaptive_max_pool2d": "adaptive_avg_pool2d",
              "adaptive_avg_pool2d": "adaptive_max_pool2d", "MaxPool1d": "AvgPool1d", "AvgPool1d": "MaxPool1d",
              "MaxPool2d": "AvgPool2d", "AvgPool2d": "MaxPool2d", "AdaptiveMaxPool2d": "AdaptiveAvgPool2d",
              "AdaptiveAvgPool2d": "AdaptiveMaxPool2d"}


@operator("pooling_swapped", "max pooling swapped for average pooling, or the other way round")
def _pooling_swapped(ctx):
    for _, call in ctx.calls():
        name = library_call(call)
        if name in POOL_SWAPS:
            new = copy.deepcopy(call)
            new.func.attr = POOL_SWAPS[name]
            new.keywords = [k for k in new.keywords if k.arg not in ("return_indices", "dilation",
                                                                     "count_include_pad", "divisor_override")]
            yield replace(ctx, call, ast.unparse(new))


@operator("pooling_removed", "a pooling layer left out (nn.Identity() in its place, or its input passed on)")
def _pooling_removed(ctx):
    for _, call in ctx.calls():
        name = library_call(call)
        if name in POOL_SWAPS and name[0].isupper():
            yield replace(ctx, call, f"{prefix_of(call)}Identity()")
        elif name in POOL_SWAPS and call.args:
            yield replace(ctx, call, expression_text(ctx, call.args[0]))


# ----------------------------------------------------------------- the layers forward() uses

@operator("layer_call_removed", "a layer left out of forward() (or out of an nn.Sequential)")
def _layer_call_removed(ctx):
    for _, call in ctx.calls(forward_only=True):
        if is_self_call(call) and len(call.args) == 1 and not call.keywords:
            yield replace(ctx, call, expression_text(ctx, call.args[0]))
    for _, elements in sequential_elements(ctx):
        for index in range(len(elements)):
            yield remove_element(ctx, elements, index)


LAYERISH = ACTIVATION_FUNCTIONS | set(POOL_SWAPS) | {"dropout", "dropout2d", "flatten"}


def _layerish(call: ast.AST) -> bool:
    return isinstance(call, ast.Call) and bool(call.args) and (
        is_self_call(call) or library_call(call) in LAYERISH)


@operator("layer_calls_swapped", "two layers swapped in forward(): adjacent steps, nested calls, or nn.Sequential items")
def _layer_calls_swapped(ctx):
    for _, block in ctx.statement_lists(forward_only=True):
        for first, second in zip(block, block[1:]):
            if (isinstance(first, ast.Assign) and isinstance(second, ast.Assign)
                    and ast.dump(first.targets[0]) == ast.dump(second.targets[0])
                    and ctx.source.segment(first.value) != ctx.source.segment(second.value)):
                yield swap(ctx, first.value, second.value)
    for _, call in ctx.calls(forward_only=True):
        inner = call.args[0] if _layerish(call) else None
        if _layerish(inner) and ast.dump(inner.func) != ast.dump(call.func):
            outer = copy.deepcopy(call)
            outer.args[0] = copy.deepcopy(inner.args[0])
            swapped = copy.deepcopy(inner)
            swapped.args[0] = outer
            yield replace(ctx, call, ast.unparse(swapped))
    for _, elements in sequential_elements(ctx):
        for first, second in zip(elements, elements[1:]):
            if ctx.source.segment(first) != ctx.source.segment(second):
                yield swap(ctx, first, second)


# ----------------------------------------------------------------- dropout

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


# ----------------------------------------------------------------- the output layer and flattening

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


def _other_dim(value: int) -> int:
    return 0 if value != 0 else 1


@operator("softmax_dim_changed", "the (log-)softmax taken over the wrong dimension")
def _softmax_dim_changed(ctx):
    for call, dim, _ in _softmax_calls(ctx):
        if dim is None:
            yield with_keyword(ctx, call, "dim", "0")
        elif is_int(dim) or (isinstance(dim, ast.UnaryOp) and is_int(dim.operand)):
            value = ast.literal_eval(dim)
            yield replace(ctx, dim, str(_other_dim(value)))


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


# ----------------------------------------------------------------- gradients cut

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


# ----------------------------------------------------------------- losses and reductions

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
            yield replace(ctx, dim, str(_other_dim(ast.literal_eval(dim))))
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


# ----------------------------------------------------------------- by-hand loops and arithmetic

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
    owned = {id(node) for node in _layer_numbers(ctx)}
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


# ----------------------------------------------------------------- making and picking mutants


def _apply(data: bytes, edit: Edit) -> bytes:
    out = data
    for start, end, text in sorted(edit.replacements, key=lambda r: r[0], reverse=True):
        out = out[:start] + text.encode("utf-8") + out[end:]
    return out


def _without_comment(line: str) -> str:
    """A line of code without its trailing comment (a '#' inside quotes stays)."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:index]
    return line


def _one_line(lines: list[str]) -> str:
    kept = [_without_comment(line) for line in lines]
    text = " | ".join(" ".join(line.split()) for line in kept if line.strip())
    return text if len(text) <= 240 else text[:237] + "..."


def _line_starts(data: bytes) -> list[int]:
    return [0] + [index + 1 for index, byte in enumerate(data) if byte == 0x0A]


def _line_at(starts: list[int], offset: int) -> int:
    return bisect.bisect_right(starts, offset)


def _describe(source: Source, edit: Edit, mutated: bytes) -> tuple[int, str, str]:
    """The first changed line and the changed lines before and after, each on one line
    (lines the edit left as they were are not shown)."""
    start = min(r[0] for r in edit.replacements)
    end = max(r[1] for r in edit.replacements)
    growth = sum(len(r[2].encode("utf-8")) - (r[1] - r[0]) for r in edit.replacements)
    first = _line_at(source.line_starts, start)
    last = _line_at(source.line_starts, max(start, end - 1))
    after_last = _line_at(_line_starts(mutated), max(start, end + growth - 1))
    before = source.text.splitlines()[first - 1:last]
    after = mutated.decode("utf-8").splitlines()[first - 1:after_last]
    while before and after and before[0] == after[0]:
        before, after, first = before[1:], after[1:], first + 1
    while before and after and before[-1] == after[-1]:
        before, after = before[:-1], after[:-1]
    return first, _one_line(before), _one_line(after)


def mutants_of(text: str, names: Iterable[str], by_hand: Iterable[str] = (), *, filename: str = "<reference>",
               operators: Sequence[str] | None = None) -> list[Mutant]:
    """Every mutant the operators make of ``text`` inside the graded ``names`` (``by_hand``: those graded
    without library ops), in operator order, then file order. Mutants that do not compile, change
    nothing, or repeat an earlier one are left out."""
    source = Source(text, filename)
    scopes, classes = graded_scopes(source.tree, names, by_hand)
    ctx = Context(source, scopes, classes)
    wanted = set(operators) if operators else None
    if wanted is not None:
        unknown = sorted(wanted - set(operator_names()))
        if unknown:
            raise ValueError(f"unknown mutation operator(s): {', '.join(unknown)} (known: {', '.join(operator_names())})")
    seen = {source.data}
    mutants: list[Mutant] = []
    for op in OPERATORS:
        if wanted is not None and op.name not in wanted:
            continue
        count = 0
        for edit in sites(op.find(ctx)):
            mutated = _apply(source.data, edit)
            if mutated in seen:
                continue
            try:
                compile(mutated, filename, "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                continue
            seen.add(mutated)
            count += 1
            line, before, after = _describe(source, edit, mutated)
            mutants.append(Mutant(f"{op.name}-{count}", op.name, line, before, after, mutated.decode("utf-8")))
    return mutants


def hand_made(text: str, old: str, new: str, *, name: str = "hand_made", filename: str = "<reference>") -> Mutant:
    """A mutant written by hand: ``old`` (found exactly once in ``text``) replaced by ``new``."""
    if text.count(old) != 1:
        raise ValueError(f"{old!r} is found {text.count(old)} times in the reference, not once")
    source = Source(text, filename)
    start = len(text[:text.index(old)].encode("utf-8"))
    edit = Edit(((start, start + len(old.encode("utf-8")), new),))
    mutated = _apply(source.data, edit)
    compile(mutated, filename, "exec", dont_inherit=True)
    line, before, after = _describe(source, edit, mutated)
    return Mutant(name, name, line, before, after, mutated.decode("utf-8"))


def sample(mutants: Sequence[Mutant], limit: int | None, seed: int) -> list[Mutant]:
    """At most ``limit`` mutants spread evenly over the operators: each operator's mutants in an order
    drawn from ``seed``, then one from each operator in turn. The result keeps the mutants' order."""
    if limit is None or limit >= len(mutants):
        return list(mutants)
    rng = random.Random(f"autograder audit/{seed}")
    queues: dict[str, list[Mutant]] = {}
    for mutant in mutants:
        queues.setdefault(mutant.operator, []).append(mutant)
    for queue in queues.values():
        rng.shuffle(queue)
    order = list(queues)
    rng.shuffle(order)            # which operators get one more when the limit does not divide evenly
    chosen: set[str] = set()
    while len(chosen) < limit:
        for name in order:
            if queues[name] and len(chosen) < limit:
                chosen.add(queues[name].pop().id)
    return [mutant for mutant in mutants if mutant.id in chosen]
