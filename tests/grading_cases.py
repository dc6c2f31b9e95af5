"""Shared by the per-assignment tests: broken submissions made by editing the reference solution,
graded in one batch, and the 'loses exactly' rule."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from autograder.commands import check_submission, grade_submissions
from autograder.checks import load_config
from autograder.grading.results import SubmissionResult

ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=None)
def grade(assignment: str, path: Path) -> SubmissionResult:
    """Grade one file with the kit's own grading.toml (once per file, shared by the tests)."""
    return check_submission(assignment_id=assignment, path=path, config_path=ROOT / "grading.toml")


def solution_with_edits(assignment: str, edits: list[tuple[str, str]], folder: Path) -> Path:
    """The reference solution of `assignment` with each (old, new) text replacement applied in
    turn, written as folder/<the assignment's file>; returns that path."""
    file = load_config(ROOT / "grading.toml").assignment(assignment).file
    text = (ROOT / "solutions" / assignment / file).read_text(encoding="utf-8")
    for old, new in edits:
        # Exactly once: an edit that no longer applies (or applies twice) would quietly grade
        # something other than the bug the case is about.
        count = text.count(old)
        assert count == 1, (f"{assignment}: the edit {old!r} -> {new!r} finds its text {count} times, "
                            f"not once; the reference solution changed, so update this broken case")
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file
    path.write_text(text, encoding="utf-8")
    return path


def case_grader(assignment: str, cases: dict, tmp_path_factory):
    """name -> the result of the broken case `name` of `cases` (name -> (description, edits,
    failures)). On the first call every case is written to a folder of its own and the lot is
    graded in one batch, two at a time, with the kit's own grading.toml, as an instructor would."""
    results: dict[str, SubmissionResult] = {}

    def result(name: str) -> SubmissionResult:
        if not results:
            paths = [solution_with_edits(assignment, edits, tmp_path_factory.mktemp(case))
                     for case, (_, edits, _) in cases.items()]
            graded = grade_submissions(assignment_id=assignment, submissions=paths, jobs=2,
                                       out_dir=tmp_path_factory.mktemp(f"{assignment}-graded"),
                                       config_path=ROOT / "grading.toml")
            assert len(graded) == len(cases)
            results.update(zip(cases, graded))       # the batch keeps the order it was given
        return results[name]
    return result


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
