"""A fault of the grader never costs a student points.

The grader's executor (or a submission's process) is killed from outside with SIGKILL, as the
kernel's out-of-memory killer or another program would: once, the submission is graded again
and keeps its full marks; every time, it is reported "not graded: grader fault", with no score.
Two graders running at once on one machine give the scores each gives alone.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from autograder.commands import grade_submissions
from autograder.processes.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "solutions" / "task1_cnn" / "task1_cnn.py"


def config_without_training(folder: Path, warm: bool = True) -> Path:
    text = (ROOT / "grading.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[assignments\.task1_cnn\.checks\.(training|accuracy_bonus)\]\n(?:[^\[\n].*\n)*", "", text)
    if not warm:       # a cold child is a process of its own, which a test can kill like any other
        text = re.sub(r"(?m)^warm_start = true", "warm_start = false", text)
    for sub in ("solutions", "assignments"):
        (folder / sub).symlink_to(ROOT / sub, target_is_directory=True)
    path = folder / "grading.toml"
    path.write_text(text, encoding="utf-8")
    return path


def kill_before(monkeypatch, program: str, op: str, times: int) -> dict:
    """Make the next ``times`` questions ``op`` to a ``program`` process find it killed (SIGKILL)."""
    original = Sandbox.ask
    state = {"left": times, "killed": 0}
    lock = threading.Lock()

    def ask(self, asked_op, args, **kwargs):
        if (self.options.program == program and asked_op == op and self.process is not None
                and not self.dead_reason and self.process.poll() is None):
            with lock:
                kill = state["left"] > 0
                state["left"] -= kill
            if kill:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
                state["killed"] += 1
        return original(self, asked_op, args, **kwargs)

    monkeypatch.setattr(Sandbox, "ask", ask)
    return state


def grade(tmp_path: Path, warm: bool = True) -> tuple:
    config = config_without_training(tmp_path, warm)
    results = grade_submissions(assignment_id="task1_cnn", submissions=[REFERENCE], out_dir=tmp_path / "out",
                                config_path=config, device="cpu", jobs=1)
    with open(tmp_path / "out" / "grades.csv", encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    return results[0], row


def test_an_executor_killed_once_from_outside_is_graded_again_with_full_marks(monkeypatch, tmp_path):
    state = kill_before(monkeypatch, "executor", "forward", times=1)
    result, row = grade(tmp_path)
    assert state["killed"] == 1
    assert result.status == "graded" and result.score == result.max_score
    assert "graded a second time" in result.notes[0] and "the grader's executor crashed (killed" in result.notes[0]
    assert float(row["score"]) == result.max_score


def test_an_executor_killed_every_time_is_not_graded_rather_than_scored(monkeypatch, tmp_path):
    state = kill_before(monkeypatch, "executor", "forward", times=10)
    result, row = grade(tmp_path)
    assert state["killed"] == 2                        # the first attempt and one more
    assert result.status.startswith("not graded: grader fault (the grader's executor crashed (killed, signal 9)")
    assert "submission's process" not in result.status
    assert row["score"] == "" and row["status"].startswith("not graded: grader fault")


def test_a_submissions_process_killed_once_from_outside_is_graded_again(monkeypatch, tmp_path):
    state = kill_before(monkeypatch, "worker", "compile_model", times=1)
    result, _ = grade(tmp_path, warm=False)
    assert state["killed"] == 1
    assert result.status == "graded" and result.score == result.max_score
    assert "crashed (killed, signal 9)" in result.notes[0]


def test_two_graders_at_once_give_the_scores_each_gives_alone(tmp_path):
    """Two `autograder grade` runs on one machine (two assignments) share no process, cgroup or file."""
    runs = {
        "tensors_autograd": [ROOT / "solutions/tensors_autograd/tensors_autograd.py",
                             ROOT / "assignments/tensors_autograd/tensors_autograd.py"],
        "softmax_cross_entropy": [ROOT / "solutions/softmax_cross_entropy/softmax_cross_entropy.py",
                                  ROOT / "assignments/softmax_cross_entropy/softmax_cross_entropy.py"],
    }
    processes = {}
    for assignment, files in runs.items():
        folders = []
        for kind, file in zip(("reference", "stub"), files):
            folder = tmp_path / assignment / kind
            folder.mkdir(parents=True)
            (folder / file.name).write_bytes(file.read_bytes())
            folders.append(str(folder))
        processes[assignment] = subprocess.Popen(
            [sys.executable, "-m", "autograder", "grade", assignment, *folders, "--out",
             str(tmp_path / f"out-{assignment}"), "--config", str(ROOT / "grading.toml"), "--jobs", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for assignment, process in processes.items():
        output, _ = process.communicate(timeout=900)
        assert process.returncode in (0, 1), output
        with open(tmp_path / f"out-{assignment}" / "grades.csv", encoding="utf-8") as f:
            rows = {row["name"]: row for row in csv.DictReader(f)}
        assert rows["reference"]["status"] == "graded" and rows["stub"]["status"] == "graded", output
        assert float(rows["reference"]["score"]) == float(rows["reference"]["max_score"]), output
        assert float(rows["stub"]["score"]) == 0, output


# ----------------------------------------------------------------- the budget is work, never time

def test_a_training_run_over_the_work_budget_is_refused_before_it_starts():
    import importlib.util

    from autograder.executor.measure import MeasureFailure
    from autograder.executor.training_runs import _within_work_budget
    from autograder.executor.program import CompiledModel
    from autograder.executor.program import GraphLimits as Limits
    from autograder.child.compile import compile_module

    spec = importlib.util.spec_from_file_location("reference_task1_cnn", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    compiled = compile_module(module.Net(), [1, 28, 28], [4, 64], ["train", "eval"], REFERENCE.name)
    net = CompiledModel(compiled, "cpu", Limits())
    recipe = {"batch_size": 64, "max_steps": 3000, "eval_every": 100, "validation_size": 2000, "max_tflop": 20.0}
    _within_work_budget(net, recipe, [1, 28, 28], 10_000, "cpu")        # about 0.5 TFLOP: within
    with pytest.raises(MeasureFailure, match=r"takes about 0\.\d TFLOP \(0\.1\d GFLOP a step at batch 64\); the "
                                             r"grader's budget is 0\.1 TFLOP \(\[limits\] train_tflop\)"):
        _within_work_budget(net, {**recipe, "max_tflop": 0.1}, [1, 28, 28], 10_000, "cpu")


def test_the_same_file_gets_the_same_grade_beside_a_cpu_hog(tmp_path):
    """Training is bounded by steps and work, so a busy machine changes the time, never the score."""
    reference = ROOT / "solutions" / "linear_mlp" / "linear_mlp.py"

    def graded(name: str):
        return grade_submissions(assignment_id="linear_mlp", submissions=[reference], out_dir=tmp_path / name,
                                 config_path=ROOT / "grading.toml", device="cpu", jobs=1)[0]

    quiet = graded("quiet")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(max(2, os.cpu_count() or 2))]
    try:
        busy = graded("busy")
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert quiet.status == busy.status == "graded"
    assert [(c.name, c.points) for c in busy.checks] == [(c.name, c.points) for c in quiet.checks]
    assert busy.score == quiet.score == quiet.max_score
