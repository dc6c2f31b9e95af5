"""The registry of the child's answers, its state, and what every handler shares.

A handler takes the child's state and the keyword arguments the parent sent,
and returns plain data: tensors (moved to the CPU), numbers, strings, lists and
dicts. Handlers report facts; the parent judges them. A handler registers with
``@answers("name")`` under a name declared in wire/operations.py's ``WORKER``
table, and says a fact about the submission by raising ``AnswerFailure``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ...wire.answers import SubmissionFact
from ...wire.operations import WORKER

ANSWERS: dict[str, Callable[..., Any]] = {}


def answers(name: str):
    if name not in WORKER:
        raise KeyError(f"'{name}' is not a worker operation in operations.py")

    def register(func):
        ANSWERS[name] = func
        return func
    return register


class AnswerFailure(SubmissionFact):
    """A fact the parent should hear as a plain sentence (e.g. 'forward() returned None')."""


@dataclass
class ChildState:
    submission: Path
    device: str
    seed: int
    data_file: Path | None
    module: Any = None
    notes: dict = field(default_factory=dict)


def get_name(state: ChildState, name: str) -> Any:
    if state.module is None:
        raise AnswerFailure("the submission was not loaded")
    if not hasattr(state.module, name):
        defined = [n for n in vars(state.module) if not n.startswith("_")]
        close = difflib.get_close_matches(name, defined, n=1, cutoff=0.6)
        if not close:
            close = [n for n in defined if n.lower() == name.lower()]
        hint = f" (it defines '{close[0]}': rename it to '{name}')" if close else ""
        raise AnswerFailure(f"{state.submission.name} defines no '{name}'{hint}")
    return getattr(state.module, name)


def resolve_callable(state: ChildState, name: str) -> Any:
    """``name`` or ``Class.apply`` style dotted names the submission defines."""
    head, _, rest = name.partition(".")
    target = get_name(state, head)
    for part in [p for p in rest.split(".") if p]:
        if not hasattr(target, part):
            raise AnswerFailure(f"'{head}' has no attribute '{part}'")
        target = getattr(target, part)
    if not callable(target):
        raise AnswerFailure(f"'{name}' is a {type(target).__name__}, not something you can call")
    return target


def to_plain(value: Any, depth: int = 0) -> Any:
    """Turn a result into data the parent can read safely (tensors on the CPU)."""
    if depth > 8:
        return {"__type__": type(value).__name__, "__repr__": "(nested too deeply)"}
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu").clone()
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return {"__type__": "ndarray", "__repr__": repr(value)[:200]}
        return torch.from_numpy(np.ascontiguousarray(value)).clone()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [to_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, torch.Size):
        return list(value)
    return {"__type__": type(value).__name__, "__repr__": repr(value)[:200]}
