"""cifar10_cnn: broken submissions lose exactly the points of what they break."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.commands import check_submission

ROOT = Path(__file__).resolve().parent.parent
BROKEN = Path(__file__).resolve().parent / "broken_cifar10_cnn"
ASSIGNMENT = "cifar10_cnn"

# submission -> the checks it must fail (every other check must pass)
CASES = {
    "avg_pool.py": {"relu_and_max_pooling"},
    "no_dropout.py": {"dropout_variant"},
    "fc1_100.py": {"parameter_count", "layer_shapes"},
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
