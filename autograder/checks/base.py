"""What a check is: questions for the child (questions) and a verdict the parent reaches.

A check kind declares its parameters (each a ``Key`` with default and
description, validated from grading.toml), the questions it needs, and a judge
that turns the raw answers into pass or fail with a message for the student.
Kinds never run submission code themselves.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import torch

from ..settings.model import Assignment, CheckSpec, Key, Kit
from ..wire.answers import Answer

# Which limit in grading.toml bounds a question's time.
LOAD, STEP, TRAIN = "load_seconds", "step_seconds", "train_watchdog_seconds"


@dataclass(frozen=True)
class Question:
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
    # Share of the check's points earned, 0 to 1; None: all (passed) or nothing. A verdict with a share
    # strictly between 0 and 1 (partial credit) has not passed.
    fraction: float | None = None

    @property
    def share(self) -> float:
        if self.passed:
            return 1.0
        if self.fraction is None or not math.isfinite(self.fraction):
            return 0.0
        return min(max(float(self.fraction), 0.0), 1.0)


def earned_points(points: float, share: float) -> float:
    """The points a share of a check earns, as every report shows them (to 0.01)."""
    return round(points * share, 2)


def partial_share(value: float, mark: float, start: float, lower_is_better: bool = False) -> float:
    """The share of a check's points a measured ``value`` earns: 0 at ``start`` and beyond, 1 at the pass
    ``mark`` and beyond, linear in between. Where lower is better, ``start`` lies above ``mark``. NaN: 0."""
    if not isinstance(value, (int, float)) or math.isnan(value):
        return 0.0
    if lower_is_better:
        value, mark, start = -value, -mark, -start
    if value >= mark:
        return 1.0
    if value <= start:
        return 0.0
    return (value - start) / (mark - start)


@dataclass
class JudgeContext:
    """What the parent holds that the child never sees (e.g. test labels)."""

    test_labels: torch.Tensor | None = None
    data_dir: Path | None = None        # the kit's data folder (--data-dir, AUTOGRADER_DATA, grading.toml)
    extra: dict = field(default_factory=dict)


def explain_failure(answer: Answer, question: Question) -> str:
    """Words for an answer that carries an error instead of a value."""
    if answer.fatal:
        return answer.fatal
    error = answer.error or {}
    if error.get("failure"):
        return error.get("message", "failed")
    where = f" ({error['where']})" if error.get("where") else ""
    label = error.get("label") or question.label
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
    # The parameter holding the number a measured value is compared with (its pass mark), for kinds that
    # grade one: such a check takes ``partial_credit_from``. ``lower_is_better`` for marks such as an error
    # ratio, which the value must stay at or under.
    pass_mark: ClassVar[str] = ""
    lower_is_better: ClassVar[bool] = False

    def grades_a_number(self, params: dict[str, Any]) -> bool:
        """Whether a check with these parameters compares a measured number with ``pass_mark`` (a kind whose
        parameters choose what it measures says for which of them it does)."""
        return bool(self.pass_mark)

    def scored(self, check: CheckSpec, verdict: Verdict, value: float, what: str, shown,
               detail: str = "", measured_shown=None) -> Verdict:
        """``verdict`` (the all-or-nothing one) with partial credit applied when the check sets
        ``partial_credit_from``: a verdict that did not pass earns the share its measured ``value`` is worth,
        and its message starts with the number, the points and the rule, e.g. "test accuracy 87.2% → 3.7 / 6
        points (0 at 80%, full at 90%)", then ``detail`` (default: the verdict's message). ``what`` names the
        value, ``shown`` formats a number of its kind (``measured_shown``, when given, the measured one)."""
        start = check.partial_credit_from
        if start is None or verdict.passed:
            return verdict
        mark = check.params[self.pass_mark]
        share = partial_share(value, mark, start, self.lower_is_better)
        if share >= 1.0:       # the all-or-nothing judge failed it for another reason: the value decides nothing
            return verdict
        earned = earned_points(check.points, share)
        kind = "extra-credit points" if check.extra_credit else "points"
        measured = ("nan" if not isinstance(value, (int, float)) or math.isnan(value)
                    else (measured_shown or shown)(value))
        rule = (f"{what} {measured} → {earned:g} / {check.points:g} {kind} (0 at {shown(start)}, full at "
                f"{shown(mark)})")
        return Verdict(False, f"{rule}: {detail or verdict.message}", verdict.details, fraction=share)

    def configure(self, params: dict[str, Any], kit: Kit) -> dict[str, Any]:
        """The parameters with what they take from ``[kit]`` filled in: a by-hand check's
        ``allowed_ops`` becomes an ``AllowedOps`` (its op groups resolved). Called when grading.toml
        is loaded, before ``validate``; ValueError for an entry that names nothing."""
        if "allowed_ops" in self.params:
            params = {**params, "allowed_ops": allowed_ops(params["allowed_ops"], kit.op_groups)}
        return params

    def validate(self, params: dict[str, Any]) -> None:
        """Raise ValueError when the parameters, each of the right type, do not make sense
        together (a formula that does not parse, lists of different lengths). Called when
        grading.toml is loaded, so a mistake there stops the kit before any grading."""

    def warm_up(self, check: CheckSpec) -> None:
        """Load, once per batch and before any judge's deadline runs, what judging this check needs (a
        reference function's library): a first import inside the deadline would let a busy machine
        cost a submission its points."""

    def describe(self, check: CheckSpec, assignment: Assignment) -> str:
        """One line for students saying what the check asks, with its numbers from grading.toml.
        Used when the check sets no ``description``; kinds with numbers worth showing override it."""
        return self.summary

    def required_names(self, check: CheckSpec, assignment: Assignment) -> list[str]:
        return [assignment.model] if assignment.model else []

    def questions(self, check: CheckSpec, assignment: Assignment) -> list[Question]:
        raise NotImplementedError

    def judge(self, check: CheckSpec, assignment: Assignment, answers: list[Answer],
              context: JudgeContext) -> Verdict:
        raise NotImplementedError

    def verdict(self, check: CheckSpec, assignment: Assignment, questions: list[Question],
                answers: list[Answer], context: JudgeContext) -> Verdict:
        if not self.sees_failures:
            for question, answer in zip(questions, answers):
                if answer.failed:
                    return Verdict(False, explain_failure(answer, question))
        return self.judge(check, assignment, answers, context)


# A model check of another class than the assignment's model (an assignment with several classes).
OTHER_MODEL_KEYS = {
    "model": Key("", "class the check builds, with model_args and input_shape (empty: the assignment's model)"),
    "model_args": Key([], "with model: the arguments it is built with"),
    "input_shape": Key([], "with model: the shape of one input (without the batch)"),
}


def validate_other_model(params: dict) -> None:
    if params["model"] and not params["input_shape"]:
        raise ValueError("a check of another model than the assignment's needs its input_shape")


def checked_model(check, assignment):
    """The assignment as a model check sees it: with the check's own ``model`` (an assignment of
    several classes), or as it stands."""
    p = check.params
    if not p.get("model"):
        return assignment
    return dataclasses.replace(assignment, model=p["model"], model_args=list(p["model_args"]),
                               input_shape=[int(n) for n in p["input_shape"]])


def model_spec(assignment: Assignment, args: list | None = None, seed: int = 0) -> dict:
    return {"class": assignment.model, "args": list(assignment.model_args if args is None else args), "seed": seed}


def call_text(assignment: Assignment, args: list | None = None) -> str:
    args = assignment.model_args if args is None else args
    return f"{assignment.model}({', '.join(repr(a) for a in args)})"


def shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(n)) for n in shape) + ")"


# Ops any traced graph may hold, whatever a by-hand exercise allows: the tracer's own bookkeeping
# (sizes, shape and dtype asserts, aliases, detach, dtype conversions, torch.no_grad() blocks) and
# Python arithmetic on sizes. None of them computes anything an exercise asks for.
TRACER_OPS = frozenset({
    "sym_size", "sym_numel", "sym_stride", "_assert_tensor_metadata", "_assert_scalar",
    "alias", "_unsafe_view", "detach", "lift_fresh_copy", "_to_copy", "to", "type_as", "grad.disable",
    "grad.restore",
})


@dataclass(frozen=True)
class AllowedOps:
    """The ops a by-hand check allows: ``written`` as grading.toml lists them (names of op
    groups of ``[kit.op_groups]`` and single ops), ``entries`` each with the ops it stands for."""

    written: tuple[str, ...] = ()
    entries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.written)

    @functools.cached_property
    def ops(self) -> frozenset[str]:
        return frozenset(op for _, ops in self.entries for op in ops)

    def allows(self, op: str) -> bool:
        return op in self.ops or op in TRACER_OPS or op.startswith("operator.")

    def text(self) -> str:
        """'elementwise (add, sub, ...); reduce (sum, ...); var' for messages."""
        return "; ".join(f"{name} ({', '.join(ops)})" if (name,) != ops else name for name, ops in self.entries)


def allowed_ops(written: Sequence[str], groups: dict) -> AllowedOps:
    """Resolve a check's ``allowed_ops`` against ``[kit.op_groups]``: each entry is a group name or
    an op short name the grader's executor runs (``wire/allowlist.py``). ValueError, in words
    for grading.toml's author, when an entry or a group is neither."""
    from ..wire.allowlist import ALLOWED, short_name

    known = {short_name(name) for name in ALLOWED}
    if not isinstance(groups, dict):
        raise ValueError("[kit.op_groups] should be a table of op groups, each a list of op names")
    for group, ops in groups.items():
        if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
            raise ValueError(f"[kit.op_groups] '{group}' should be a list of op names, e.g. [\"add\", \"mul\"]")
        unknown = [op for op in ops if op not in known]
        if unknown:
            raise ValueError(f"[kit.op_groups] '{group}' lists {', '.join(repr(op) for op in unknown)}, which "
                             f"the grader does not run: use ATen short names from wire/allowlist.py, e.g. "
                             f"'add', 'sum', 'index_select'")
    entries = []
    for entry in written:
        if not isinstance(entry, str):
            raise ValueError(f"allowed_ops should list names of op groups and ops; {entry!r} is not a name")
        if entry in groups:
            entries.append((entry, tuple(groups[entry])))
        elif entry in known:
            entries.append((entry, (entry,)))
        else:
            close = difflib.get_close_matches(entry, [*groups, *known], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"allowed_ops names '{entry}', which is neither a group of [kit.op_groups] "
                             f"({', '.join(groups) or 'none defined'}) nor an op the grader runs{hint}")
    return AllowedOps(tuple(written), tuple(entries))


def by_hand_verdict(allowed: AllowedOps, ops: list, who: str) -> Verdict | None:
    """A failing verdict when a hand-written module or function uses an op its exercise does not allow.

    ``ops`` lists [op short name, submission line or None] as the grader's executor read them
    from the compiled graph, so a library op doing the work shows up whatever it is called under
    (``F.conv_transpose3d`` standing in for a convolution, ``F.group_norm`` for a batch norm).
    An empty ``allowed`` allows everything.
    """
    if not allowed:
        return None
    lines: dict[str, list[int]] = {}
    for name, line in ops:
        if not allowed.allows(name):
            found = lines.setdefault(name, [])
            if line and line not in found:
                found.append(line)
    if not lines:
        return None
    used = ", ".join(f"aten.{name}" + (f" (line {', '.join(str(n) for n in sorted(at))})" if at else "")
                     for name, at in lines.items())
    return Verdict(False, f"{who} uses {used}, which this exercise does not allow: by hand, write it with only "
                          f"these torch operations: {allowed.text()}")
