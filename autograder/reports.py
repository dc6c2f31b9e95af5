"""Reports: Gradescope results.json, the batch's grades.csv, and terminal tables."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Iterable

from rich.console import Console
from rich.table import Table

from .results import SubmissionResult


def _points(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 3)


def results_json(result: SubmissionResult) -> dict:
    """Gradescope's autograder schema, with reproducibility facts in extra_data."""
    lines = [f"{result.assignment}: {_points(result.score)} / {_points(result.max_score)}"]
    if result.status != "graded":
        lines.append(f"Grading stopped early: {result.status}")
    lines += result.notes
    if result.output.strip():
        lines.append("Output of your code (shortened):\n" + result.output.strip())
    return {
        "score": _points(result.score),
        "execution_time": round(result.seconds, 3),
        "output": "\n".join(lines),
        "tests": [
            {
                "name": check.name,
                "score": _points(check.points),
                "max_score": _points(check.max_points),
                "status": check.status,
                "output": check.message,
                "visibility": check.visibility,
            }
            for check in result.checks
        ],
        "extra_data": {**result.extra, "status": result.status, "submission": result.source},
    }


def write_results_json(result: SubmissionResult, path: Path) -> Path:
    """Write atomically, so a grader killed mid-way never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(results_json(result), indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(partial, path)
    return path


def write_grades_csv(results: Iterable[SubmissionResult], path: Path) -> Path:
    """One row per submission: name, score, max score, status, then one column per check."""
    results = list(results)
    check_names: list[str] = []
    for result in results:
        for check in result.checks:
            if check.name not in check_names:
                check_names.append(check.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".csv.partial")
    with open(partial, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "score", "max_score", "status", *check_names])
        for result in results:
            by_name = {c.name: _points(c.points) for c in result.checks}
            writer.writerow([result.name, _points(result.score), _points(result.max_score), result.status,
                             *(by_name.get(name, "") for name in check_names)])
    os.replace(partial, path)
    return path


def check_table(result: SubmissionResult) -> Table:
    table = Table(title=f"{result.assignment}: {result.name}", show_lines=False, expand=False)
    table.add_column("check")
    table.add_column("points", justify="right")
    table.add_column("status")
    table.add_column("message", overflow="fold")
    for check in result.checks:
        status = "[green]passed[/green]" if check.passed else "[red]failed[/red]"
        table.add_row(check.name, f"{_points(check.points)}/{_points(check.max_points)}", status,
                      check.message)
    return table


def print_result(result: SubmissionResult, console: Console) -> None:
    console.print(check_table(result))
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    if result.status != "graded":
        console.print(f"[red]grading stopped early:[/red] {result.status}")
    console.print(f"[bold]total: {_points(result.score)} / {_points(result.max_score)}[/bold] "
                  f"({result.seconds:.1f} s)")


def summary_table(results: Iterable[SubmissionResult]) -> Table:
    table = Table(title="grades")
    table.add_column("submission")
    table.add_column("score", justify="right")
    table.add_column("status", overflow="fold")
    table.add_column("failed checks", overflow="fold")
    for result in results:
        failed = ", ".join(c.name for c in result.checks if not c.passed) or "-"
        table.add_row(result.name, f"{_points(result.score)}/{_points(result.max_score)}", result.status, failed)
    return table
