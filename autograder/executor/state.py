"""The executor's registry of handlers, its state, and what every handler shares.

A handler answers one operation of wire/operations.py's ``EXECUTOR`` table and
registers with ``@handles("name")``. It finds the model it measures with
``installed``, which puts the model back in the state it was installed with, so
no measurement leaks into the next; it says a fact about the submission by
raising ``MeasureFailure``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..wire.answers import SubmissionFact, model_key
from ..wire.operations import EXECUTOR
from .program import CompiledModel

HANDLERS: dict[str, Callable[..., Any]] = {}


def handles(name: str):
    if name not in EXECUTOR:
        raise KeyError(f"'{name}' is not an executor operation in operations.py")

    def register(func):
        HANDLERS[name] = func
        return func
    return register


class MeasureFailure(SubmissionFact):
    """A fact about the submission, said as a plain sentence."""


@dataclass
class ExecutorState:
    device: str
    seed: int
    data_file: Path | None
    models: dict[str, CompiledModel | str] = field(default_factory=dict)   # key -> model, or why it was refused
    data: dict[str, torch.Tensor] | None = None     # loaded at start, while the child is still compiling
    threads: int = 0                                 # torch threads it was started with (0: torch's default)


def installed(state: ExecutorState, spec: dict) -> CompiledModel:
    """The model installed under ``spec``'s key, as it was installed."""
    found = state.models.get(model_key(spec))
    if found is None:
        raise MeasureFailure("the model was not compiled, so the grader cannot run it")
    if isinstance(found, str):
        raise MeasureFailure(found)
    found.restore(found.initial_state)
    return found


def tensor_output(out: Any) -> torch.Tensor:
    """What forward() returned, which must be a tensor."""
    if isinstance(out, torch.Tensor):
        return out
    if out is None:
        raise MeasureFailure("forward() returned None: it is not implemented yet, or it forgets to return its result")
    raise MeasureFailure(f"forward() returned a {type(out).__name__}, not a tensor")
