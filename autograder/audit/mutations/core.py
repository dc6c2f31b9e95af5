"""The machinery every mutation operator shares: what a mutant and an edit are, where edits may go.

``Source`` holds the reference's text with byte offsets for its AST positions; ``graded_scopes``
finds the functions and methods the checks reach, and ``Context`` walks only those, always in file
order, so every operator finds its sites in the same order on every machine. An ``Edit`` replaces
byte spans of the original text and never rewrites anything outside them. The small helpers below
name torch calls the way the operators match them and build the edits they make.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from ...wire.definitions import dotted

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


def registrar(family: list[Operator]) -> Callable:
    """The decorator of one family of operators: ``@operator(name, summary)`` on ``find(ctx)``,
    which yields one Edit per mutant, appends the operator ``name`` to ``family``."""
    def operator(name: str, summary: str):
        def register(find):
            family.append(Operator(name, summary, find))
            return find
        return register
    return operator


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
            # ties (nested calls that start at the same place) keep the order found: scope, then ast.walk's
            for node in ast.walk(scope.node):
                if isinstance(node, kind) and hasattr(node, "lineno"):
                    found.append((node.lineno, node.col_offset, len(found), scope, node))
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
