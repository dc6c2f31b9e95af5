"""results.json follows Gradescope's schema; grades.csv has a row per submission, a column per check."""

from __future__ import annotations

import csv
import json

from autograder.reports import results_json, write_grades_csv, write_results_json
from autograder.results import CheckResult, SubmissionResult


def _result(name, passes, status="graded"):
    checks = [CheckResult("builds", "it builds", 1, passes[0], "ok" if passes[0] else "no class"),
              CheckResult("training", "it learns", 2.5, passes[1], "acc", visibility="hidden")]
    return SubmissionResult("lenet5", name, f"/in/{name}.py", checks, status=status, seconds=1.23456,
                            output="printed", notes=["a note"], extra={"seed": 0})


def test_results_json_schema(tmp_path):
    path = write_results_json(_result("alice", [True, False]), tmp_path / "alice" / "results.json")
    data = json.loads(path.read_text())
    assert {"score", "execution_time", "output", "tests"} <= set(data)
    assert data["score"] == 1 and data["execution_time"] == 1.235
    assert "a note" in data["output"] and "printed" in data["output"]
    assert [t["name"] for t in data["tests"]] == ["builds", "training"]
    for test in data["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(test)
        assert test["status"] in ("passed", "failed")
    assert data["tests"][1] == {"name": "training", "score": 0, "max_score": 2.5, "status": "failed",
                                "output": "acc", "visibility": "hidden"}
    assert data["extra_data"]["seed"] == 0
    assert not list(tmp_path.rglob("*.partial"))


def test_stopped_grading_is_explained():
    data = results_json(_result("bob", [False, False], status="the submission ran out of memory"))
    assert data["score"] == 0
    assert "ran out of memory" in data["output"]


def test_grades_csv_one_row_per_submission_one_column_per_check(tmp_path):
    results = [_result("alice", [True, True]), _result("bob", [False, True]), _result("carol", [False, False])]
    path = write_grades_csv(results, tmp_path / "grades.csv")
    rows = list(csv.DictReader(path.open()))
    assert [r["name"] for r in rows] == ["alice", "bob", "carol"]
    assert list(rows[0]) == ["name", "score", "max_score", "status", "builds", "training"]
    assert [r["score"] for r in rows] == ["3.5", "2.5", "0"]
    assert rows[1]["builds"] == "0" and rows[1]["training"] == "2.5"
    assert all(r["max_score"] == "3.5" for r in rows)
