"""The checks library: every check kind the kit knows, by name.

Each module listed below holds kinds on one subject (models, layer structure,
training, plain functions...) and registers them with ``@register`` as it is
imported. A new module of kinds is added to this list by hand, so that
``grep`` finds every kind from here. The package's other modules hold what
kinds share (the base class, value comparison, function arguments, tensor
specs, drawn instances, formulas, training records) and register nothing.
"""

from __future__ import annotations

from pathlib import Path

from ..settings.loader import load_config as _read_config
from ..settings.model import Config
from . import (  # noqa: F401 - they register
    data_code, functions, layers, model, optimisation, overfit, regression, structure, training, training_code,
    weights,
)
from .base import CheckKind, JudgeContext, Question, Verdict
from .registry import KINDS, register


def load_config(path: Path | str | None = None) -> Config:
    """grading.toml, read and checked against this library's check kinds."""
    return _read_config(path, kinds=KINDS)


__all__ = ["KINDS", "CheckKind", "JudgeContext", "Question", "Verdict", "load_config", "register"]
