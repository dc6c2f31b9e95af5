"""What a check is: questions for the child (probes) and a verdict the parent reaches.

A check kind declares its parameters (each a ``Key`` with default and
description, validated from grading.toml), the probes it needs, and a judge
that turns the raw answers into pass or fail with a message for the student.
Kinds never run submission code themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import torch

from ..config_types import Assignment, CheckSpec, Key
from ..sandbox import Answer

# Which limit in grading.toml bounds a probe's time.
LOAD, STEP, TRAIN = "load_seconds", "step_seconds", "train_seconds"


@dataclass(frozen=True)
class Probe:
    """One question for the child. ``args`` is plain data; tensor specs in it
    (see ``randn``) are made into tensors by the parent just before sending."""

    op: str
    args: dict
    label: str                      # "building LeNet5(10)", for messages
    limit: str = STEP

    @property
    def key(self) -> str:
        return json.dumps([self.op, self.args], sort_keys=True)


@dataclass
class Verdict:
    passed: bool
    message: str
    details: dict = field(default_factory=dict)   # measured figures, kept in results.json extra_data


@dataclass
class JudgeContext:
    """What the parent holds that the child never sees (e.g. test labels)."""

    test_labels: torch.Tensor | None = None
    data_dir: Path | None = None        # the kit's data folder (--data-dir, AUTOGRADER_DATA, grading.toml)
    extra: dict = field(default_factory=dict)


def explain_failure(answer: Answer, probe: Probe) -> str:
    """Words for an answer that carries an error instead of a value."""
    if answer.fatal:
        return answer.fatal
    error = answer.error or {}
    if error.get("failure"):
        return error.get("message", "failed")
    where = f" ({error['where']})" if error.get("where") else ""
    label = error.get("label") or probe.label
    text = f"{error.get('type', 'Error')} while {label}: {error.get('message', '')}".rstrip(": ")
    if error.get("hint") == "not implemented yet":
        return f"not implemented yet: {text}{where}"
    hint = f"; {error['hint']}" if error.get("hint") else ""
    return f"{text}{where}{hint}"


class CheckKind:
    """Base class of every check kind; subclasses register in ``KINDS``."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    params: ClassVar[dict[str, Key]] = {}
    # Set when the judge wants failed answers too (default: the first failure decides).
    sees_failures: ClassVar[bool] = False
    # Set when the check scores predictions against held-out labels.
    needs_data: ClassVar[bool] = False

    def validate(self, params: dict[str, Any]) -> None:
        """Raise ValueError when the parameters, each of the right type, do not make sense
        together (a formula that does not parse, lists of different lengths). Called when
        grading.toml is loaded, so a mistake there stops the kit before any grading."""

    def describe(self, check: CheckSpec, assignment: Assignment) -> str:
        """One line for students saying what the check asks, with its numbers from grading.toml.
        Used when the check sets no ``description``; kinds with numbers worth showing override it."""
        return self.summary

    def required_names(self, check: CheckSpec, assignment: Assignment) -> list[str]:
        return [assignment.model] if assignment.model else []

    def probes(self, check: CheckSpec, assignment: Assignment) -> list[Probe]:
        raise NotImplementedError

    def judge(self, check: CheckSpec, assignment: Assignment, answers: list[Answer],
              context: JudgeContext) -> Verdict:
        raise NotImplementedError

    def verdict(self, check: CheckSpec, assignment: Assignment, probes: list[Probe],
                answers: list[Answer], context: JudgeContext) -> Verdict:
        if not self.sees_failures:
            for probe, answer in zip(probes, answers):
                if answer.failed:
                    return Verdict(False, explain_failure(answer, probe))
        return self.judge(check, assignment, answers, context)


def model_spec(assignment: Assignment, args: list | None = None, seed: int = 0) -> dict:
    return {"class": assignment.model, "args": list(assignment.model_args if args is None else args), "seed": seed}


def call_text(assignment: Assignment, args: list | None = None) -> str:
    args = assignment.model_args if args is None else args
    return f"{assignment.model}({', '.join(repr(a) for a in args)})"


def shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(n)) for n in shape) + ")"


def forbidden_ops_verdict(forbidden: Sequence[str], ops: list, who: str) -> Verdict | None:
    """A failing verdict when a hand-written module or function calls an op it should replace.

    ``ops`` lists [op name, submission line or None] as the grader's executor
    read them from the compiled graph, so calling ``F.max_pool2d`` inside a
    "by hand" pooling shows up whatever name it is called under.
    """
    used = [(name, line) for name, line in ops if name in set(forbidden)]
    if not used:
        return None
    names = ", ".join(dict.fromkeys(name for name, _ in used))
    lines = sorted({line for _, line in used if line})
    where = f" (line {', '.join(str(n) for n in lines)})" if lines else ""
    return Verdict(False, f"{who} calls torch's {names}{where}, which this exercise asks you to write by hand "
                          "from basic tensor operations")
