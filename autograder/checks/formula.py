"""Formulas written in grading.toml, evaluated by the grader itself.

Some checks need a function of a few variables that the parent trusts: the
objective a student's minimiser must minimise, the target a regression model
must learn. grading.toml writes it as a Python-like expression, e.g.
``"sin(x - 2) * (x + 2)**2 + sqrt(abs(cos(x)))"``. Only numbers, the declared
variables, ``pi``, ``+ - * / **`` and a short list of torch functions are
allowed; anything else is an error that names what was not understood. Nothing
is passed to ``eval``: the expression is parsed and walked node by node.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Callable, Mapping, Sequence

import torch

FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sin": torch.sin, "cos": torch.cos, "tan": torch.tan, "exp": torch.exp, "log": torch.log,
    "sqrt": torch.sqrt, "abs": torch.abs, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
}
CONSTANTS = {"pi": math.pi, "e": math.e}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow}


class FormulaError(ValueError):
    """The expression uses something a formula may not."""


class Formula:
    """A parsed expression of the named ``variables``; call it with one tensor per variable."""

    def __init__(self, text: str, variables: Sequence[str]) -> None:
        self.text = text
        self.variables = list(variables)
        for name in self.variables:
            if name in FUNCTIONS or name in CONSTANTS or not name.isidentifier():
                raise FormulaError(f"'{name}' cannot be a variable name")
        try:
            self._tree = ast.parse(text, mode="eval").body
        except SyntaxError as exc:
            raise FormulaError(f"'{text}' is not a valid expression ({exc.msg})") from None
        self._validate(self._tree)

    def _validate(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise FormulaError(f"'{self.text}': only numbers may appear as constants")
        elif isinstance(node, ast.Name):
            if node.id not in self.variables and node.id not in CONSTANTS:
                raise FormulaError(f"'{self.text}': unknown name '{node.id}' "
                                   f"(variables: {', '.join(self.variables)}; constants: pi, e)")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise FormulaError(f"'{self.text}': operator {type(node.op).__name__} is not allowed "
                                   "(use + - * / **)")
            self._validate(node.left)
            self._validate(node.right)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise FormulaError(f"'{self.text}': operator {type(node.op).__name__} is not allowed")
            self._validate(node.operand)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise FormulaError(f"'{self.text}': only the functions {', '.join(sorted(FUNCTIONS))} "
                                   "may be called")
            if len(node.args) != 1 or node.keywords:
                raise FormulaError(f"'{self.text}': {node.func.id}() takes exactly one argument")
            self._validate(node.args[0])
        else:
            raise FormulaError(f"'{self.text}': {type(node).__name__} is not allowed in a formula")

    def __call__(self, values: Mapping[str, torch.Tensor] | Sequence[torch.Tensor]) -> torch.Tensor:
        if not isinstance(values, Mapping):
            values = dict(zip(self.variables, values))
        return self._eval(self._tree, values)

    def _eval(self, node: ast.AST, values: Mapping[str, torch.Tensor]):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return values[node.id] if node.id in values else CONSTANTS[node.id]
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](self._eval(node.left, values), self._eval(node.right, values))
        if isinstance(node, ast.UnaryOp):
            operand = self._eval(node.operand, values)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.Call):
            argument = self._eval(node.args[0], values)
            if not isinstance(argument, torch.Tensor):
                argument = torch.tensor(argument, dtype=torch.float64)
            return FUNCTIONS[node.func.id](argument)
        raise FormulaError(f"'{self.text}': cannot evaluate {type(node).__name__}")  # _validate stops this
