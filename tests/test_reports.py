"""results.json follows Gradescope's schema; grades.csv has a row per submission, a column per check;
whatever a submission wrote reaches them, and the console, as capped plain text."""

from __future__ import annotations

import csv
import io
import json

import pytest
from rich.console import Console

from autograder.intake.names import folder_name, unique_folder_names as _unique_names
from autograder.reports.results_files import (IDENTITY_COLUMNS, MAX_RESULTS_BYTES, print_result, results_json, summary_table,
                                write_grades_csv, write_results_json)
from autograder.grading.results import CheckResult, SubmissionResult


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
    assert list(rows[0]) == ["name", "platform_name", "platform_user_id", "platform_entry", "attempt",
                             "score", "max_score", "status", "builds", "training"]
    assert all(rows[0][column] == "" for column in IDENTITY_COLUMNS)      # not from a platform's zip
    assert [r["score"] for r in rows] == ["3.5", "2.5", "0"]
    assert rows[1]["builds"] == "0" and rows[1]["training"] == "2.5"
    assert all(r["max_score"] == "3.5" for r in rows)


# ---------------------------------------------------------------- what a submission wrote stays text

TRAP = ("\x1b[2J\x1b]8;;https://example.invalid\x07link\x1b]8;;\x07 [green]20/20[/green] [/] "
        "\r=HYPERLINK(\"https://example.invalid\")\u202e<b>x</b>")


def _hostile_result(name=TRAP, **overrides):
    checks = [CheckResult("builds", "it builds", 1, False, TRAP * 3),
              CheckResult("training", "it learns", 2, True, "ok")]
    fields = dict(status=TRAP, output=TRAP * 10, notes=[TRAP] * 3, extra={"detail": TRAP})
    fields.update(overrides)
    return SubmissionResult("lenet5", name, f"/in/{TRAP}.py", checks, **fields)


def test_control_characters_never_reach_the_reports(tmp_path):
    result = _hostile_result()
    json_text = write_results_json(result, tmp_path / "a" / "results.json").read_text(encoding="utf-8")
    csv_text = write_grades_csv([result], tmp_path / "grades.csv").read_text(encoding="utf-8")
    buffer = io.StringIO()
    console = Console(file=buffer, width=160)
    print_result(result, console)
    console.print(summary_table([result]))
    shown = buffer.getvalue()
    for text in (json.dumps(json.loads(json_text), ensure_ascii=False), csv_text, shown):
        assert not any(ch in text for ch in "\x1b\x07\r\u202e"), repr(text[:200])
    assert "[/]" in shown and "[green]20/20[/green]" in shown       # shown as typed, not interpreted


def test_markup_in_messages_does_not_break_the_console():
    result = _hostile_result(name="[/]", status="[bold]stopped[/]")
    console = Console(file=io.StringIO(), width=120)
    print_result(result, console)            # rich would raise MarkupError on '[/]' parsed as markup
    console.print(summary_table([result]))


def test_csv_cells_never_start_a_formula(tmp_path):
    results = [_hostile_result(name=name, status=status) for name, status in
               [("=HYPERLINK(1)", "+1"), ("@SUM(A1)", "-2"), ("\tTAB", "graded")]]
    # what a course platform's zip named the student is held to the same rule
    whose = [{"platform_name": "=1+1", "platform_user_id": "-5", "platform_entry": "@x\x1b[2J.py"}, None, None]
    rows = list(csv.reader(write_grades_csv(results, tmp_path / "grades.csv", whose).open(encoding="utf-8")))
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) and "\x1b" not in cell, row
    assert rows[1][0] == "'=HYPERLINK(1)" and rows[1][rows[0].index("status")] == "'+1"
    assert rows[1][1:4] == ["'=1+1", "'-5", "'@x[2J.py"]


def test_gradescope_renders_every_output_as_plain_text():
    data = results_json(_hostile_result())
    assert data["output_format"] == data["test_output_format"] == data["test_name_format"] == "text"


def test_results_json_stays_under_a_megabyte_whatever_was_printed(tmp_path):
    big = "x" * 2_000_000
    checks = [CheckResult(f"check{i}", "d", 1, False, big) for i in range(60)]
    result = SubmissionResult("lenet5", "bob", "/in/bob.py", checks, output=big, notes=[big] * 1000,
                              extra={"details": {"list": [big] * 10_000}})
    path = write_results_json(result, tmp_path / "bob" / "results.json")
    assert path.stat().st_size < MAX_RESULTS_BYTES
    data = json.loads(path.read_text(encoding="utf-8"))
    assert len(data["tests"]) == 60 and data["score"] == 0
    assert "more notes cut" in data["output"] or "characters cut" in data["output"]


@pytest.mark.parametrize("name, folder", [
    ("alice", "alice"),
    ("grades.csv", "grades.csv-submission"),
    ("GRADES.CSV", "GRADES.CSV-submission"),
    ("../../etc", "_.._etc"),
    ("/abs/path", "_abs_path"),
    (".hidden", "hidden"),
    ("..", "submission"),
    ("", "submission"),
    ("=HYPERLINK(1)", "_HYPERLINK_1_"),
    ("José García", "José_García"),
    ("a\u202eb\x1b[2J", "a_b__2J"),
])
def test_result_folder_names_stay_inside_out(name, folder):
    assert folder_name(name) == folder


def test_result_folder_names_are_unique_also_without_case(tmp_path):
    paths = [tmp_path / "a" / "Alice.py", tmp_path / "b" / "alice.py", tmp_path / "c" / "alice.py",
             tmp_path / "grades.csv.py"]
    assert _unique_names(paths, "lenet5.py") == ["Alice", "alice-2", "alice-3", "grades.csv-submission"]
