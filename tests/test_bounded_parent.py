"""The parent allocates nothing sized by a submission's values.

The parent runs unsandboxed, so whatever it builds from an answer must be
bounded before it is built. The confusion matrix is sized by the test labels
the parent holds (10 classes for MNIST), never by the largest predicted class:
a prediction outside 0-9 counts as wrong and is counted, and the check says how
many there were. Containers copied into results are cut while they are read.

The end-to-end test grades tests/hostile/many_classes.py (30,000 output
columns, the last one always the argmax) followed by the reference solution,
and watches the parent's resident memory and Python allocations throughout.
"""

from __future__ import annotations

import re
import resource
import threading
import tracemalloc
from pathlib import Path

import pytest
import torch

from autograder.checks import KINDS, JudgeContext
from autograder.commands import grade_submissions
from autograder.checks import load_config
from autograder.reports.feedback_page import feedback_html
from autograder.reports.feedback_text import feedback_markdown
from autograder.grading.results import DETAIL_ITEMS, SubmissionResult, clean_data
from autograder.grading.facts import confusion as _confusion, page_facts as _feedback_data
from autograder.wire.answers import Answer

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = Path(__file__).resolve().parent / "hostile" / "many_classes.py"
REFERENCE = ROOT / "solutions" / "lenet5" / "lenet5.py"
CLASSES = 30_000
# The old parent built a CLASSES x CLASSES int64 matrix and a Python list of it: 7.2 GB and more.
# These bounds leave a loaded machine plenty of room and are still a small fraction of that.
GROWTH_MIB = 1024           # resident memory above where the parent stood before grading
PYTHON_PEAK_MIB = 256       # Python allocations while grading (tracemalloc)


class PeakRss(threading.Thread):
    """Samples this process's resident memory (VmRSS) until stopped; ru_maxrss alone is the lifetime peak,
    which earlier tests in the same process may have set."""

    def __init__(self, every: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.every, self.stopping = every, threading.Event()
        self.start_mib = self.peak_mib = self._now()

    @staticmethod
    def _now() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            self.peak_mib = max(self.peak_mib, self._now())

    def __enter__(self) -> "PeakRss":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.join(timeout=5)
        self.peak_mib = max(self.peak_mib, self._now())


def _training_check():
    assignment = load_config().assignment("lenet5")
    check = next(c for c in assignment.checks if c.kind == "test_accuracy")
    return assignment, check, KINDS[check.kind]


def _labels(n: int = 10_000) -> torch.Tensor:
    return torch.arange(n) % 10


# ------------------------------------------------------------------ quick: the parent's code on made-up answers

def test_predictions_outside_the_classes_are_counted_not_sized():
    labels = _labels()
    predictions = labels.clone()
    predictions[:100] = CLASSES - 1
    predictions[100:110] = -5
    predictions[110:111] = 2 ** 62
    matrix, outside, classes = _confusion(predictions, labels)
    assert classes == 10 and outside == 111
    assert len(matrix) == 10 and all(len(row) == 10 for row in matrix)
    assert sum(map(sum, matrix)) == len(labels) - 111
    assert sum(matrix[i][i] for i in range(10)) == len(labels) - 111      # the rest were right
    # no class at all inside the range: an empty matrix of the labels' size, every prediction counted
    matrix, outside, _ = _confusion(torch.full_like(labels, CLASSES - 1), labels)
    assert outside == len(labels) and matrix == [[0] * 10 for _ in range(10)]


def test_feedback_data_of_a_30000_class_model_stays_small():
    assignment, check, kind = _training_check()
    questions = kind.questions(check, assignment)
    labels = _labels()
    answer = {"predictions": torch.full_like(labels, CLASSES - 1), "steps": 100, "seconds": 1.0,
              "history": [[step, 0.0, 10.0] for step in range(1, 20_001)]}
    answers = {questions[0].key: Answer(ok=True, value=answer)}
    context = JudgeContext(test_labels=labels)
    judged = {check.name: kind.verdict(check, assignment, questions, [answers[questions[0].key]], context).details}
    tracemalloc.start()
    try:
        with PeakRss(every=0.005) as rss:
            data = _feedback_data([(check, kind, questions)], answers, context, judged)
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    training = data["training"]
    assert training["classes"] == 10 and training["predictions_not_a_class"] == len(labels)
    assert training["confusion_matrix"] == [[0] * 10 for _ in range(10)] and training["test_accuracy"] == 0.0
    assert len(training["history"]) == 10_000                    # cut to what a page shows before it is copied
    assert python_peak < 16 * 2**20, python_peak
    assert rss.peak_mib - rss.start_mib < 256, (rss.start_mib, rss.peak_mib)


def test_the_check_says_how_many_predictions_were_not_a_class():
    assignment, check, kind = _training_check()
    questions = kind.questions(check, assignment)
    labels = _labels(1000)
    predictions = labels.clone()
    predictions[:400] = CLASSES - 1
    answer = {"predictions": predictions, "steps": 100, "seconds": 1.0, "history": [[100, 0.6, 1.0]]}
    verdict = kind.verdict(check, assignment, questions, [Answer(ok=True, value=answer)],
                           JudgeContext(test_labels=labels))
    assert not verdict.passed and "test accuracy 60.00%" in verdict.message
    assert "400 test predictions were not a class 0-9 and counted as wrong" in verdict.message
    assert verdict.details["predictions_not_a_class"] == 400
    answer["predictions"] = labels.clone()
    answer["predictions"][0] = -1
    verdict = kind.verdict(check, assignment, questions, [Answer(ok=True, value=answer)],
                           JudgeContext(test_labels=labels))
    assert verdict.passed and verdict.details["predictions_not_a_class"] == 1


def test_pages_report_predictions_that_are_not_a_class():
    result = SubmissionResult("lenet5", "bob", "/in/bob/lenet5.py", [], extra={"training": {
        "history": [[100, 0.0, 9.0]], "test_accuracy": 0.0, "steps": 100, "classes": 10,
        "predictions_not_a_class": 10_000, "confusion_matrix": [[0] * 10 for _ in range(10)]}})
    assert "10,000 test predictions were not a class 0-9 and counted as wrong" in feedback_html(result)
    assert "10,000 test predictions were not a class 0\\-9 and counted as wrong" in feedback_markdown(result)


def test_extra_data_is_cut_while_read_not_copied_whole():
    extra = {"history": list(range(2_000_000)),      # 16 MB of pointers: a whole copy would show in the peak
             "mapping": dict.fromkeys(range(200_000), 1)}
    tracemalloc.start()
    try:
        cleaned = clean_data(extra)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(cleaned["history"]) == DETAIL_ITEMS and len(cleaned["mapping"]) == DETAIL_ITEMS
    assert peak < 4 * 2**20, peak


# ------------------------------------------------------------------ end to end: a batch through the real grader

def _config(folder: Path) -> Path:
    """grading.toml with lenet5 only and a short recipe (100 steps, one validation)."""
    text = (ROOT / "grading.toml").read_text(encoding="utf-8")
    head = text[:re.search(r"(?m)^\[assignments\.", text).start()]
    start = re.search(r"(?m)^\[assignments\.lenet5\]", text).start()
    end = text.find("\n# ----", start)
    section = text[start:] if end < 0 else text[start:end]
    for key, value in (("max_steps", "100"), ("eval_every", "100"), ("validation_size", "1000"),
                       ("stop_at_validation_accuracy", "0.95"), ("min_test_accuracy", "0.5"),
                       ("partial_credit_from", "0.4")):
        section, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", section)
        assert count, key
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "grading.toml"
    path.write_text(head.replace("allow_download = true", "allow_download = false") + section, encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_30000_class_model_leaves_the_parent_flat_and_the_next_gets_full_marks(tmp_path, training_data):
    config = _config(tmp_path / "kit")
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        with PeakRss() as rss:
            hostile, reference = grade_submissions(
                assignment_id="lenet5", submissions=[HOSTILE, REFERENCE], out_dir=tmp_path / "out",
                config_path=config, data_dir=training_data, device="cpu", jobs=1)
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    after_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    growth = rss.peak_mib - rss.start_mib
    print(f"parent resident memory: {rss.start_mib:.0f} MiB before, {rss.peak_mib:.0f} MiB at most while grading "
          f"(+{growth:.0f} MiB); ru_maxrss {before_kib / 1024:.0f} -> {after_kib / 1024:.0f} MiB; "
          f"Python allocations peaked at {python_peak / 2**20:.1f} MiB")
    assert growth < GROWTH_MIB, growth
    assert after_kib - before_kib < GROWTH_MIB * 1024, (before_kib, after_kib)
    assert python_peak < PYTHON_PEAK_MIB * 2**20, python_peak

    training = {c.name: c for c in hostile.checks}["training"]
    run = hostile.extra["training"]
    assert not training.passed, training.message
    assert re.search(r"[\d,]+ test predictions were not a class 0-9 and counted as wrong", training.message)
    assert run["classes"] == 10 and run["predictions_not_a_class"] > 0
    assert len(run["confusion_matrix"]) == 10 and all(len(row) == 10 for row in run["confusion_matrix"])
    size = (tmp_path / "out" / hostile.name / "results.json").stat().st_size
    print(f"results.json of the 30,000-class model: {size:,} bytes")
    assert size < 200_000
    page = (tmp_path / "out" / hostile.name / "feedback.html").read_text(encoding="utf-8")
    assert "test predictions were not a class 0-9" in page

    assert reference.score == reference.max_score, [(c.name, c.message) for c in reference.checks if not c.passed]
    assert reference.extra["training"]["predictions_not_a_class"] == 0
