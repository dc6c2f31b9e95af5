"""The command line end to end, as a teacher or student runs it."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

from conftest import BROKEN, ROOT

from autograder.checks import load_config


def run(*args, env=None, cwd=ROOT, timeout=600):
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    full_env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": path, **(env or {})}
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def test_list_shows_both_core_assignments(fast_config):
    done = run("list", "--config", str(fast_config))
    assert done.returncode == 0, done.stderr
    for word in ("task1_cnn", "lenet5", "tanh_and_average_pooling", "log_probabilities", "total"):
        assert word in done.stdout


def test_list_shows_each_checks_own_description(fast_config):
    done = run("list", "--config", str(fast_config))
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "validation_split" in text and "random_state=1212" in text
    assert "drives x to target" in text                 # minimize_quadratic, not the kind's summary
    assert "a function returns the expected value" not in text


def test_bad_config_is_an_error_without_traceback(tmp_path):
    text = (ROOT / "grading.toml").read_text().replace("min_test_accuracy = 0.95", "min_acuracy = 0.95")
    bad = tmp_path / "grading.toml"
    bad.write_text(text)
    for command in (["list"], ["check", "lenet5", "x.py"]):
        done = run(*command, "--config", str(bad))
        assert done.returncode != 0
        assert "Error: " in done.stderr and "min_acuracy" in done.stderr
        assert "Traceback" not in done.stderr + done.stdout


def test_missing_data_folder_is_a_clear_error_when_grading(fast_config, tmp_path):
    """An instructor's batch stops: grades without the training checks would be wrong grades.
    (A student's `check` runs what needs no data: tests/test_offline.py.)"""
    empty = tmp_path / "nodata"
    empty.mkdir()
    done = run("grade", "lenet5", str(ROOT / "solutions" / "lenet5" / "lenet5.py"), "--config", str(fast_config),
               "--data-dir", str(empty), "--out", str(tmp_path / "out"),
               env={"AUTOGRADER_CACHE": str(tmp_path / "cache")})
    assert done.returncode != 0
    assert "Error: " in done.stderr and "t10k-images-idx3-ubyte" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_unknown_assignment_and_missing_file(fast_config, tmp_path):
    done = run("check", "lenet6", "x.py", "--config", str(fast_config))
    assert done.returncode != 0 and "unknown assignment 'lenet6'" in done.stderr
    done = run("check", "lenet5", "--config", str(fast_config), cwd=tmp_path)
    assert done.returncode != 0 and "no lenet5.py in the current folder" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_a_stub_shows_its_checks_and_fails(fast_config, tmp_path):
    page = tmp_path / "stub_feedback.html"
    done = run("check", "lenet5", str(ROOT / "assignments" / "lenet5" / "lenet5.py"), "--config", str(fast_config),
               "--device", "cpu", "--feedback-page", str(page))
    assert done.returncode == 1, done.stderr
    assert "parameter_count" in done.stdout and "0/20" in done.stdout.replace(" ", "")
    assert f"feedback page: {page}" in " ".join(done.stdout.split()) and "parameter_count" in page.read_text()


def test_check_writes_the_feedback_page_beside_the_file(fast_config, tmp_path):
    submission = tmp_path / "work" / "tensors_autograd.py"
    submission.parent.mkdir()
    shutil.copy(ROOT / "solutions" / "tensors_autograd" / "tensors_autograd.py", submission)
    done = run("check", "tensors_autograd", "--config", str(fast_config), cwd=submission.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    page = submission.parent / "tensors_autograd_feedback.html"
    assert f"feedback page: {page.name}" in done.stdout
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    total = sum(c.points for c in load_config().assignment("tensors_autograd").checks)
    assert f"{total:g} / {total:g}" in page.read_text(encoding="utf-8")


def test_grade_writes_a_result_for_every_submission(fast_config, tmp_path):
    good = tmp_path / "alice.py"
    shutil.copy(ROOT / "solutions" / "task1_cnn" / "task1_cnn.py", good)
    syntax = tmp_path / "bob.py"
    syntax.write_text("class Net(nn.Module:\n    pass\n")
    folder = tmp_path / "carol"
    folder.mkdir()
    shutil.copy(BROKEN / "task1_cnn" / "softmax_output.py", folder / "task1_cnn.py")
    missing = tmp_path / "dave.py"
    out = tmp_path / "out"
    done = run("grade", "task1_cnn", str(good), str(syntax), str(folder), str(missing), "--out", str(out),
               "--config", str(fast_config), "--device", "cpu", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    scores = {}
    for name in ("alice", "bob", "carol", "dave"):
        data = json.loads((out / name / "results.json").read_text())
        assert len(data["tests"]) == 11
        scores[name] = data["score"]
    assert scores == {"alice": 20, "bob": 0, "carol": 18, "dave": 0}
    bob = json.loads((out / "bob" / "results.json").read_text())
    assert "SyntaxError" in bob["tests"][0]["output"] or "syntax" in bob["tests"][0]["output"].lower()
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert sorted(r["name"] for r in rows) == ["alice", "bob", "carol", "dave"]
    assert "log_probabilities" in rows[0] and "training" in rows[0]
    carol = next(r for r in rows if r["name"] == "carol")
    assert carol["log_probabilities"] == "0" and carol["training"] == "6"
    for name in ("alice", "bob", "carol", "dave"):
        assert (out / name / "feedback.html").is_file()
    report = (out / "report.html").read_text(encoding="utf-8")
    assert all(f'href="{name}/feedback.html"' in report for name in ("alice", "bob", "carol", "dave"))


def test_verify_one_assignment(fast_config):
    done = run("verify", "lenet5", "--config", str(fast_config), "--device", "cpu")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok lenet5 solution" in done.stdout and "ok lenet5 stub" in done.stdout


def test_only_the_command_line_imports_the_commands():
    """commands.py sits on top: the modules below it (integrations included) never import it back."""
    import ast

    package = ROOT / "autograder"
    importers = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                names = [module] + [f"{module}.{a.name}" if module else a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(name.split(".")[-1] == "commands" for name in names):
                importers.append(path.relative_to(package).as_posix())
    assert sorted(set(importers)) == ["cli.py"]
