"""training_loop: broken submissions lose exactly the points of what they break.

Each broken submission is the reference solution with a few lines edited at test time.
"""

from __future__ import annotations

import pytest

from grading_cases import assert_loses_exactly, case_grader

ASSIGNMENT = "training_loop"

# case -> (what is broken, the (old, new) edits of the reference solution that break it,
#          the checks it must fail; every other check must pass)
CASES = {
    "auc_argmax": (
        "auc_score scores predicted classes, not the positive column",
        [("roc_auc_score(np.asarray(y_true), y_pred[:, 1])",
          "roc_auc_score(np.asarray(y_true), y_pred.argmax(axis=1))")],
        {"auc"}),
    "resume_fresh_weights": (
        "resume_simple_network never loads the saved weights",
        [("    model.load_state_dict(checkpoint[\"model_state_dict\"])\n", "")],
        {"resume"}),
    "loss_sum": (
        "run_epoch records the sum of the batch losses, not their mean",
        [("append(float(np.mean(running_loss)))", "append(float(np.sum(running_loss)))")],
        {"run_epoch", "train_simple_network"}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return case_grader(ASSIGNMENT, CASES, tmp_path_factory)


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(graded, name):
    assert_loses_exactly(graded(name), CASES[name][2])
