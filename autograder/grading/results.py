"""What grading produces: one result per check, one per submission.

Much of a result's text comes from the submission (its messages, its output,
names it chose), so every text field is made printable and capped when a
result is built: control characters (ESC, carriage returns, bidirectional
overrides) are dropped, and lengths and counts are limited, so that reports
stay readable and small whatever the child did.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field

from ..intake.text import clean_text

MESSAGE_CHARS = 4000            # one check's message
STATUS_CHARS = 1000             # why grading stopped
NAME_CHARS = 200                # a submission's or check's name, a path
NOTE_CHARS = 2000               # one note
MAX_NOTES = 20
OUTPUT_CHARS = 256 * 1024       # what the submission printed (output_kib caps it before this)
DETAIL_CHARS = 500              # one text value in extra data
DETAIL_ITEMS = 10_000          # items of one list or mapping in extra data (a training curve, a layer list)
DETAIL_DEPTH = 8
# what the feedback pages keep of a submission's facts
MAX_LAYERS = 1_000
MAX_HISTORY = 10_000        # points of the training curve
MAX_CLASSES = 100           # rows and columns of a confusion matrix


def clean_data(value: object, depth: int = 0) -> object:
    """Plain data for extra_data: text cleaned and capped, containers shortened, nothing nested deeply."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth >= DETAIL_DEPTH:
        return "[nested too deeply]"
    # containers are cut while read, never copied whole first
    if isinstance(value, dict):
        items = itertools.islice(value.items(), DETAIL_ITEMS)
        return {clean_text(k, NAME_CHARS): clean_data(v, depth + 1) for k, v in items}
    if isinstance(value, (list, tuple)):
        return [clean_data(v, depth + 1) for v in itertools.islice(value, DETAIL_ITEMS)]
    return clean_text(value, DETAIL_CHARS)


@dataclass
class CheckResult:
    name: str
    description: str
    max_points: float
    passed: bool
    message: str
    visibility: str = "visible"
    seconds: float = 0.0
    # Share of max_points earned by a check that did not pass (partial credit, 0 to 1): see ``points``.
    share: float = 0.0
    # Extra credit: its points count in the score but not in the maximum.
    extra_credit: bool = False

    def __post_init__(self) -> None:
        self.sanitize()

    def sanitize(self) -> "CheckResult":
        """Make every text field printable and capped (again, after any later change); returns self."""
        self.name = clean_text(self.name, NAME_CHARS)
        self.description = clean_text(self.description, MESSAGE_CHARS)
        self.message = clean_text(self.message, MESSAGE_CHARS)
        return self

    @property
    def points(self) -> float:
        """Points earned: all when passed, else the partial share (to 0.01; nothing for NaN or out of range)."""
        if self.passed:
            return self.max_points
        share = self.share if isinstance(self.share, (int, float)) and math.isfinite(self.share) else 0.0
        return round(self.max_points * min(max(share, 0.0), 1.0), 2)

    @property
    def partial(self) -> bool:
        """Some points earned but not all: neither passed nor failed outright."""
        return not self.passed and self.points > 0

    @property
    def status(self) -> str:
        """Gradescope's status: "passed" only at full points (a partial check is "failed", with its score)."""
        return "passed" if self.passed else "failed"

    @property
    def outcome(self) -> str:
        """What the kit's own reports show: "passed", "partial" or "failed"."""
        return "passed" if self.passed else "partial" if self.partial else "failed"


@dataclass
class SubmissionResult:
    assignment: str
    name: str
    source: str                      # the path that was handed in
    checks: list[CheckResult]
    status: str = "graded"           # "graded", or why grading could not finish
    seconds: float = 0.0
    output: str = ""                 # what the submission printed (capped)
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sanitize()

    def sanitize(self) -> "SubmissionResult":
        """Make every text field printable and capped (again, after any later change); returns self.

        Reports call this before writing, so text added after grading (a note, a status) is
        held to the same rules."""
        self.name = clean_text(self.name, NAME_CHARS)
        self.source = clean_text(self.source, NAME_CHARS * 4)
        self.status = clean_text(self.status, STATUS_CHARS)
        self.output = clean_text(self.output, OUTPUT_CHARS)
        notes = [clean_text(note, NOTE_CHARS) for note in self.notes[:MAX_NOTES + 1]]
        if len(self.notes) > MAX_NOTES + 1:       # the last one kept says how many were cut
            notes[MAX_NOTES] = f"[... {len(self.notes) - MAX_NOTES} more notes cut]"
        self.notes = notes
        self.extra = clean_data(self.extra)
        for check in self.checks:
            check.sanitize()
        return self

    @property
    def score(self) -> float:
        """Every point earned, extra credit included: it may exceed ``max_score``."""
        return round(sum(c.points for c in self.checks), 2)

    @property
    def max_score(self) -> float:
        """The regular maximum: extra-credit checks are not part of it."""
        return sum(c.max_points for c in self.checks if not c.extra_credit)

    @property
    def extra_score(self) -> float:
        """The points earned by extra-credit checks (part of ``score``)."""
        return round(sum(c.points for c in self.checks if c.extra_credit), 2)

    @property
    def regular_score(self) -> float:
        """The points earned by regular checks, out of ``max_score``."""
        return round(sum(c.points for c in self.checks if not c.extra_credit), 2)

    @property
    def extra_max(self) -> float:
        """The most extra credit could add."""
        return sum(c.max_points for c in self.checks if c.extra_credit)


def every_check_failed(assignment, name: str, source: str, reason: str, **fields) -> SubmissionResult:
    """A result in which every check of ``assignment`` failed for one ``reason`` (also its status):
    no file to grade, a notebook that cannot be read, a fault of the grader itself."""
    checks = [CheckResult(c.name, c.description, c.points, False, reason, c.visibility,
                          extra_credit=getattr(c, "extra_credit", False)) for c in assignment.checks]
    return SubmissionResult(assignment.id, name, source, checks, status=reason, **fields)


def result_record(result: SubmissionResult) -> dict:
    """``result`` as plain data (JSON), every field kept: a shard's record and the cluster's wire use it."""
    result.sanitize()
    return dataclasses.asdict(result)


def _field(record: dict, key: str, kind: type | tuple, default):
    """``record[key]`` when it is a ``kind`` (a bool never counts as a number), else ``default``."""
    value = record.get(key, default)
    if kind is bool:
        return value if isinstance(value, bool) else default
    return value if isinstance(value, kind) and not isinstance(value, bool) else default


def result_from_record(record: object) -> SubmissionResult:
    """The result ``result_record`` wrote. The record is read as untrusted data: a field of the wrong type
    takes its default, and the built result is cleaned and capped like any other (ValueError: not a record)."""
    if not isinstance(record, dict) or not isinstance(record.get("checks"), list):
        raise ValueError("not a result record: a mapping with a list of checks was expected")
    number = (int, float)
    checks = []
    for check in record["checks"][:DETAIL_ITEMS]:
        if not isinstance(check, dict):
            raise ValueError("not a result record: a check is not a mapping")
        checks.append(CheckResult(
            name=str(_field(check, "name", str, "")), description=str(_field(check, "description", str, "")),
            max_points=float(_field(check, "max_points", number, 0.0)),
            passed=_field(check, "passed", bool, False), message=str(_field(check, "message", str, "")),
            visibility=str(_field(check, "visibility", str, "visible")),
            seconds=float(_field(check, "seconds", number, 0.0)), share=float(_field(check, "share", number, 0.0)),
            extra_credit=_field(check, "extra_credit", bool, False)))
    notes = _field(record, "notes", list, [])
    return SubmissionResult(
        assignment=str(_field(record, "assignment", str, "")), name=str(_field(record, "name", str, "")),
        source=str(_field(record, "source", str, "")), checks=checks,
        status=str(_field(record, "status", str, "graded")), seconds=float(_field(record, "seconds", number, 0.0)),
        output=str(_field(record, "output", str, "")), notes=[str(note) for note in notes[:MAX_NOTES + 1]],
        extra=_field(record, "extra", dict, {}))
