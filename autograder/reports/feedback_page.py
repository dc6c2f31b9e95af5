"""feedback.html: one self-contained page per graded submission.

The page shows, in order: the score; the root cause when one error broke
several checks; the table of checks; the model's layers as the grader saw
them; the training run as a plot; the confusion matrix of the test
predictions; the notes; and what the submission printed. Plots are PNG data
URIs, the style is inline and the page runs no script, so the file works
offline and alone. Everything that came from the submission, or from the
result, is HTML-escaped.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Callable

from . import feedback_data as data
from . import plots
from ..grading.results import SubmissionResult
from ..checks.training import not_a_class_text
from ..grading.root_cause import ROOT_CAUSE_NOTE

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 60rem;
       padding: 0 1rem; color: #1d2430; line-height: 1.45; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem;
     border-bottom: 1px solid #d6dbe3; padding-bottom: .2rem; }
.score { font-size: 2.2rem; font-weight: 700; } .muted { color: #5b6677; }
.full { color: #16794a; } .partial { color: #9a6700; } .none { color: #b42318; }
.root-cause { border-left: 5px solid #b42318; background: #fdf1f0; padding: .6rem 1rem; margin: 1rem 0; }
.stopped { border-left: 5px solid #9a6700; background: #fff8e6; padding: .6rem 1rem; margin: 1rem 0; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e6e9ef; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #f4f6f9; white-space: nowrap; overflow-wrap: normal; }   /* headers are short: never split */
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.passed { color: #16794a; font-weight: 600; white-space: nowrap; }
td.failed { color: #b42318; font-weight: 600; white-space: nowrap; }
td.not-run { color: #9a6700; font-weight: 600; white-space: nowrap; }
td.partial { color: #9a6700; font-weight: 600; white-space: nowrap; }
.extra-credit { color: #3b5bdb; font-size: .8rem; font-weight: 600; white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 2px solid #c7ced9; }
.message { white-space: pre-wrap; overflow-wrap: anywhere; } td.runner { white-space: nowrap; }
.description { color: #5b6677; font-size: .85rem; }
pre { background: #f4f6f9; padding: .8rem; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere;
      font-size: .85rem; max-height: 40rem; overflow-y: auto; }
img { max-width: 100%; height: auto; }
code { background: #f4f6f9; padding: 0 .2rem; }
"""

# No script, no fetch: only inline style and data: images may load.
CONTENT_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def esc(value) -> str:
    return html.escape(data.text(value), quote=True)


def page(title: str, body: str, extra_style: str = "") -> str:
    """A complete HTML document around ``body``; ``title`` is escaped here."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_POLICY}\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)}</title>\n<style>{STYLE}{extra_style}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def not_available(what: str) -> str:
    return f"<p class=\"muted\">{html.escape(what)}</p>"


def guarded(render: Callable[[], str], what: str) -> str:
    """One section's HTML; a section that cannot be drawn says so instead of losing the page."""
    try:
        return render()
    except Exception as exc:   # odd data must never cost the student the rest of the page
        return not_available(f"The {what} could not be shown ({type(exc).__name__}).")


def score_class(score: float, max_score: float) -> str:
    if max_score > 0 and score >= max_score:
        return "full"
    return "partial" if score > 0 else "none"


def heading(result: SubmissionResult) -> str:
    """'lenet5', or 'lenet5 · garciaal' when the submission's name is not its file's own: the name is
    never said twice, and the file's name is given beside it (``submitted_file``)."""
    assignment, name = data.text(result.assignment, 100), data.text(result.name, 200)
    file_stem = data.submitted_file(result).rsplit(".", 1)[0]
    return assignment if name in ("", assignment, file_stem) else f"{assignment} · {name}"


def _header(result: SubmissionResult) -> str:
    score, max_score = data.finite(result.score), data.finite(result.max_score)
    extra = data.extra_credit(result)
    extra_line = (f"<p class=\"extra-credit\">including {data.points(extra[0])} extra-credit points (up to "
                  f"{data.points(extra[1])} on top of the total)</p>" if extra else "")
    parts = [f"<h1>{esc(heading(result))}</h1>",
             f"<div class=\"score {score_class(score, max_score)}\">{data.points(score)} / "
             f"{data.points(max_score)}</div>{extra_line}",
             f"<p class=\"muted\">submitted file: <code>{esc(data.submitted_file(result))}</code> · graded in "
             f"{data.finite(result.seconds):.1f} s</p>"]
    if result.status != "graded":
        parts.append(f"<div class=\"stopped\"><strong>Grading stopped early:</strong> "
                     f"<span class=\"message\">{esc(result.status)}</span></div>")
    return "\n".join(parts)


def _root_cause(result: SubmissionResult) -> str:
    cause = data.root_cause(result)
    if cause is None:
        return ""
    checks = ", ".join(f"<code>{esc(name)}</code>" for name in cause.checks)
    broke = f"<p>Fixing it should also fix: {checks}</p>" if checks else ""
    fix = f"<p><strong>How to fix it:</strong> {esc(cause.fix)}</p>" if cause.fix else ""
    return (f"<div class=\"root-cause\"><h2 style=\"margin-top:0;border:0\">Start here</h2>"
            f"<p class=\"message\">{esc(cause.message)}</p>{fix}{broke}</div>")


STATUS_WORDS = {"passed": "✓ passed", "partial": "◐ partial", "failed": "✗ failed", "not-run": "– not run"}


def _checks(result: SubmissionResult) -> str:
    executed_by = result.extra.get("executed_by") if isinstance(result.extra, dict) else None
    show_runner = isinstance(executed_by, dict) and bool(executed_by)
    head = "<tr><th>check</th><th class=\"num\">points</th><th>status</th><th>message</th>"
    head += "<th title=\"the grader's own process, or the submission's\">run&nbsp;by</th></tr>" if show_runner else "</tr>"
    rows = []
    not_run = result.extra.get("not_run") if isinstance(result.extra, dict) else None
    not_run = not_run if isinstance(not_run, dict) else {}
    for check in result.checks:
        outcome = data.outcome(check)
        status = "not-run" if outcome == "failed" and check.name in not_run else outcome
        max_points = data.finite(getattr(check, "max_points", 0))
        description = getattr(check, "description", "")
        extra = "<div class=\"extra-credit\">extra credit</div>" if getattr(check, "extra_credit", False) else ""
        row = (f"<tr><td><strong>{esc(check.name)}</strong>"
               + (f"<div class=\"description\">{esc(description)}</div>" if description else "")
               + f"</td><td class=\"num\">{data.points(data.earned(check))} / {data.points(max_points)}{extra}</td>"
               f"<td class=\"{status}\">{STATUS_WORDS[status]}</td>"
               f"<td class=\"message\">{esc(getattr(check, 'message', ''))}</td>")
        if show_runner:
            row += f"<td class=\"runner\">{esc(executed_by.get(check.name, '?'))}</td>"
        rows.append(row + "</tr>")
    if not rows:
        return "<h2>Checks</h2>" + not_available("No check was run.")
    return f"<h2>Checks</h2>\n<table>{head}{''.join(rows)}</table>"


def _measured_layers(measured: data.MeasuredLayers) -> str:
    """The layers forward() ran through before its error, measured in the submission's own process."""
    rows = []
    for i, layer in enumerate(measured.layers, start=1):
        shape = ("<td class=\"failed\">✗ the error happened here</td>" if layer.failed
                 else f"<td><code>{esc(layer.output_shape)}</code></td>")
        rows.append(f"<tr><td class=\"num\">{i}</td><td><code>{esc(layer.op)}</code></td>{shape}"
                    f"<td class=\"num\">{'' if layer.parameters is None else f'{layer.parameters:,}'}</td></tr>")
    batch = f" on a batch of {measured.batch}" if measured.batch else ""
    return ("<h2>Model</h2>\n<p class=\"muted\">The grader could not compile forward(), so it ran no layer itself. "
            f"These layers and output shapes were measured in the submission's own process, running forward() "
            f"as PyTorch does{batch}, up to the error: they are shown to help find it and count toward no check."
            "</p>\n<table><tr><th class=\"num\">#</th><th>layer or call</th><th>output shape</th>"
            f"<th class=\"num\">parameters</th></tr>{''.join(rows)}</table>")


def _layers(result: SubmissionResult) -> str:
    found = data.layers(result)
    if found is None:
        measured = data.measured_layers(result)
        if measured is not None:
            return _measured_layers(measured)
        return "<h2>Model</h2>" + not_available("Layer table not available: the grader recorded no model layers "
                                                "for this submission.")
    rows = [f"<tr><td class=\"num\">{i}</td><td><code>{esc(layer.op)}</code></td>"
            f"<td><code>{esc(layer.output_shape)}</code></td>"
            f"<td class=\"num\">{'' if layer.parameters is None else f'{layer.parameters:,}'}</td></tr>"
            for i, layer in enumerate(found, start=1)]
    total = sum(layer.parameters or 0 for layer in found)
    rows.append(f"<tr class=\"total\"><td></td><td>total</td><td></td><td class=\"num\">{total:,}</td></tr>")
    return ("<h2>Model</h2>\n<p class=\"muted\">The layers the grader ran, in order, with each output's shape for the batch it ran them on.</p>\n"
            "<table><tr><th class=\"num\">#</th><th>op</th><th>output shape</th>"
            f"<th class=\"num\">parameters</th></tr>{''.join(rows)}</table>")


def training_summary(run: data.TrainingRun) -> list[str]:
    """Plain sentences about a training run (shared with the Gradescope text)."""
    lines = []
    if run.history:
        last_step, last_accuracy, _ = run.history[-1]
        steps = run.steps if run.steps is not None else last_step
        target = run.stop_at_validation_accuracy
        if target is not None and math.isfinite(last_accuracy) and last_accuracy >= target:
            lines.append(f"Training stopped at step {steps:,}: validation accuracy {data.percent(last_accuracy)} "
                         f"reached the {data.percent(target)} target.")
        else:
            aim = f" (the target was {data.percent(target)})" if target is not None else ""
            lines.append(f"Training ran {steps:,} steps; the last validation accuracy was "
                         f"{data.percent(last_accuracy)}{aim}.")
        bad = next((p for p in run.history if not math.isfinite(p[2])), None)
        if bad is not None:
            lines.append(f"The training loss became {data.text(bad[2])} at step {bad[0]:,}: look for a log of zero, "
                         "a division, or a learning rate that is too high.")
    if run.test_accuracy is not None:
        need = f" (at least {data.percent(run.min_test_accuracy)} needed)" if run.min_test_accuracy is not None else ""
        lines.append(f"Accuracy on the held-out test images: {data.percent(run.test_accuracy)}{need}.")
    if run.not_a_class:
        lines.append(not_a_class_text(run.not_a_class, run.classes) + ".")
    return lines


def _training(result: SubmissionResult) -> str:
    run = data.training(result)
    if run is None:
        return "<h2>Training</h2>" + not_available("Training curve not available: no training run was recorded "
                                                   "for this submission.")
    parts = ["<h2>Training</h2>"]
    parts += [f"<p>{esc(line)}</p>" for line in training_summary(run)]
    if run.history:
        parts.append(guarded(lambda: f"<img src=\"{plots.training_curve(run)}\" alt=\"validation accuracy and "
                                      "training loss against optimizer steps\">", "training plot"))
    else:
        parts.append(not_available("No validation measurements were recorded during training."))
    return "\n".join(parts)


def most_confused(matrix: list[list[int]], count: int = 3) -> list[tuple[int, int, int]]:
    """The largest off-diagonal cells: (true class, predicted class, images)."""
    cells = [(n, i, j) for i, row in enumerate(matrix) for j, n in enumerate(row) if i != j and n > 0]
    return [(i, j, n) for n, i, j in sorted(cells, reverse=True)[:count]]


def _confusion(result: SubmissionResult) -> str:
    run = data.training(result)
    if run is None or run.confusion_matrix is None:
        return "<h2>Test predictions</h2>" + not_available("Confusion matrix not available: no test predictions "
                                                           "were recorded for this submission.")
    matrix = run.confusion_matrix
    parts = ["<h2>Test predictions</h2>",
             "<p class=\"muted\">How many test images of each true class (rows) were predicted as each class "
             "(columns); a good model puts nearly everything on the diagonal.</p>",
             guarded(lambda: f"<img src=\"{plots.confusion_matrix(matrix)}\" alt=\"confusion matrix of the test "
                              "predictions\">", "confusion matrix")]
    mixed = most_confused(matrix)
    if mixed:
        items = "".join(f"<li>true class {i} predicted as {j}: {n:,} images</li>" for i, j, n in mixed)
        parts.append(f"<p>Most often confused:</p><ul>{items}</ul>")
    return "\n".join(parts)


def shown_notes(result: SubmissionResult) -> list[str]:
    """The notes a page lists: the one naming the root cause is left out where "Start here" says it."""
    notes = [data.text(n) for n in result.notes if data.text(n).strip()] if isinstance(result.notes, list) else []
    if data.root_cause(result) is not None:
        notes = [n for n in notes if not n.startswith(ROOT_CAUSE_NOTE)]
    return notes


def _notes(result: SubmissionResult) -> str:
    notes = shown_notes(result)
    if not notes:
        return ""
    items = "".join(f"<li class=\"message\">{esc(note)}</li>" for note in notes[:100])
    return f"<h2>Notes</h2><ul>{items}</ul>"


def _output(result: SubmissionResult, output_kib: int) -> str:
    shown, cut = data.capped_output(result.output, output_kib)
    if not shown.strip():
        return "<h2>What your code printed</h2>" + not_available("Nothing was printed.")
    more = f"<p class=\"muted\">{cut:,} more characters were not shown.</p>" if cut else ""
    return f"<h2>What your code printed</h2>\n<pre>{html.escape(shown)}</pre>{more}"


def feedback_html(result: SubmissionResult, *, output_kib: int = 16) -> str:
    """The whole page for one result, as text."""
    sections = [
        (lambda: _header(result), "score"),
        (lambda: _root_cause(result), "root cause"),
        (lambda: _checks(result), "table of checks"),
        (lambda: _layers(result), "layer table"),
        (lambda: _training(result), "training run"),
        (lambda: _confusion(result), "confusion matrix"),
        (lambda: _notes(result), "notes"),
        (lambda: _output(result, output_kib), "printed output"),
    ]
    body = "\n".join(guarded(render, what) for render, what in sections)
    return page(f"{heading(result)} · feedback", body)


def write_feedback_page(result: SubmissionResult, path: str | Path, *, output_kib: int = 16) -> Path:
    """Write the page atomically, so a grader killed mid-way never leaves half a page."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(feedback_html(result, output_kib=output_kib), encoding="utf-8")
    os.replace(partial, path)
    return path


def page_beside(submission: str | Path) -> Path:
    """Where `autograder check` puts the page: beside the file, as <stem>_feedback.html
    (inside the folder when a folder was handed in)."""
    submission = Path(submission)
    if submission.is_dir():
        return submission / "feedback.html"
    return submission.with_name(f"{submission.stem}_feedback.html")
