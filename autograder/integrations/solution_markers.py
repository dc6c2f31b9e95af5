"""Put a reference solution into its stub, between nbgrader's solution markers.

``nbgrader generate_assignment`` replaces each region from ``### BEGIN
SOLUTION`` to ``### END SOLUTION`` with ``raise NotImplementedError()``,
indented as the BEGIN line. So the marked code is the stub (what students
get), with the solution's lines in regions where the stub leaves work to do:

- a function or method whose body (after its docstring) holds a TODO or
  ``NotImplementedError``: the lines that stub and solution share at the start
  (``super().__init__()``) and at the end stay; what lies between becomes a
  region holding the solution's lines. The stub's docstring stays: it states
  the task.
- any other statement holding a TODO (``HIDDEN = None  # TODO``): the whole
  statement becomes a region.
- a definition only the solution has (a helper such as ``_pool``): appended to
  a region that closes its scope, the nearest one before it if there is one,
  else the nearest after, so the released notebook shows no trace of it.
- a ``def`` or ``class`` line that differs (``class NetDropout(Net):``): the
  solution's, since the solution's code relies on it.

Both results are checked: the marked code (the reference) must define
everything the solution defines, and it and the code nbgrader releases must
be valid Python.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

from ..errors import AutograderError

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
TODO = re.compile(r"TODO|NotImplementedError")
# What nbgrader puts in place of a region (its default ClearSolutions.code_stub for Python).
RELEASED_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


class MarkingError(AutograderError):
    """The stub and the solution cannot be merged into a notebook with solution regions."""


@dataclass
class _Region:
    start: int                      # first stub line replaced (0-based)
    end: int                        # one past the last
    indent: str
    body: list[str]
    tail: list[list[str]] = field(default_factory=list)   # helpers appended after the body

    def lines(self) -> list[str]:
        out = [self.indent + BEGIN, *self.body]
        for block in self.tail:
            out.extend(block)
        return out + [self.indent + END]


@dataclass
class _Source:
    lines: list[str]
    tree: ast.Module

    @classmethod
    def parse(cls, lines: list[str], what: str) -> "_Source":
        text = "\n".join(lines) + "\n"
        try:
            return cls(text.split("\n")[:-1], ast.parse(text))
        except SyntaxError as exc:
            raise MarkingError(f"the {what} is not valid Python (line {exc.lineno}: {exc.msg})") from None

    def start(self, node: ast.stmt) -> int:
        """First line of a statement, its decorators included (0-based)."""
        return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1

    def end(self, node: ast.stmt) -> int:
        """One past its last line, counting comment lines that close its body (``# TODO: ...``)."""
        end = node.end_lineno
        own = _indent_width(self.lines[node.lineno - 1])
        question = end
        while question < len(self.lines):
            line = self.lines[question]
            if not line.strip():
                question += 1
                continue
            if line.lstrip().startswith("#") and _indent_width(line) > own:
                question += 1
                end = question
                continue
            break
        return end

    def header_end(self, node: ast.stmt) -> int:
        """One past the line holding the colon that ends a def or class line."""
        segment = "\n".join(self.lines[node.lineno - 1:node.end_lineno]) + "\n"
        depth = 0
        try:
            for token in tokenize.generate_tokens(io.StringIO(segment).readline):
                if token.type == tokenize.OP and token.string in "([{":
                    depth += 1
                elif token.type == tokenize.OP and token.string in ")]}":
                    depth -= 1
                elif token.type == tokenize.OP and token.string == ":" and depth == 0:
                    return node.lineno - 1 + token.start[0]
        except (tokenize.TokenError, IndentationError):
            pass
        return node.lineno

    def body_start(self, node: ast.stmt) -> int:
        """First line after the def line and the docstring."""
        first = node.body[0]
        if _is_docstring(first):
            return first.end_lineno
        return self.header_end(node)


def _indent_width(line: str) -> int:
    return len(line) - len(line.lstrip())


def _indent(line: str) -> str:
    return line[:_indent_width(line)]


def _is_docstring(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


def _key(node: ast.stmt) -> str | None:
    """What a statement defines, to pair the stub's statements with the solution's."""
    if isinstance(node, _DEFS):
        return node.name
    if isinstance(node, ast.Assign):
        names = sorted(n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name))
        return "=" + ",".join(names) if names else None
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return "=" + node.target.id
    return None


def _has_todo(lines: list[str]) -> bool:
    return any(TODO.search(line) for line in lines)


class _Marker:
    def __init__(self, stub: _Source, solution: _Source) -> None:
        self.stub, self.solution = stub, solution
        self.regions: list[_Region] = []
        self.headers: list[tuple[int, int, list[str]]] = []     # (start, end, solution's lines)

    # -------------------------------------------------------------- one scope (module or class body)

    def scope(self, stub_body: list[ast.stmt], solution_body: list[ast.stmt], where: str) -> None:
        pairs = {}
        for node in stub_body:
            key = _key(node)
            if key is not None:
                pairs.setdefault(key, node)
        placed = []       # (solution statement, stub statement it was paired with or None)
        for node in solution_body:
            key = _key(node)
            if key is None:
                continue
            twin = pairs.get(key)
            placed.append((node, twin))
            if twin is not None:
                self.pair(twin, node, f"{where}{key.lstrip('=')}")
        for number, (node, twin) in enumerate(placed):
            if twin is None:
                self.place_helper(node, placed, number, where)

    def pair(self, stub_node: ast.stmt, solution_node: ast.stmt, name: str) -> None:
        s, t = self.stub, self.solution
        if isinstance(stub_node, _DEFS) and type(stub_node) is type(solution_node):
            s_header = s.lines[stub_node.lineno - 1:s.header_end(stub_node)]
            t_header = t.lines[solution_node.lineno - 1:t.header_end(solution_node)]
            if [x.strip() for x in s_header] != [x.strip() for x in t_header]:
                self.headers.append((stub_node.lineno - 1, s.header_end(stub_node), t_header))
            if isinstance(stub_node, ast.ClassDef):
                self.scope(stub_node.body, solution_node.body, f"{name}.")
            else:
                self.function(stub_node, solution_node, name)
            return
        stub_lines = s.lines[s.start(stub_node):s.end(stub_node)]
        solution_lines = t.lines[t.start(solution_node):t.end(solution_node)]
        if _has_todo(stub_lines) and stub_lines != solution_lines:
            self.regions.append(_Region(s.start(stub_node), s.end(stub_node), _indent(stub_lines[0]),
                                        solution_lines))

    def function(self, stub_node: ast.stmt, solution_node: ast.stmt, name: str) -> None:
        s, t = self.stub, self.solution
        s0, s1 = s.body_start(stub_node), s.end(stub_node)
        t0, t1 = t.body_start(solution_node), t.end(solution_node)
        stub_body, solution_body = s.lines[s0:s1], t.lines[t0:t1]
        if not _has_todo(stub_body) or stub_body == solution_body:
            return
        if stub_node.body[0].lineno == stub_node.lineno:
            raise MarkingError(f"{name} in the stub has its body on the def line: put it on lines of its own")
        prefix = 0
        while (prefix < min(len(stub_body), len(solution_body))
               and stub_body[prefix] == solution_body[prefix] and not TODO.search(stub_body[prefix])):
            prefix += 1
        suffix = 0
        while (suffix < min(len(stub_body), len(solution_body)) - prefix
               and stub_body[-1 - suffix] == solution_body[-1 - suffix]
               and not TODO.search(stub_body[-1 - suffix])):
            suffix += 1
        replaced = stub_body[prefix:len(stub_body) - suffix]
        written = solution_body[prefix:len(solution_body) - suffix]
        first = next((line for line in replaced if line.strip()), None) or \
            next((line for line in written if line.strip()), "")
        self.regions.append(_Region(s0 + prefix, s1 - suffix, _indent(first), written))

    # -------------------------------------------------------------- helpers only the solution has

    def place_helper(self, node: ast.stmt, placed: list, number: int, where: str) -> None:
        t = self.solution
        block = t.lines[t.start(node):t.end(node)]
        gap = [""] if where else ["", ""]
        before = [twin for _, twin in reversed(placed[:number]) if twin is not None]
        after = [twin for _, twin in placed[number + 1:] if twin is not None]
        for anchor in before + after:
            region = self.closing_region(anchor)
            if region is not None:
                region.tail.append(gap + block)
                return
        name = _key(node).lstrip("=")
        raise MarkingError(f"{where}{name} is in the solution only, and the stub leaves no TODO part in "
                           f"{where.rstrip('.') or 'the module'} to hold it: add it to the stub, or mark "
                           "where students write code with TODO")

    def closing_region(self, anchor: ast.stmt) -> _Region | None:
        """A region that runs to the end of ``anchor`` (so code after it leaves anchor's body)."""
        start, end = self.stub.start(anchor), self.stub.end(anchor)
        for region in self.regions:
            if start <= region.start < end <= region.end:
                return region
        return None

    # -------------------------------------------------------------- the result

    def marked(self) -> list[str]:
        if not self.regions:
            raise MarkingError("the stub has no TODO or NotImplementedError where the solution differs, "
                               "so no solution region could be marked: mark the parts students write "
                               "with TODO")
        edits = [(r.start, r.end, r.lines()) for r in self.regions] + self.headers
        edits.sort(key=lambda edit: edit[0], reverse=True)
        lines = list(self.stub.lines)
        for start, end, new in edits:
            lines[start:end] = new
        return lines


def released(marked: list[str]) -> list[str]:
    """The code ``nbgrader generate_assignment`` makes of marked code: each region becomes a stub."""
    out, inside = [], False
    for line in marked:
        if BEGIN in line:
            out.extend(_indent(line) + stub for stub in RELEASED_STUB)
            inside = True
        elif END in line:
            inside = False
        elif not inside:
            out.append(line)
    return out


def _defined_names(tree: ast.Module) -> set[str]:
    names = set()

    def visit(body, prefix):
        for node in body:
            if isinstance(node, _DEFS):
                names.add(prefix + node.name)
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{prefix}{node.name}.")
            elif _key(node):
                names.add(prefix + _key(node).lstrip("="))
    visit(tree.body, "")
    return names


def mark_solutions(stub: list[str], solution: list[str]) -> list[str]:
    """The stub's lines, its TODO parts replaced by the solution's lines between solution markers.

    MarkingError says what in the stub or the solution prevents it.
    """
    for lines, what in ((stub, "stub"), (solution, "solution")):
        if any(BEGIN in line or END in line for line in lines):
            raise MarkingError(f"the {what} already holds a '{BEGIN}' or '{END}' line: nbgrader would "
                               "treat it as a solution region; remove it")
    stub_source = _Source.parse(stub, "stub")
    solution_source = _Source.parse(solution, "solution")
    marker = _Marker(stub_source, solution_source)
    marker.scope(stub_source.tree.body, solution_source.tree.body, "")
    marked = marker.marked()
    reference = _Source.parse(marked, "stub with the solution marked in")
    _Source.parse(released(marked), "stub nbgrader would release")
    missing = _defined_names(solution_source.tree) - _defined_names(reference.tree)
    if missing:
        raise MarkingError(f"the marked notebook code lacks {', '.join(sorted(missing))} from the solution")
    return marked
