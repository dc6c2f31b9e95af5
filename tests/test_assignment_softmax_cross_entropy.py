"""softmax_cross_entropy: broken submissions lose exactly the points of what they break.

Each broken submission is the reference solution with a few lines edited at test time.
"""

from __future__ import annotations

import pytest

from grading_cases import assert_loses_exactly, case_grader, message_of

ASSIGNMENT = "softmax_cross_entropy"

SOFTMAX_SHIFT = "    shifted = z - z.max(dim=1, keepdim=True).values     # the largest logit becomes 0: exp() cannot overflow\n"
LOG_SOFTMAX = "    return shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))"

# case -> (what is broken, the (old, new) edits of the reference solution that break it,
#          the checks it must fail; every other check must pass)
CASES = {
    "softmax_unshifted": (
        "softmax exponentiates the raw logits: exp(1000) overflows",
        [(SOFTMAX_SHIFT, "    shifted = z\n")],
        {"softmax_large_logits"}),
    "softmax_whole_batch": (
        "softmax divides by the sum over the whole batch, not each row's",
        [("return e / e.sum(dim=1, keepdim=True)", "return e / e.sum()")],
        {"softmax_matches_torch"}),
    "log_of_softmax": (
        "log_softmax takes the log of softmax(z): -inf where a probability underflows",
        [(LOG_SOFTMAX, "    return torch.log(softmax(z))")],
        {"log_softmax_no_underflow"}),
    "log_softmax_whole_batch": (
        "log_softmax normalises over the whole batch; cross_entropy is built on it",
        [(LOG_SOFTMAX, "    return shifted - torch.log(torch.exp(shifted).sum())")],
        {"log_softmax_matches_torch", "cross_entropy_matches_torch"}),
    "log_softmax_unshifted": (
        "log_softmax exponentiates the raw logits; cross_entropy inherits the overflow",
        [("    shifted = z - z.max(dim=1, keepdim=True).values\n    return shifted",
          "    shifted = z\n    return shifted")],
        {"log_softmax_large_logits", "log_softmax_no_underflow", "cross_entropy_large_logits",
         "cross_entropy_gradient"}),
    "cross_entropy_sum": (
        "cross_entropy sums over the batch instead of averaging",
        [("return -picked.mean()", "return -picked.sum()")],
        {"cross_entropy_matches_torch"}),
    # by hand means by hand: the grader runs the compiled function and reads the ops it calls
    "softmax_by_torch": (
        "softmax hands the work to torch.softmax",
        [("    e = torch.exp(shifted)\n    return e / e.sum(dim=1, keepdim=True)",
          "    return torch.softmax(z, dim=1)")],
        {"softmax_matches_torch", "softmax_large_logits"}),
    "cross_entropy_by_torch": (
        "cross_entropy hands the work to F.cross_entropy (its gradient too comes from the compiled graph)",
        [("return -picked.mean()", "return torch.nn.functional.cross_entropy(logits, targets)")],
        {"cross_entropy_matches_torch", "cross_entropy_large_logits", "cross_entropy_gradient"}),
    "cross_entropy_item": (
        "cross_entropy returns a number cut from the autograd graph (the grader cannot run it either)",
        [("return -picked.mean()", "return torch.tensor(-picked.mean().item())")],
        {"cross_entropy_matches_torch", "cross_entropy_large_logits", "cross_entropy_gradient"}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return case_grader(ASSIGNMENT, CASES, tmp_path_factory)


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(graded, name):
    assert_loses_exactly(graded(name), CASES[name][2])


def test_overflow_message_names_the_fix(graded):
    message = message_of(graded("softmax_unshifted"), "softmax_large_logits")
    assert "nan" in message and "maximum" in message


def test_underflow_message_names_the_fix(graded):
    message = message_of(graded("log_of_softmax"), "log_softmax_no_underflow")
    assert "-inf" in message and "log(softmax(z))" in message
