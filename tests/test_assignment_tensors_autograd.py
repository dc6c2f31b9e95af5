"""tensors_autograd: broken submissions lose exactly the points of what they break."""

from __future__ import annotations

from pathlib import Path

import pytest

from grading_cases import assert_loses_exactly, grade

BROKEN = Path(__file__).resolve().parent / "broken_tensors_autograd"
ASSIGNMENT = "tensors_autograd"

# submission -> the checks it must fail (every other check must pass)
CASES = {
    "relu_backward_passes_all.py": {"my_relu_values", "shifted_relu_product", "gradients_accumulate", "my_relu_gradcheck"},
    "libsvm_zero_based.py": {"libsvm_loader"},
    "wavy_gradient_ascent.py": {"minimize_wavy"},
    "two_variables_stops_early.py": {"minimize_two_variables"},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(name):
    assert_loses_exactly(_grade(BROKEN / name), CASES[name])


def _grade(path: Path):
    return grade(ASSIGNMENT, path)


def test_wrong_backward_message_names_the_fix():
    result = _grade(BROKEN / "relu_backward_passes_all.py")
    message = {c.name: c.message for c in result.checks}["my_relu_gradcheck"]
    assert "gradcheck" in message and "negative" in message


def test_uphill_minimiser_is_told_it_went_uphill():
    result = _grade(BROKEN / "wavy_gradient_ascent.py")
    message = {c.name: c.message for c in result.checks}["minimize_wavy"]
    assert "not lower than at the start" in message and "against the gradient" in message


def test_unsettled_minimiser_is_shown_a_lower_neighbour():
    result = _grade(BROKEN / "two_variables_stops_early.py")
    message = {c.name: c.message for c in result.checks}["minimize_two_variables"]
    assert "lower nearby" in message and "not a minimum yet" in message
