"""conv_arithmetic: broken submissions lose exactly the points of what they break.

Each broken submission is the reference solution with a few lines edited at test time.
"""

from __future__ import annotations

import pytest

from grading_cases import assert_loses_exactly, case_grader, message_of

ASSIGNMENT = "conv_arithmetic"

# case -> (what is broken, the (old, new) edits of the reference solution that break it,
#          the checks it must fail; every other check must pass)
CASES = {
    "avg_pool_sums": (
        "average pooling sums its windows instead of averaging them",
        [("lambda window: window.mean(dim=-1))", "lambda window: window.sum(dim=-1))")],
        {"avg_pool_lab_example", "avg_pool_matches_torch"}),
    "padding_ignored": (
        "conv_output_size ignores the padding",
        [("return (size - kernel_size + 2 * padding) // stride + 1",
          "return (size - kernel_size) // stride + 1  # bug: padding ignored")],
        {"output_size_padding_stride"}),
    "split_wrong_seed": (
        "validation_split uses its own random_state, not the course's 1212",
        [("test_size=0.2, random_state=1212)", "test_size=0.2, random_state=42)  # bug: the course uses 1212")],
        {"validation_split"}),
    # "By hand" is read from the compiled graph: torch's pooling inside the function loses the checks.
    "max_pool_calls_torch": (
        "max_pool2d hands the work to F.max_pool2d",
        [('    """Max pooling of an (N, C, H, W) tensor with loops; stride defaults to kernel_size."""\n',
          '    """Max pooling of an (N, C, H, W) tensor with loops; stride defaults to kernel_size."""\n'
          '    return torch.nn.functional.max_pool2d(x, kernel_size, stride)\n')],
        {"max_pool_lab_example", "max_pool_matches_torch", "max_pool_overlapping"}),
    "avg_pool_calls_torch": (
        "avg_pool2d hands the work to nn.AvgPool2d",
        [('    """Average pooling of an (N, C, H, W) tensor with loops; stride defaults to kernel_size."""\n',
          '    """Average pooling of an (N, C, H, W) tensor with loops; stride defaults to kernel_size."""\n'
          '    return nn.AvgPool2d(kernel_size, stride)(x)\n')],
        {"avg_pool_lab_example", "avg_pool_matches_torch"}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return case_grader(ASSIGNMENT, CASES, tmp_path_factory)


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(graded, name):
    assert_loses_exactly(graded(name), CASES[name][2])


def test_padding_message_shows_got_and_expected(graded):
    message = message_of(graded("padding_ignored"), "output_size_padding_stride")
    assert "returned 15" in message and "expected 16" in message


def test_lab_example_uses_the_lab_sheets_numbers(graded):
    message = message_of(graded("avg_pool_sums"), "avg_pool_lab_example")
    assert "[4, 3, 5, 1]" in message and "expected [2.5, 2.5, 0.5, 2.0]" in message


def test_wrong_split_message_names_the_fix(graded):
    message = message_of(graded("split_wrong_seed"), "validation_split")
    assert "item 1 of the 4 values" in message and "random_state=1212" in message


def test_pooling_by_torch_is_named_with_its_line(graded):
    # the first of the three failing checks carries the full message; the others refer to it
    message = message_of(graded("max_pool_calls_torch"), "max_pool_lab_example")
    assert "calls torch's max_pool2d" in message and "by hand" in message, message
