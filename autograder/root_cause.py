"""Root causes first: one mistake that breaks several checks is named once, with its fix.

When two or more checks fail with the same message (the model would not
compile, forward() crashed on every input), the report names that failure
once at the top, with the course's usual fix where the mistake is a common
one; the first affected check keeps the full message and the others refer to
it instead of repeating it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

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


def find_root_cause(checks: list[CheckResult]) -> dict | None:
    """{"message", "checks", "fix"} when one failure message is shared by two or more checks."""
    failed = [c for c in checks if not c.passed and c.message]
    if len(failed) < 2:
        return None
    key, count = Counter(_key(c.message) for c in failed).most_common(1)[0]
    if count < 2:
        return None
    affected = [c for c in failed if _key(c.message) == key]
    message = affected[0].message
    fix = next((m.fix for m in KNOWN_MISTAKES if re.search(m.pattern, message)), "")
    return {"message": message, "fix": fix, "checks": [c.name for c in affected]}


def _key(message: str) -> str:
    """The message without the call it names: 'LeNet5(10)' and 'LeNet5(7)' failing alike are one cause."""
    return re.sub(r"\b\w+\([^()]*\)", "…", message)


def apply_root_cause(checks: list[CheckResult]) -> dict | None:
    """Name the shared failure once: affected checks refer to it. Returns the root cause, or None."""
    cause = find_root_cause(checks)
    if cause is None:
        return None
    first = cause["checks"][0]
    for check in checks:
        if check.name == first and cause["fix"]:
            check.message = f"{check.message}. Fix: {cause['fix']}"
        elif check.name in cause["checks"][1:]:
            check.message = f"same cause as '{first}' (the root cause at the top): {_short(cause['message'], 80)}"
    return cause


def root_cause_note(cause: dict) -> str:
    fix = f" Fix: {cause['fix']}." if cause["fix"] else ""
    return (f"Root cause of {len(cause['checks'])} failed checks ({', '.join(cause['checks'])}): "
            f"{cause['message']}{fix}")
