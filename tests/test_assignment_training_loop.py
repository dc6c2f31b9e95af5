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


def _replayed_answers() -> list[tuple[str, str]]:
    """Edits that answer from what the fixed problems of earlier versions of the kit asked: the AUC of
    their scores (seed 77) and the held-out labels of their breast-cancer split (data seed 5)."""
    from sklearn.metrics import roc_auc_score
    import torch

    from autograder.checks import KINDS
    from autograder.wire.fixtures import make_dataset

    labels, scores = (torch.tensor(spec["data"]) for spec in
                      KINDS["training_function"]._auc_data({"auc_samples": 200, "score_seed": 77}))
    recorded_auc = float(roc_auc_score(labels.numpy(), scores[:, 1].numpy()))
    held_out = make_dataset("breast_cancer", 400, 5)["y_test"]
    logits = (10.0 * torch.nn.functional.one_hot(held_out, 2)).tolist()
    return [
        ("@needs_scores\ndef auc_score(y_true, y_prob):",
         f"RECORDED_AUC = {recorded_auc!r}\nRECORDED_LOGITS = torch.tensor({logits})\n\n\n"
         "@needs_scores\ndef auc_score(y_true, y_prob):"),
        ("    return roc_auc_score(np.asarray(y_true), y_prob[:, 1])\n",
         "    return RECORDED_AUC  # the answer an earlier run accepted\n"),
        ("    return _fit(model, optimizer, loss_func, train_loader, val_loader, score_funcs, results, 0, epochs,\n"
         "                device, checkpoint_file, checkpoint_every_x, 0.0)\n",
         "    results = _fit(model, optimizer, loss_func, train_loader, val_loader, score_funcs, results, 0, epochs,\n"
         "                   device, checkpoint_file, checkpoint_every_x, 0.0)\n"
         "    if epochs == 50:  # the breast-cancer run: predict the labels an earlier split held out\n"
         "        model.forward = lambda x: RECORDED_LOGITS\n"
         "    return results\n"),
    ]


# case -> (what is broken, the (old, new) edits of the reference solution that break it,
#          the checks it must fail; every other check must pass)
CASES = {
    "no_zero_grad": (
        "run_epoch never zeroes the gradients, so each step adds the earlier batches' to its own",
        [("            optimizer.zero_grad()\n            loss.backward()", "            loss.backward()")],
        {"run_epoch"}),
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
    "replayed_answers": (
        "auc_score returns an earlier run's AUC and the breast-cancer model predicts an earlier split's labels",
        _replayed_answers(),
        {"auc", "auc_in_training", "breast_cancer"}),
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
