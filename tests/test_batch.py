"""A batch never stops for one submission: a grader fault, an unwritable result, a name that attacks the reports."""

from __future__ import annotations

import csv
from pathlib import Path

from autograder.grading import batch
from autograder.settings import plan as jobs
from autograder.commands import grade_submissions
from autograder.grading.results import CheckResult, SubmissionResult


def _fake_grading(monkeypatch, broken: str) -> None:
    """Grade without children: every check passes, except that the grader itself breaks on ``broken``."""
    def grade(setup, path):
        if broken in str(path):
            raise ZeroDivisionError("a bug in the grader")
        checks = [CheckResult(c.name, c.description, c.points, True, "ok") for c in setup.assignment.checks]
        return SubmissionResult(setup.assignment.id, Path(path).stem, str(path), checks)
    monkeypatch.setattr(batch, "grade_submission", grade)


def test_a_grader_fault_on_one_submission_leaves_the_others_graded(tmp_path, monkeypatch, real_config):
    _fake_grading(monkeypatch, "bob")
    paths = [tmp_path / f"{name}.py" for name in ("alice", "bob", "carol")]
    results = grade_submissions(assignment_id="tensors_autograd", submissions=paths, out_dir=tmp_path / "out",
                                config_path=real_config)
    by_name = {r.name: r for r in results}
    assert by_name["alice"].score == by_name["alice"].max_score == by_name["carol"].score
    assert by_name["bob"].score == 0
    assert "the grader failed on this submission (ZeroDivisionError: a bug in the grader)" in by_name["bob"].status
    for name in ("alice", "bob", "carol"):
        assert (tmp_path / "out" / name / "results.json").is_file()
    rows = list(csv.DictReader((tmp_path / "out" / "grades.csv").open(encoding="utf-8")))
    assert [row["name"] for row in rows] == ["alice", "bob", "carol"]


def test_a_result_that_cannot_be_written_is_reported_not_raised(tmp_path, monkeypatch, real_config):
    _fake_grading(monkeypatch, "nobody")
    out = tmp_path / "out"
    out.mkdir()
    (out / "alice").write_text("a file where the result folder should go")
    results = grade_submissions(assignment_id="tensors_autograd", out_dir=out, config_path=real_config,
                                submissions=[tmp_path / "alice.py", tmp_path / "bob.py"])
    assert "results.json could not be written" in results[0].status
    assert (out / "bob" / "results.json").is_file()
    rows = list(csv.DictReader((out / "grades.csv").open(encoding="utf-8")))
    assert [row["name"] for row in rows] == ["alice", "bob"]


def test_names_that_attack_the_reports_get_safe_folders(tmp_path, monkeypatch, real_config):
    _fake_grading(monkeypatch, "nobody")
    out = tmp_path / "out"
    paths = [tmp_path / "grades.csv.py", tmp_path / "=HYPERLINK(1).py", tmp_path / ".hidden.py",
             tmp_path / "sub" / "..py"]
    results = grade_submissions(assignment_id="tensors_autograd", out_dir=out, config_path=real_config,
                                submissions=paths)
    assert [r.name for r in results] == ["grades.csv-submission", "_HYPERLINK_1_", "hidden", "submission"]
    assert (out / "grades.csv").is_file()
    assert sorted(p.name for p in out.iterdir()) == sorted([r.name for r in results] + ["grades.csv", "report.html"])


def test_jobs_default_to_the_usable_cores_and_share_them_out(tmp_path, monkeypatch, real_config):
    monkeypatch.setattr(jobs, "usable_cores", lambda: 4)
    assert jobs.default_jobs(1) == 1              # one submission keeps every core for its threads
    assert jobs.default_jobs(3) == 3
    assert jobs.default_jobs(30) == 4
    seen = []

    def grade(setup, path):
        seen.append(setup.threads)
        return SubmissionResult(setup.assignment.id, Path(path).stem, str(path), [])
    monkeypatch.setattr(batch, "grade_submission", grade)
    grade_submissions(assignment_id="tensors_autograd", submissions=[tmp_path / f"s{i}.py" for i in range(8)],
                      out_dir=tmp_path / "out", config_path=real_config)
    assert seen == [1] * 8                         # 4 jobs on 4 cores: one thread each
    seen.clear()
    grade_submissions(assignment_id="tensors_autograd", submissions=[tmp_path / "only.py"],
                      out_dir=tmp_path / "out1", config_path=real_config)
    assert seen == [4]
