"""dropout_batchnorm: broken submissions lose exactly the points of what they break."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.commands import check_submission

ROOT = Path(__file__).resolve().parent.parent
BROKEN = Path(__file__).resolve().parent / "broken_dropout_batchnorm"
ASSIGNMENT = "dropout_batchnorm"

# submission -> the checks it must fail (every other check must pass)
CASES = {
    "dropout_no_rescale.py": {"dropout"},
    "eval_batch_stats.py": {"batchnorm_eval"},
}


def _grade(path: Path):
    return check_submission(assignment_id=ASSIGNMENT, path=path, config_path=ROOT / "grading.toml")


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(name):
    result = _grade(BROKEN / name)
    failed = {c.name for c in result.checks if not c.passed}
    assert failed == CASES[name], {c.name: c.message for c in result.checks if not c.passed}
    lost = sum(c.max_points for c in result.checks if c.name in CASES[name])
    assert result.score == result.max_score - lost
    for check in result.checks:
        if not check.passed:
            assert check.message and "Traceback" not in check.message
