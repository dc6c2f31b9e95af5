"""The feedback page as Markdown text, for platforms that show text, not files (Gradescope's ``output``).

Same order as the page: score, root cause, checks, layers, training, test
predictions, notes, printed output, with the plots replaced by numbers.

Only the kit's own words are Markdown: headings, scores and other numbers, and
the assignment's and checks' names from grading.toml (escaped). Every text a
submission can reach (check messages, the status, the root cause, notes, the
layer table, what it printed) goes into the Markdown only inside a fenced code
block, never inside a list or a quote, whose fence of backticks is longer than
any run of backticks in the text, so no line of the text can close it.
Escaping alone would not do: GitHub-flavoured renderers turn ``www.`` hosts,
URLs and e-mail addresses into links even when their punctuation is escaped;
inside a code block nothing is a link, an image or HTML.
"""

from __future__ import annotations

import re

from . import feedback_data as data
from .feedback_page import most_confused, shown_notes, training_summary
from ..grading.results import SubmissionResult

MAX_CURVE_ROWS = 20          # rows of the training table; the curve is sampled evenly down to this
MAX_NOTES = 100

# Characters with a meaning in Markdown (or HTML inside it); each is written with a backslash before it.
SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&~])")


def md(value, limit: int = data.MAX_TEXT) -> str:
    """The kit's own text (a name from grading.toml, a sentence with numbers) as one line of Markdown that
    shows exactly its characters. Not for text from a submission: that goes in ``fenced``."""
    return SPECIAL.sub(r"\\\1", " ".join(data.text(value, limit).split()))


def fenced(text: str) -> str:
    """``text`` as a fenced code block that shows it verbatim: a fence of backticks longer than any run of
    backticks in it, so no line of it can end the block. CommonMark ends a line at a carriage return too,
    so every line break is made a newline first. Put it at the top level, after a blank line."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n").strip("\n").rstrip()
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}" if text else f"{fence}text\n{fence}"


def _block(text: str) -> list[str]:
    """Lines for a code block that stands alone: blank lines around it."""
    return ["", fenced(text), ""]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _text_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    """Columns lined up in plain text (for a code block)."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                         for i, (cell, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])


def _checks(result: SubmissionResult) -> list[str]:
    if not result.checks:
        return ["### Checks", "", "No check was run."]
    lines = ["### Checks", ""]
    for check in result.checks:
        passed = bool(getattr(check, "passed", False))
        top = data.finite(getattr(check, "max_points", 0))
        mark = {"passed": "✓", "partial": "◐"}.get(data.outcome(check), "✗")
        extra = ", extra credit" if getattr(check, "extra_credit", False) is True else ""
        lines.append(f"{mark} **{md(check.name, 200)}** ({data.points(data.earned(check))}/{data.points(top)}{extra})")
        message = data.text(getattr(check, "message", ""))
        lines += _block(message) if not passed and message.strip() else [""]
    return lines


def _layers(result: SubmissionResult) -> list[str]:
    found = data.layers(result)
    measured = data.measured_layers(result) if found is None else None
    if measured is not None:
        rows = [[str(i), layer.op, "the error happened here" if layer.failed else layer.output_shape,
                 "" if layer.parameters is None else f"{layer.parameters:,}"]
                for i, layer in enumerate(measured.layers, start=1)]
        batch = f" on a batch of {measured.batch}" if measured.batch else ""
        return ["### Model", "", md("The grader could not compile forward(), so it ran no layer itself. These were "
                                    "measured in the submission's own process, running forward() as PyTorch does"
                                    f"{batch}, up to the error; they count toward no check."),
                *_block(_text_table(["#", "layer or call", "output shape", "parameters"], rows, right={0, 3}))]
    if found is None:
        return ["### Model", "", "Layer table not available: the grader recorded no model layers for this submission."]
    rows = [[str(i), layer.op, layer.output_shape, "" if layer.parameters is None else f"{layer.parameters:,}"]
            for i, layer in enumerate(found, start=1)]
    rows.append(["", "total", "", f"{sum(layer.parameters or 0 for layer in found):,}"])
    return ["### Model", *_block(_text_table(["#", "op", "output shape", "parameters"], rows, right={0, 3}))]


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
    extra = data.extra_credit(result)
    if extra:
        lines += [f"Including {data.points(extra[0])} extra-credit points (up to {data.points(extra[1])} on top of "
                  "the total).", ""]
    if result.status != "graded":
        lines += ["**Grading stopped early:**", *_block(data.text(result.status))]
    cause = data.root_cause(result)
    if cause is not None:
        lines += ["### Start here", *_block(cause.message)]
        if cause.fix:
            lines += ["**How to fix it:**", *_block(cause.fix)]
        if cause.checks:
            lines += ["Fixing it should also fix these checks:", *_block(", ".join(cause.checks))]
    for section in (_checks, _layers, _training):
        try:
            lines += section(result)
        except Exception as exc:      # odd data costs one section, never the whole text
            lines += ["", f"(this section could not be shown: {md(type(exc).__name__, 100)})"]
        lines.append("")
    notes = shown_notes(result)
    if notes:
        lines += ["### Notes", *_block("\n".join(f"- {note}" for note in notes[:MAX_NOTES]))]
    shown, cut = data.capped_output(result.output, output_kib)
    lines += ["### What your code printed", ""]
    if shown.strip():
        lines += _block(shown)
        if cut:
            lines.append(f"{cut:,} more characters were not shown.")
    else:
        lines.append("Nothing was printed.")
    # one blank line between blocks (a code block is one item here, so its own lines are never touched)
    kept = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]
    return "\n".join(kept).strip() + "\n"
