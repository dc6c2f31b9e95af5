"""Reports: Gradescope results.json, the batch's grades.csv, and terminal tables.

Text that came from a submission is data, never markup: the console shows it
as rich ``Text`` (no markup parsed; grading/results.py already dropped control
characters), CSV cells that a spreadsheet would run as a formula are
neutralised, and Gradescope is told to render every output as plain text.
results.json stays under ``MAX_RESULTS_BYTES`` whatever the submission did.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..grading.leaderboard import recorded as leaderboard_entries
from ..grading.results import MESSAGE_CHARS, NAME_CHARS, SubmissionResult
from ..intake.text import clean_text
from ..grading.root_cause import ROOT_CAUSE_NOTE

MAX_RESULTS_BYTES = 1_000_000
# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# grades.csv's columns after the name, telling whose a row is when it came from a course platform's zip:
# the name, user id and entry the platform gave, and "newest" or "earlier" (kit.bulk_duplicates = "all").
IDENTITY_COLUMNS = ("platform_name", "platform_user_id", "platform_entry", "attempt")


def _points(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 3)


def score_text(result: SubmissionResult) -> str:
    """'17.5 / 20', or '21.5 / 20 (2 of it extra credit)' when extra credit earned points."""
    text = f"{_points(result.score)} / {_points(result.max_score)}"
    if result.extra_score:
        text += f" ({_points(result.extra_score)} of it extra credit)"
    return text


def check_points(check) -> str:
    """'3.7/6', or '1.5/2 extra' for an extra-credit check."""
    return f"{_points(check.points)}/{_points(check.max_points)}" + (" extra" if check.extra_credit else "")


def _test(check) -> dict:
    """One check as a Gradescope test. Partial credit: its score below max_score, status "failed". Extra
    credit: max_score 0 (its points are beyond the total), the score it earned, and a first line saying so."""
    output = check.message
    if check.extra_credit:
        output = f"Extra credit: up to {_points(check.max_points)} points on top of the total.\n{output}"
    return {
        "name": check.name,
        "score": _points(check.points),
        "max_score": 0 if check.extra_credit else _points(check.max_points),
        "status": check.status,
        "output": output,
        "visibility": check.visibility,
    }


def results_json(result: SubmissionResult) -> dict:
    """Gradescope's autograder schema, with reproducibility facts in extra_data. ``score`` counts extra
    credit, so it may exceed the total; ``leaderboard`` is there when the assignment ranks submissions."""
    result.sanitize()
    lines = [f"{result.assignment}: {score_text(result)}"]
    if result.status != "graded":
        lines.append(f"Grading stopped early: {result.status}")
    lines += result.notes
    if result.output.strip():
        lines.append("Output of your code (shortened):\n" + result.output.strip())
    data = {
        "score": _points(result.score),
        "execution_time": round(result.seconds, 3),
        "output": "\n".join(lines),
        # Gradescope shows these as plain text: nothing a submission wrote is rendered as HTML
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "tests": [_test(check) for check in result.checks],
        "extra_data": {**result.extra, "status": result.status, "submission": result.source},
    }
    board = leaderboard_entries(result)
    if board:
        data["leaderboard"] = board
    return data


def results_text(result: SubmissionResult, data: dict | None = None) -> str:
    """results.json's text, shortened (output first, then messages) until it is under MAX_RESULTS_BYTES.

    ``data`` is the document to write, ``results_json(result)`` unless given (Gradescope's archive passes
    its Markdown form): every results.json the kit writes goes through this one cap."""
    data = results_json(result) if data is None else data
    text = json.dumps(data, indent=2, ensure_ascii=False)
    budget = MAX_RESULTS_BYTES // 2
    while len(text.encode("utf-8")) >= MAX_RESULTS_BYTES and budget >= 1000:
        data["output"] = clean_text(data["output"], budget)
        for test in data["tests"]:
            test["output"] = clean_text(test["output"], budget // max(len(data["tests"]), 1))
        data["extra_data"] = {key: data["extra_data"][key] for key in ("status", "submission")
                              if key in data["extra_data"]} if budget < 20_000 else data["extra_data"]
        text = json.dumps(data, indent=2, ensure_ascii=False)
        budget //= 2
    return text


def write_results_json(result: SubmissionResult, path: Path, data: dict | None = None) -> Path:
    """Write atomically, so a grader killed mid-way never leaves half a file (``data``: see results_text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(results_text(result, data), encoding="utf-8")
    os.replace(partial, path)
    return path


def csv_cell(value: object) -> object:
    """A cell a spreadsheet shows as text: one that would start a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_grades_csv(results: Iterable[SubmissionResult], path: Path,
                     identities: Sequence[Mapping[str, str] | None] | None = None) -> Path:
    """One row per submission: name, the platform's name, user id and entry (IDENTITY_COLUMNS), score
    (extra credit included), max score (without it), status, ``extra_credit`` (the part of score from
    extra-credit checks, when the assignment has any), then one column per check (points earned). ``identities`` go with ``results`` one for one (None, or
    left out: a submission that did not come from a platform's zip, whose platform columns stay empty)."""
    results = [result.sanitize() for result in results]
    identities = list(identities or [])
    identities += [None] * (len(results) - len(identities))
    check_names: list[str] = []
    for result in results:
        for check in result.checks:
            if check.name not in check_names:
                check_names.append(check.name)
    # extra_credit: the part of score that extra-credit checks earned (a column only where there are some)
    extra = any(check.extra_credit for result in results for check in result.checks)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".csv.partial")
    with open(partial, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([csv_cell(cell) for cell in
                         ["name", *IDENTITY_COLUMNS, "score", "max_score", "status",
                          *(["extra_credit"] if extra else []), *check_names]])
        for result, identity in zip(results, identities):
            graded = result.extra.get("graded", True) is not False    # False: a grader fault, no score
            by_name = {c.name: _points(c.points) for c in result.checks} if graded else {}
            who = [clean_text((identity or {}).get(column, ""), NAME_CHARS * 4) for column in IDENTITY_COLUMNS]
            credit = [(_points(result.extra_score) if graded else "")] if extra else []
            row = [result.name, *who, _points(result.score) if graded else "", _points(result.max_score),
                   result.status, *credit, *(by_name.get(name, "") for name in check_names)]
            writer.writerow([csv_cell(cell) for cell in row])
    os.replace(partial, path)
    return path


def result_title(result: SubmissionResult) -> str:
    """'lenet5 · lenet5.py', with the submission's name when it is not the file's own ('garciaal')."""
    extra = result.extra if isinstance(result.extra, dict) else {}
    file = clean_text(str(extra.get("submitted_file") or Path(str(result.source)).name), NAME_CHARS)
    parts = [result.assignment]
    if result.name and result.name not in (result.assignment, Path(file).stem):
        parts.append(result.name)
    if file and file not in parts:
        parts.append(file)
    return " · ".join(parts)


def _cause(result: SubmissionResult) -> dict | None:
    cause = result.extra.get("root_cause") if isinstance(result.extra, dict) else None
    if not isinstance(cause, dict) or not isinstance(cause.get("message"), str):
        return None
    return cause


def _first_line(message: str, limit: int = 160) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def checks_not_run(result: SubmissionResult) -> dict[str, str]:
    """The checks that did not run for want of data (a student's run offline), with what they need."""
    not_run = result.extra.get("not_run") if isinstance(result.extra, dict) else None
    return {str(k): str(v) for k, v in not_run.items()} if isinstance(not_run, dict) else {}


def check_table(result: SubmissionResult) -> Table:
    """The checks, one row each. A check the root cause explains gets one line pointing at
    "Start here", where its message is printed once."""
    result.sanitize()
    cause = _cause(result)
    explained = set(cause.get("checks", [])) if cause else set()
    waiting = set(cause.get("waiting", [])) if cause else set()
    table = Table(title=Text(result_title(result)), show_lines=False, expand=False)
    table.add_column("check")
    table.add_column("points", justify="right")
    table.add_column("status")
    table.add_column("message", overflow="fold")
    not_run = checks_not_run(result)
    for check in result.checks:
        status = (Text("passed", style="green") if check.passed else
                  Text("partial", style="yellow") if check.partial else Text("failed", style="red"))
        message = Text(check.message)
        if not check.passed and check.name in not_run:
            status = Text("not run", style="yellow")
            message = Text(_first_line(check.message.split(". ", 1)[0]), style="yellow")
        elif not check.passed and check.name in waiting:
            message = Text("not counted until the checks above pass: see Start here", style="yellow")
        elif not check.passed and check.name in explained:
            message = Text("see Start here", style="yellow")
        table.add_row(Text(check.name), check_points(check), status, message)
    return table


def start_here(result: SubmissionResult) -> Panel | None:
    """The root cause, said once: its message, the usual fix, and every check (and point) fixing it unlocks."""
    cause = _cause(result)
    if cause is None:
        return None
    checks = [clean_text(str(name), NAME_CHARS) for name in cause.get("checks", [])]
    message = cause["message"]
    fix = cause.get("fix") if isinstance(cause.get("fix"), str) else ""
    if fix and message.endswith(f". Fix: {fix}"):
        message = message[: -len(f". Fix: {fix}")]
    body = Text(clean_text(message, MESSAGE_CHARS))
    if fix:
        body.append("\n\nHow to fix it: ", style="bold")
        body.append(clean_text(fix, MESSAGE_CHARS))
    points = cause.get("points")
    worth = f" ({_points(points)} points)" if isinstance(points, (int, float)) and not isinstance(points, bool) else ""
    body.append(f"\n\nFixing it unlocks {len(checks)} checks{worth}: ", style="bold")
    body.append(", ".join(checks))
    return Panel(body, title="Start here", title_align="left", border_style="red", expand=False)


def print_result(result: SubmissionResult, console: Console) -> None:
    """A student's run on the terminal: the root cause first (once), the table, the notes, the total."""
    result.sanitize()
    panel = start_here(result)
    if panel is not None:
        console.print(panel)
    console.print(check_table(result))
    for note in result.notes:
        if panel is None or not note.startswith(ROOT_CAUSE_NOTE):     # Start here said it already
            console.print(Text.assemble(("note:", "yellow"), " ", note))
    if result.status != "graded":
        console.print(Text.assemble(("grading stopped early:", "red"), " ", result.status))
    console.print(Text(f"total: {score_text(result)}", style="bold"),
                  Text(f"({result.seconds:.1f} s)"))
    not_run = checks_not_run(result)
    if not_run:
        needs = ", ".join(sorted(set(not_run.values())))
        worth = sum(c.max_points for c in result.checks if c.name in not_run)
        console.print(Text(f"{len(not_run)} check{'s' if len(not_run) != 1 else ''} ({_points(worth)} points) "
                           f"did not run ({needs}), through no fault of your code: see the README's Quickstart "
                           "for where the data comes from, then run this again", style="yellow"))


def summary_table(results: Iterable[SubmissionResult]) -> Table:
    results = [result.sanitize() for result in results]
    table = Table(title="grades")
    table.add_column("submission")
    table.add_column("score", justify="right")
    table.add_column("status", overflow="fold")
    table.add_column("failed checks", overflow="fold")
    for result in results:
        failed = ", ".join(c.name + (" (partial)" if c.partial else "") for c in result.checks
                           if not c.passed) or "-"
        extra = f" (incl. {_points(result.extra_score)} extra)" if result.extra_score else ""
        table.add_row(Text(result.name), f"{_points(result.score)}/{_points(result.max_score)}{extra}",
                      Text(result.status), Text(failed))
    return table
