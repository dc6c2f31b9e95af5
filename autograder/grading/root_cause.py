"""Root causes first: one mistake that breaks several checks is named once, with its fix.

When two or more checks fail with the same message (the model would not
compile, forward() crashed on every input), the report names that failure
once at the top ("Start here"), with the course's usual fix where the mistake
is a common one; the first affected check keeps the full message and the
others refer to it instead of repeating it. A check that passed on its own but
is not counted until a check it ``requires`` passes is unlocked by the same
fix, so the cause lists it too (an MLP handed in for a CNN: convolutional,
structure and training).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from typing import Mapping, Sequence

from .results import CheckResult


@dataclass(frozen=True)
class KnownMistake:
    pattern: str          # regular expression on the failure message
    fix: str              # what to change, in the course's words


# The course's common mistakes, recognised from the error torch raises.
KNOWN_MISTAKES = (
    KnownMistake(r"Calculated padded input size per channel: \((\d+) x (\d+)\)\. Kernel size: \((\d+) x (\d+)\)",
                 "the network runs out of pixels before its last convolution: it is built for larger images than "
                 "the 28x28 MNIST digits it gets. LeNet-5 was designed for 32x32 input: give the first "
                 "convolution padding=2 (nn.Conv2d(1, 6, 5, padding=2)), as the assignment states"),
    KnownMistake(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)",
                 "the features reaching a Linear layer do not match its in_features: flatten with "
                 "torch.flatten(x, 1) (or x.view(x.size(0), -1)) and set in_features to the number of features "
                 "per sample after the last convolution and pooling (channels x height x width)"),
    KnownMistake(r"shape '\[(-?\d+), (-?\d+)\]' is invalid for input of size (\d+)",
                 "a view() asks for a size the tensor does not have: flatten with torch.flatten(x, 1) or "
                 "x.view(x.size(0), -1) so the batch size is never written into the code"),
    KnownMistake(r"only works for batches of",
                 "forward() fixes the batch size: flatten with torch.flatten(x, 1) or x.view(x.size(0), -1)"),
    KnownMistake(r"defines no '(\w+)'",
                 "the class or function the grader looks for is missing or renamed: keep the names of the stub"),
)


def _short(message: str, limit: int = 160) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


# How the runner words a check that passed on its own but waits for a check it requires.
NOT_COUNTED = "not counted:"


def _unlocked_by(group: list[str], checks: list[CheckResult],
                 requires: Mapping[str, Sequence[str]]) -> list[str]:
    """The failed checks that only wait for checks in ``group`` (directly or through each other)."""
    fixed = set(group)
    failed = {c.name for c in checks if not c.passed}
    found: list[str] = []
    grew = True
    while grew:
        grew = False
        for check in checks:
            if check.passed or check.name in fixed or not check.message.startswith(NOT_COUNTED):
                continue
            waiting = [name for name in requires.get(check.name, ()) if name in failed]
            if waiting and all(name in fixed for name in waiting):
                fixed.add(check.name)
                found.append(check.name)
                grew = True
    return found


def find_root_cause(checks: list[CheckResult],
                    requires: Mapping[str, Sequence[str]] | None = None) -> dict | None:
    """The failure whose fix unlocks the most checks, when that is two or more: {"message", "fix",
    "checks" (every check it unlocks, in table order), "same_message" (those failing with its message),
    "waiting" (those that only wait for them through ``requires``), "points"}.

    ``requires`` maps a check's name to the checks it requires (grading.toml's ``requires``)."""
    requires = requires or {}
    failed = [c for c in checks if not c.passed and c.message]
    groups: dict[str, list[CheckResult]] = {}
    for check in failed:
        if not check.message.startswith(NOT_COUNTED):
            groups.setdefault(_key(check.message), []).append(check)
    best = None
    for affected in groups.values():
        names = [c.name for c in affected]
        waiting = _unlocked_by(names, checks, requires)
        if len(names) + len(waiting) >= 2 and (best is None or len(names) + len(waiting) > best[0]):
            best = (len(names) + len(waiting), affected, waiting)
    if best is None:
        return None
    _, affected, waiting = best
    message = affected[0].message
    fix = next((m.fix for m in KNOWN_MISTAKES if re.search(m.pattern, message)), "")
    unlocked = {c.name for c in affected} | set(waiting)
    return {"message": message, "fix": fix,
            "checks": [c.name for c in checks if c.name in unlocked],
            "same_message": [c.name for c in affected], "waiting": waiting,
            "points": sum(c.max_points for c in checks if c.name in unlocked)}


def _key(message: str) -> str:
    """The message without the call it names: 'LeNet5(10)' and 'LeNet5(7)' failing alike are one cause."""
    return re.sub(r"\d+", "#", re.sub(r"\b\w+\([^()]*\)", "…", message))


def apply_root_cause(checks: list[CheckResult],
                     requires: Mapping[str, Sequence[str]] | None = None) -> dict | None:
    """Name the shared failure once: affected checks refer to it. Returns the root cause, or None."""
    cause = find_root_cause(checks, requires)
    if cause is None:
        return None
    first, same = cause["same_message"][0], cause["same_message"]
    for check in checks:
        if check.name == first and cause["fix"]:
            check.message = f"{check.message}. Fix: {cause['fix']}"
        elif check.name in same[1:]:
            check.message = f"same cause as '{first}' (the root cause at the top): {_short(cause['message'], 80)}"
    return cause


ROOT_CAUSE_NOTE = "Root cause of "      # how the note that names the root cause begins


def root_cause_note(cause: dict) -> str:
    fix = f" Fix: {cause['fix']}." if cause["fix"] else ""
    return (f"{ROOT_CAUSE_NOTE}{len(cause['checks'])} failed checks ({', '.join(cause['checks'])}): "
            f"{cause['message']}{fix}")


SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")


def load_failure_message(answer, question, filename: str) -> str:
    """Why the submission could not be loaded, naming the file as handed in and its line once.

    A syntax error is worded for what it is: Python cannot read the file, so no check could run."""
    from ..checks.base import explain_failure

    error = answer.error or {}
    if not answer.fatal and error.get("type") in SYNTAX_ERRORS:
        line = re.search(r"line (\d+)", str(error.get("where", "")))
        at = f" at line {line.group(1)}" if line else ""
        what = "an indentation error" if error.get("type") != "SyntaxError" else "a syntax error"
        return (f"{filename} has {what}{at}: {error.get('message', '')}. Python cannot read the file, so no "
                f"check could run: fix that line (`python {filename}` shows it too)")
    return explain_failure(answer, question)
