"""linear_mlp: broken submissions lose exactly the points of what they break."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from autograder.commands import check_submission

ROOT = Path(__file__).resolve().parent.parent
BROKEN = Path(__file__).resolve().parent / "broken_linear_mlp"
ASSIGNMENT = "linear_mlp"

# submission -> the checks it must fail (every other check must pass)
CASES = {
    "no_zero_grad.py": {"gd_step_zeroes_gradients"},
    "lm_without_bias.py": {"parameter_count"},
    "fit_target_broadcast.py": {"fit_linear_coefficients"},
    "mlp_without_relu.py": {"mlp_beats_linear"},
}


@lru_cache(maxsize=None)
def _grade(path: Path):  # graded once per file, shared by the tests
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


def test_missing_zero_grad_message_names_the_fix():
    result = _grade(BROKEN / "no_zero_grad.py")
    message = {c.name: c.message for c in result.checks}["gd_step_zeroes_gradients"]
    assert "zero w.grad" in message and "argument 1" in message


def test_wrong_coefficients_message_names_feature_and_fix():
    result = _grade(BROKEN / "fit_target_broadcast.py")
    message = {c.name: c.message for c in result.checks}["fit_linear_coefficients"]
    assert "coefficient of feature" in message and "made with" in message and "(N, N)" in message


def test_linear_mlp_message_compares_with_the_linear_fit():
    result = _grade(BROKEN / "mlp_without_relu.py")
    message = {c.name: c.message for c in result.checks}["mlp_beats_linear"]
    assert "best linear fit" in message and "ReLU" in message
