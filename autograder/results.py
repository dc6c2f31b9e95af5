"""What grading produces: one result per check, one per submission."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CheckResult:
    name: str
    description: str
    max_points: float
    passed: bool
    message: str
    visibility: str = "visible"
    seconds: float = 0.0

    @property
    def points(self) -> float:
        return self.max_points if self.passed else 0.0

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"


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

    @property
    def score(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.checks)
