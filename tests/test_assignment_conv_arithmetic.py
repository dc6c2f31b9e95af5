"""conv_arithmetic: broken submissions lose exactly the points of what they break."""

from __future__ import annotations

from pathlib import Path

import pytest

from grading_cases import assert_loses_exactly, grade

BROKEN = Path(__file__).resolve().parent / "broken_conv_arithmetic"
ASSIGNMENT = "conv_arithmetic"

# submission -> the checks it must fail (every other check must pass)
CASES = {
    "avg_pool_sums.py": {"avg_pool_lab_example", "avg_pool_matches_torch"},
    "padding_ignored.py": {"output_size_padding_stride"},
    "split_wrong_seed.py": {"validation_split"},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(name):
    assert_loses_exactly(_grade(BROKEN / name), CASES[name])


def _grade(path: Path):
    return grade(ASSIGNMENT, path)


def test_padding_message_shows_got_and_expected():
    result = _grade(BROKEN / "padding_ignored.py")
    message = {c.name: c.message for c in result.checks}["output_size_padding_stride"]
    assert "returned 15" in message and "expected 16" in message


def test_lab_example_uses_the_lab_sheets_numbers():
    result = _grade(BROKEN / "avg_pool_sums.py")
    message = {c.name: c.message for c in result.checks}["avg_pool_lab_example"]
    assert "[4, 3, 5, 1]" in message and "expected [2.5, 2.5, 0.5, 2.0]" in message


def test_wrong_split_message_names_the_fix():
    result = _grade(BROKEN / "split_wrong_seed.py")
    message = {c.name: c.message for c in result.checks}["validation_split"]
    assert "item 1 of the 4 values" in message and "random_state=1212" in message
