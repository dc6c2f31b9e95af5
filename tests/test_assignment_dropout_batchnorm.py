"""dropout_batchnorm: broken submissions lose exactly the points of what they break.

Each broken submission is the reference solution with a few lines edited at test time.
"""

from __future__ import annotations

import pytest

from grading_cases import assert_loses_exactly, case_grader, message_of

ASSIGNMENT = "dropout_batchnorm"

# case -> (what is broken, the (old, new) edits of the reference solution that break it,
#          the checks it must fail; every other check must pass)
CASES = {
    "dropout_no_rescale": (
        "MyDropout does not scale the survivors by 1/(1-p)",
        [("return x * keep / (1.0 - self.p)", "return x * keep")],
        {"dropout"}),
    "eval_batch_stats": (
        "MyBatchNorm2d uses the batch statistics in eval mode too",
        [("        # x: (N, C, H, W); statistics per channel, shape (C,)\n"
          "        if self.training:\n"
          "            mean = x.mean(dim=(0, 2, 3))\n"
          "            var = x.var(dim=(0, 2, 3), unbiased=False)\n",
          "        # x: (N, C, H, W); the batch's statistics in both modes (the bug)\n"
          "        mean = x.mean(dim=(0, 2, 3))\n"
          "        var = x.var(dim=(0, 2, 3), unbiased=False)\n"
          "        if self.training:\n"),
         ("                unbiased = var * count / max(count - 1, 1)\n", ""),
         ("add_(self.momentum * unbiased)", "add_(self.momentum * var * count / (count - 1))"),
         ("        else:\n            mean, var = self.running_mean, self.running_var\n", "")],
        {"batchnorm_eval"}),
    # Right values, but the buffers keep every batch's graph alive: nn.BatchNorm2d updates them without autograd.
    "running_stats_with_grad": (
        "MyBatchNorm2d updates its running statistics with autograd recording",
        [("            with torch.no_grad():\n                unbiased", "            with torch.enable_grad():\n                unbiased")],
        {"batchnorm_train"}),
    # "By hand" is read from the compiled graph: calling the op being replaced loses the check.
    "dropout_calls_torch": (
        "MyDropout hands the work to F.dropout",
        [("        keep = (torch.rand_like(x) >= self.p).to(x.dtype)   # 1 where the element survives\n"
          "        return x * keep / (1.0 - self.p)\n",
          "        return torch.nn.functional.dropout(x, self.p, True)\n")],
        {"dropout", "dropout_gradient"}),
    "batchnorm_calls_torch": (
        "MyBatchNorm2d hands the work to F.batch_norm",
        [("        shape = (1, -1, 1, 1)\n",
          "        return torch.nn.functional.batch_norm(x, self.running_mean.clone(), self.running_var.clone(),\n"
          "                                              self.weight, self.bias, self.training, 0.0, self.eps)\n"
          "        shape = (1, -1, 1, 1)\n")],
        {"batchnorm_train", "batchnorm_eval"}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return case_grader(ASSIGNMENT, CASES, tmp_path_factory)


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(graded, name):
    assert_loses_exactly(graded(name), CASES[name][2])


@pytest.mark.parametrize("name, check, op", [("dropout_calls_torch", "dropout", "dropout"),
                                             ("batchnorm_calls_torch", "batchnorm_train", "batch_norm")])
def test_calling_the_replaced_op_is_named_with_its_line(graded, name, check, op):
    text = message_of(graded(name), check)
    assert f"uses aten.{op} (line " in text and "by hand" in text, text
