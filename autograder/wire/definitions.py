"""Which top-level statements of a submission are definitions: imports, functions,
classes, constant assignments and docstrings. The child's loader runs only these,
and the nbgrader export keeps only these, so both read the same rule from here."""

from __future__ import annotations

import ast


# Calls allowed on the right-hand side of a kept top-level assignment.
HARMLESS_CALLS = {
    "torch.device", "torch.cuda.is_available", "torch.backends.mps.is_available",
    "torch.tensor", "torch.Size", "torch.float32", "int", "float", "str", "bool",
    "tuple", "list", "dict", "set", "frozenset", "len", "range", "max", "min", "abs",
    "round", "sum", "math.sqrt", "math.prod", "math.ceil", "math.floor", "math.log",
}


def dotted(node: ast.AST) -> str | None:
    """``torch.nn.functional`` for that attribute chain of names; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _is_constant_expression(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return False
        if isinstance(sub, ast.Call) and dotted(sub.func) not in HARMLESS_CALLS:
            return False
    return True


def _simple_targets(targets: list[ast.expr]) -> bool:
    for target in targets:
        if isinstance(target, ast.Name):
            continue
        if isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in target.elts):
            continue
        return False
    return True


def is_definition(node: ast.stmt) -> bool:
    """Whether a top-level statement defines something and is safe to run."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, ast.Assign):
        return _simple_targets(node.targets) and _is_constant_expression(node.value)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and (node.value is None or _is_constant_expression(node.value))
    if isinstance(node, ast.Try):
        return all(isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass)) for s in node.body)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
        return True  # a docstring
    return False


def is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (either way round)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare) or len(node.test.comparators) != 1:
        return False
    sides = [node.test.left, node.test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    strings = [s.value for s in sides if isinstance(s, ast.Constant)]
    return isinstance(node.test.ops[0], ast.Eq) and names == ["__name__"] and strings == ["__main__"]
