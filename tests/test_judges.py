"""Judges on their own: fake answers in, verdict out (no sandbox, no executor, no training)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import torch

from autograder.checks import KINDS, JudgeContext
from autograder.commands import check_submission
from autograder.checks import load_config
from autograder.wire.answers import Answer
from autograder.grading.batch import is_grader_fault

CONFIG = load_config()


def judge(assignment_id: str, check_name: str, *values, context: JudgeContext | None = None):
    assignment = CONFIG.assignment(assignment_id)
    check = next(c for c in assignment.checks if c.name == check_name)
    kind = KINDS[check.kind]
    questions = kind.questions(check, assignment)
    answers = [Answer(ok=True, value=v) for v in values]
    assert len(answers) == len(questions)
    return kind.verdict(check, assignment, questions, answers, context or JudgeContext())


def log_probs(n: int, classes: int = 10) -> torch.Tensor:
    return torch.log_softmax(torch.randn(n, classes), dim=1)


def test_output_shape_names_the_fix_for_a_wrong_last_layer():
    outputs = [{"outputs": [log_probs(n, 12)], "calls": None} for n in (1, 7, 64)]
    verdict = judge("task1_cnn", "output_shape", *outputs)
    assert not verdict.passed and "out_features of your last Linear" in verdict.message


def test_output_kind_tells_probabilities_from_log_probabilities():
    probs = {"outputs": [torch.softmax(torch.randn(16, 10), 1)], "calls": None}
    verdict = judge("task1_cnn", "log_probabilities", probs)
    assert not verdict.passed and "F.log_softmax(x, dim=1)" in verdict.message
    assert judge("task1_cnn", "log_probabilities", {"outputs": [log_probs(16)], "calls": None}).passed


def test_dropout_active_wants_finite_outputs_that_differ():
    nan = torch.full((16, 10), float("nan"))
    assert not judge("task1_cnn", "dropout_active", {"outputs": [nan, nan], "calls": None}).passed
    same = log_probs(16)
    assert not judge("task1_cnn", "dropout_active", {"outputs": [same, same.clone()], "calls": None}).passed
    assert judge("task1_cnn", "dropout_active", {"outputs": [same, log_probs(16)], "calls": None}).passed


def test_parameter_count_shows_the_count_by_layer():
    params = [["conv1.weight", [6, 1, 5, 5], True], ["conv1.bias", [6], True]]
    verdict = judge("lenet5", "parameter_count", {"parameters": params}, {"parameters": params})
    assert not verdict.passed and "expected 61,706" in verdict.message and "conv1 156" in verdict.message


def test_hidden_layers_counts_dropouts_between_the_convolutions_and_the_output():
    calls = [["conv2d", [4, 10, 24, 24], 260], ["max_pool2d", None, 0], ["relu", None, 0],
             ["conv2d", [4, 20, 8, 8], 5020], ["dropout2d", None, 0], ["max_pool2d", None, 0], ["relu", None, 0],
             ["flatten", None, 0], ["linear", [4, 50], 16050], ["relu", None, 0], ["linear", [4, 10], 510],
             ["log_softmax", None, 0]]
    verdict = judge("task1_cnn", "structure", {"outputs": [], "calls": calls})
    assert not verdict.passed and "uses 1 dropout" in verdict.message and "at least 2" in verdict.message
    calls.insert(10, ["dropout", None, 0])
    assert judge("task1_cnn", "structure", {"outputs": [], "calls": calls}).passed
    assert judge("task1_cnn", "convolutional", {"outputs": [], "calls": calls}).passed


def test_test_accuracy_is_scored_against_labels_only_the_parent_holds():
    labels = torch.arange(100) % 10
    context = JudgeContext(test_labels=labels)
    right = {"predictions": labels.clone(), "history": [[100, 0.95, 0.2]], "steps": 100, "seconds": 1.0}
    assert judge("task1_cnn", "training", right, context=context).passed
    wrong = {**right, "predictions": (labels + 1) % 10}
    verdict = judge("task1_cnn", "training", wrong, context=context)
    assert not verdict.passed and "0.00%" in verdict.message
    short = {**right, "predictions": labels[:50]}
    assert not judge("task1_cnn", "training", short, context=context).passed


def test_a_hand_written_module_that_calls_the_torch_op_fails_naming_it():
    answer = {"elements": 10, "runs": [], "repeated_masks": 0, "eval_shape": [100, 1000], "eval_change": 0.0,
              "parameters": [], "ops": [["rand_like", 25], ["dropout", 26]]}
    verdict = judge("dropout_batchnorm", "dropout", answer, answer)
    assert not verdict.passed and "uses aten.dropout (line 26)" in verdict.message
    assert "rand_like" not in verdict.message.split(", which")[0]     # allowed: only the op doing the work is named



def test_a_judge_that_does_not_finish_fails_its_check_and_the_rest_are_judged(tmp_path, monkeypatch):
    """A last resort behind the bounded answers: a judge still busy after judge_seconds fails its
    check with the reason, and grading goes on with the next check."""
    root = Path(__file__).resolve().parent.parent
    config = tmp_path / "grading.toml"
    config.write_text((root / "grading.toml").read_text(encoding="utf-8")
                      .replace("judge_seconds = 20.0", "judge_seconds = 3.0"), encoding="utf-8")
    release = threading.Event()

    class Stuck(type(KINDS["parameter_count"])):
        def verdict(self, *args):
            while not release.is_set():     # pure Python: it holds the GIL between thread switches
                pass

    monkeypatch.setitem(KINDS, "parameter_count", Stuck())
    stuck = {c.name for c in CONFIG.assignment("conv_arithmetic").checks if c.kind == "parameter_count"}
    started = time.monotonic()
    try:
        result = check_submission(assignment_id="conv_arithmetic", config_path=config,
                                  path=root / "solutions" / "conv_arithmetic" / "conv_arithmetic.py")
    finally:
        release.set()           # the judge left behind stops spinning once the test is over
    assert time.monotonic() - started < 120
    by_name = {c.name: c for c in result.checks}
    assert stuck and all(not by_name[n].passed and "gave up judging this check after 3 s" in by_name[n].message
                         for n in stuck)
    assert all(c.passed for c in result.checks if c.name not in stuck)
    # a judge's deadline says more of the grader's machine than of the bounded answers: a fault of the
    # grader's (a batch grades it again, then leaves it not graded), never a lost point for the student
    assert result.status.startswith("the grader failed to judge parameter_count"), result.status
    assert is_grader_fault(result.status)


def test_in_a_batch_a_judge_past_its_deadline_leaves_the_submission_not_graded(tmp_path, monkeypatch):
    """Graded twice (the second attempt says why it ran), then not graded: no score in grades.csv, so a
    person looks at it, instead of a score with points lost to a busy machine."""
    import csv

    from autograder.commands import grade_submissions

    root = Path(__file__).resolve().parent.parent
    config = tmp_path / "grading.toml"
    config.write_text((root / "grading.toml").read_text(encoding="utf-8")
                      .replace("judge_seconds = 20.0", "judge_seconds = 3.0"), encoding="utf-8")
    release = threading.Event()
    calls = []

    class Stuck(type(KINDS["output_shape"])):
        def verdict(self, *args):
            calls.append(1)
            release.wait(60)

    monkeypatch.setitem(KINDS, "output_shape", Stuck())
    try:
        (result,) = grade_submissions(assignment_id="conv_arithmetic", config_path=config, out_dir=tmp_path / "out",
                                      submissions=[root / "solutions" / "conv_arithmetic" / "conv_arithmetic.py"],
                                      device="cpu", jobs=1)
    finally:
        release.set()
    assert len(calls) == 2                                     # judged once more before giving up
    assert result.status.startswith("not graded: grader fault (the grader failed to judge output_shape"), result.status
    with open(tmp_path / "out" / "grades.csv", newline="", encoding="utf-8") as f:
        (row,) = list(csv.DictReader(f))
    assert row["score"] == "" and row["status"].startswith("not graded")


def test_a_reference_function_is_imported_before_any_judge_runs(tmp_path):
    """The first import of a judge's reference library (scikit-learn's, about a second, far more on a
    busy machine) happens while the batch is set up, not inside a judge's deadline."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    probe = (
        "import sys\n"
        "from autograder.checks import load_config\n"
        "from autograder.grading.batch import grading_setup\n"
        f"config = load_config({str(root / 'grading.toml')!r})\n"
        "assert 'sklearn.model_selection' not in sys.modules\n"
        "with grading_setup(config=config, assignment=config.assignment('conv_arithmetic'), data_dir=None,\n"
        "                   device='cpu', seed=0, warm=False):\n"
        "    print('sklearn.model_selection' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.stdout.strip().splitlines()[-1:] == ["True"], done.stdout + done.stderr[-2000:]
