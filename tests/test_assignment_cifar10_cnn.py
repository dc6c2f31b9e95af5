"""cifar10_cnn: broken submissions lose exactly the points of what they break."""

from __future__ import annotations

from pathlib import Path

import pytest

from grading_cases import assert_loses_exactly, grade

BROKEN = Path(__file__).resolve().parent / "broken_cifar10_cnn"
ASSIGNMENT = "cifar10_cnn"

# submission -> the checks it must fail (every other check must pass)
CASES = {
    "avg_pool.py": {"relu_and_max_pooling"},
    "no_dropout.py": {"dropout_variant"},
    "fc1_100.py": {"parameter_count", "layer_shapes"},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(name):
    assert_loses_exactly(_grade(BROKEN / name), CASES[name])


def _grade(path: Path):
    return grade(ASSIGNMENT, path)
