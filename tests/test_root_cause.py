"""Root causes first: judged from check results alone, no sandbox needed."""

from __future__ import annotations

from autograder.grading.results import CheckResult
from autograder.grading.root_cause import apply_root_cause, find_root_cause

PADDING = ("RuntimeError while compiling forward() of LeNet5({n}) into a graph: Calculated padded input size per "
           "channel: (4 x 4). Kernel size: (5 x 5). Kernel size can't be greater than actual input size")


def check(name: str, passed: bool, message: str) -> CheckResult:
    return CheckResult(name, "", 1.0, passed, message)


def test_one_mistake_breaking_many_checks_is_named_once_with_its_fix():
    checks = [check("builds", False, PADDING.format(n=10)), check("n_classes", False, PADDING.format(n=7)),
              check("output_shape", False, PADDING.format(n=10)), check("training", True, "ok")]
    cause = apply_root_cause(checks)
    assert cause["checks"] == ["builds", "n_classes", "output_shape"]
    assert "padding=2" in cause["fix"]
    assert checks[0].message.startswith(PADDING.format(n=10)) and "Fix:" in checks[0].message
    for later in checks[1:3]:
        assert later.message.startswith("same cause as 'builds'"), later.message
    assert checks[3].message == "ok"


def test_a_flatten_that_does_not_match_in_features_is_recognised():
    text = "RuntimeError while running forward(): mat1 and mat2 shapes cannot be multiplied (64x256 and 400x120)"
    cause = find_root_cause([check("a", False, text), check("b", False, text)])
    assert "torch.flatten(x, 1)" in cause["fix"] and "in_features" in cause["fix"]


def test_different_failures_have_no_single_root_cause():
    assert find_root_cause([check("a", False, "one thing"), check("b", False, "another")]) is None
    assert find_root_cause([check("a", False, "one thing"), check("b", True, "one thing")]) is None
