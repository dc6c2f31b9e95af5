"""linear_mlp: broken submissions lose exactly the points of what they break."""

from __future__ import annotations

from pathlib import Path

import pytest

from grading_cases import assert_loses_exactly, grade

BROKEN = Path(__file__).resolve().parent / "broken_linear_mlp"
ASSIGNMENT = "linear_mlp"

# submission -> the checks it must fail (every other check must pass)
CASES = {
    "no_zero_grad.py": {"gd_step_zeroes_gradients"},
    "lm_without_bias.py": {"parameter_count"},
    "fit_target_broadcast.py": {"fit_linear_coefficients"},
    "mlp_without_relu.py": {"mlp_beats_linear"},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(name):
    assert_loses_exactly(_grade(BROKEN / name), CASES[name])


def _grade(path: Path):
    return grade(ASSIGNMENT, path)


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
