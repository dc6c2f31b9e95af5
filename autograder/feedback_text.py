"""The feedback page as Markdown text, for platforms that show text, not files (Gradescope's ``output``).

Same order as the page: score, root cause, checks, layers, training, test
predictions, notes, printed output, with the plots replaced by numbers. Every
string from the result is escaped for Markdown; the printed output sits in a
fenced code block whose fence is longer than any run of backticks inside it.
"""

from __future__ import annotations

import re

from . import feedback_data as data
from .feedback_page import most_confused, training_summary
from .results import SubmissionResult

MAX_CURVE_ROWS = 20          # rows of the training table; the curve is sampled evenly down to this

# Characters with a meaning in Markdown (or HTML inside it); each is written with a backslash before it.
SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&~])")


def md(value, limit: int = data.MAX_TEXT) -> str:
    """Any value as one line of Markdown that shows exactly its characters."""
    return SPECIAL.sub(r"\\\1", " ".join(data.text(value, limit).split()))


def _fenced(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _checks(result: SubmissionResult) -> list[str]:
    lines = ["### Checks", ""]
    for check in result.checks:
        passed = bool(getattr(check, "passed", False))
        top = data.finite(getattr(check, "max_points", 0))
        mark = "✓" if passed else "✗"
        message = "" if passed else f": {md(getattr(check, 'message', ''))}"
        lines.append(f"- {mark} **{md(check.name, 200)}** ({data.points(top if passed else 0)}/{data.points(top)})"
                     f"{message}")
    return lines if result.checks else ["### Checks", "", "No check was run."]


def _layers(result: SubmissionResult) -> list[str]:
    found = data.layers(result)
    if found is None:
        return ["### Model", "", "Layer table not available: the grader recorded no model layers for this submission."]
    rows = [[str(i), md(layer.op, 200), md(layer.output_shape, 200),
             "" if layer.parameters is None else f"{layer.parameters:,}"] for i, layer in enumerate(found, start=1)]
    rows.append(["", "**total**", "", f"**{sum(layer.parameters or 0 for layer in found):,}**"])
    return ["### Model", "", *_table(["\\#", "op", "output shape", "parameters"], rows)]


def _training(result: SubmissionResult) -> list[str]:
    run = data.training(result)
    if run is None:
        return ["### Training", "", "Training curve not available: no training run was recorded for this submission."]
    lines = ["### Training"]
    for line in training_summary(run):
        lines += ["", md(line)]
    if run.history:
        every = max(1, -(-len(run.history) // MAX_CURVE_ROWS))
        sample = run.history[::every]
        if sample[-1] != run.history[-1]:
            sample.append(run.history[-1])
        rows = [[f"{step:,}", md(data.percent(accuracy)), md(f"{loss:.4g}")] for step, accuracy, loss in sample]
        lines += ["", *_table(["step", "validation accuracy", "training loss"], rows)]
    if run.confusion_matrix is not None:
        mixed = most_confused(run.confusion_matrix)
        if mixed:
            lines += ["", "Test images most often confused:", ""]
            lines += [f"- true class {i} predicted as {j}: {n:,} images" for i, j, n in mixed]
    return lines


def feedback_markdown(result: SubmissionResult, *, output_kib: int = 16) -> str:
    """The page's text, in Markdown."""
    score, top = data.finite(result.score), data.finite(result.max_score)
    lines = [f"## {md(result.assignment, 100)}: {data.points(score)} / {data.points(top)}", ""]
    if result.status != "graded":
        lines += [f"**Grading stopped early:** {md(result.status)}", ""]
    cause = data.root_cause(result)
    if cause is not None:
        lines += ["### Start here", "", md(cause.message), ""]
        if cause.fix:
            lines += ["**How to fix it:** " + md(cause.fix), ""]
        if cause.checks:
            lines += ["Fixing it should also fix: " + ", ".join(md(name, 200) for name in cause.checks), ""]
    for section in (_checks, _layers, _training):
        try:
            lines += section(result)
        except Exception as exc:      # odd data costs one section, never the whole text
            lines += [f"(this section could not be shown: {type(exc).__name__})"]
        lines.append("")
    notes = [n for n in result.notes if data.text(n).strip()] if isinstance(result.notes, list) else []
    if notes:
        lines += ["### Notes", "", *(f"- {md(note)}" for note in notes[:100]), ""]
    shown, cut = data.capped_output(result.output, output_kib)
    lines += ["### What your code printed", ""]
    if shown.strip():
        lines.append(_fenced(shown))
        if cut:
            lines.append(f"{cut:,} more characters were not shown.")
    else:
        lines.append("Nothing was printed.")
    return "\n".join(lines).rstrip() + "\n"
