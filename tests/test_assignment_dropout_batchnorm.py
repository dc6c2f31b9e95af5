"""dropout_batchnorm: broken submissions lose exactly the points of what they break."""

from __future__ import annotations

from pathlib import Path

import pytest

from grading_cases import assert_loses_exactly, grade

BROKEN = Path(__file__).resolve().parent / "broken_dropout_batchnorm"
ASSIGNMENT = "dropout_batchnorm"

# submission -> the checks it must fail (every other check must pass)
CASES = {
    "dropout_no_rescale.py": {"dropout"},
    "eval_batch_stats.py": {"batchnorm_eval"},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(name):
    assert_loses_exactly(_grade(BROKEN / name), CASES[name])


def _grade(path: Path):
    return grade(ASSIGNMENT, path)
