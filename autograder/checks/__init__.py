"""The checks library: every check kind the kit knows, by name.

Each module in this package holds kinds on one subject (models, layer
structure, training, plain functions...). Importing the package loads them
all, so a new module registers its kinds without touching this file.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import CheckKind, JudgeContext, Probe, Verdict
from .registry import KINDS, register

for _info in pkgutil.iter_modules(__path__):
    if _info.name not in ("base", "registry"):
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["KINDS", "CheckKind", "JudgeContext", "Probe", "Verdict", "register"]
