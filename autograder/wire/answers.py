"""What the three processes agree on about asking and answering, beyond the bytes:
the shape of an answer, the kind of exception that is a fact about the
submission, the key a compiled model is known by on both sides of the compile,
and how a process seeds its random numbers before a question.

torch is imported only where a process seeds itself: the parent reads answers
before it has loaded torch.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any


class SubmissionFact(Exception):
    """A fact about the submission, said as a sentence the student reads as it stands
    (e.g. "forward() returned None").

    Every exception of this kind is answered with ``"failure": true`` (wire/serve.py), and the
    parent shows its message without a type or a place; any other exception is reported as an
    error of the code, by its type, message and line.
    """


@dataclass
class Answer:
    """What came back for one question."""

    ok: bool
    value: Any = None
    error: dict | None = None       # the child's description of an exception
    fatal: str = ""                 # set when the child could not answer at all
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return not self.ok


def model_key(spec: dict) -> str:
    """The name a model spec is compiled and installed under, the same in the parent and the executor."""
    return json.dumps(spec, sort_keys=True)


def seed_everything(seed: int) -> None:
    """Python's, numpy's and torch's generators (CUDA's too), from one seed."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)  # seeds CUDA too


def gradient_problem(value: Any, what: str) -> str:
    """Why ``value``, which ``what`` returned, cannot be backpropagated through, in words ('' when it can).
    The child and the executor both say it so."""
    import torch

    if not isinstance(value, torch.Tensor):
        return f"{what} returned a {type(value).__name__}; expected a tensor to backpropagate through"
    if not value.requires_grad:
        return (f"{what} returned a tensor without a gradient history: compute it from the inputs with torch "
                "operations (no .detach(), .item() or numpy)")
    return ""
