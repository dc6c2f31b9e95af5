"""training_loop: broken submissions lose exactly the points of what they break, and code written
as the textbook writes it earns the points of what it implements.

Each broken submission is the reference solution with a few lines edited at test time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grading_cases import assert_loses_exactly, case_grader, grade, message_of

ASSIGNMENT = "training_loop"
BOOK_STYLE = Path(__file__).resolve().parent / "book_style" / "training_loop.py"

# case -> (what is broken, the (old, new) edits of the reference solution that break it,
#          the checks it must fail; every other check must pass)
CASES = {
    "auc_argmax": (
        "auc_score scores predicted classes, not the positive column",
        [("roc_auc_score(np.asarray(y_true), y_prob[:, 1])",
          "roc_auc_score(np.asarray(y_true), y_prob.argmax(axis=1))")],
        {"auc", "auc_in_training"}),
    "scores_get_classes": (
        "run_epoch gives every score function the predicted classes, @needs_scores or not",
        [("given = probabilities if getattr(score, \"needs_scores\", False) else classes", "given = classes")],
        {"auc_in_training"}),
    "resume_fresh_weights": (
        "resume_simple_network never loads the saved weights",
        [("    model.load_state_dict(checkpoint[\"model_state_dict\"])\n", "")],
        {"resume"}),
    "loss_sum": (
        "run_epoch records the sum of the batch losses, not their mean",
        [("append(float(np.mean(running_loss)))", "append(float(np.sum(running_loss)))")],
        {"run_epoch", "train_simple_network"}),
    "one_based_epochs": (
        "not broken: epochs counted 1 to N instead of the textbook's loop index 0 to N - 1",
        [("for epoch in range(first_epoch, epochs):", "for epoch in range(first_epoch, epochs + 1):"),
         ("results, 0, epochs,", "results, 1, epochs,"),
         ("done = epoch + 1", "done = epoch")],
        set()),
    "checkpoint_epoch_off_by_one": (
        "the checkpoint counts epochs from 1 while results['epoch'] counts from 0",
        [("checkpoint = {\"epoch\": epoch,", "checkpoint = {\"epoch\": epoch + 1,")],
        # resuming starts one epoch late; the numbered copies hold the wrong epoch
        {"train_simple_network", "resume", "checkpoint_every_x"}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return case_grader(ASSIGNMENT, CASES, tmp_path_factory)


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(graded, name):
    assert_loses_exactly(graded(name), CASES[name][2])


def test_nan_auc_names_the_fix(graded):
    assert "@needs_scores" in message_of(graded("scores_get_classes"), "auc_in_training")


def test_the_textbooks_train_simple_network_earns_its_checks():
    """SGD(lr=0.001), results['epoch'] = 0..N-1, keys prepared by train_simple_network, one checkpoint
    after the loop: full marks on what that code implements (resuming, numbered checkpoints and the
    AUC wrapper are the exercises that follow it)."""
    result = grade(ASSIGNMENT, BOOK_STYLE)
    passed = {c.name for c in result.checks if c.passed}
    assert {"run_epoch", "train_simple_network", "breast_cancer"} <= passed, {
        c.name: c.message for c in result.checks if not c.passed}
