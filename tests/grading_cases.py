"""Shared by the per-assignment tests: grade a fixture once, and the 'loses exactly' rule."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from autograder.commands import check_submission
from autograder.results import SubmissionResult

ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=None)
def grade(assignment: str, path: Path) -> SubmissionResult:
    """Grade one file with the kit's own grading.toml (once per file, shared by the tests)."""
    return check_submission(assignment_id=assignment, path=path, config_path=ROOT / "grading.toml")


def assert_loses_exactly(result: SubmissionResult, expected_failures: set[str]) -> None:
    """The submission fails exactly these checks, loses exactly their points, and every
    failure is explained in words rather than a traceback."""
    failed = {c.name for c in result.checks if not c.passed}
    assert failed == expected_failures, {c.name: c.message for c in result.checks if not c.passed}
    lost = sum(c.max_points for c in result.checks if c.name in expected_failures)
    assert result.score == result.max_score - lost
    for check in result.checks:
        if not check.passed:
            assert check.message and "Traceback" not in check.message


def message_of(result: SubmissionResult, check_name: str) -> str:
    return {c.name: c.message for c in result.checks}[check_name]
