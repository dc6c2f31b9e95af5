"""The registry of mutation operators: every family's operators, in the order they run.

The order is part of each mutant's identity (an id counts one operator's sites, and when two
operators make the same file the earlier one keeps the mutant), so the families are listed here
by name, never discovered. Within a family, operators run in the order its module defines them.
"""

from __future__ import annotations

from . import by_hand, dropout, layers, losses, outputs, training
from .core import Operator

FAMILIES = (layers, dropout, outputs, training, losses, by_hand)

OPERATORS: list[Operator] = [op for family in FAMILIES for op in family.OPERATORS]


def operator_names() -> list[str]:
    return [op.name for op in OPERATORS]
