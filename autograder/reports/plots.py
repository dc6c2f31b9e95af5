"""The pictures on the feedback pages and the class report, as PNG data: URIs.

Figures are drawn with matplotlib's object API and the Agg canvas (no pyplot,
no display, no global state), so they can be drawn from any thread. Each
picture is embedded in the page as a data: URI: a page is one file that works
offline.
"""

from __future__ import annotations

import base64
import io
import math
import threading
from typing import Sequence

from .feedback_data import TrainingRun

DPI = 100


def preload() -> None:
    """Import matplotlib ahead of the first page, on a thread of its own, while submissions are
    being graded: its import otherwise adds about half a second to the first feedback page."""
    def load() -> None:
        try:
            from matplotlib.backends import backend_agg  # noqa: F401
            from matplotlib import figure  # noqa: F401
        except Exception:  # noqa: BLE001 - the page itself reports a missing matplotlib
            pass

    threading.Thread(target=load, name="preload-matplotlib", daemon=True).start()


def _figure(width: float, height: float, layout: str | None = "constrained"):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def _data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _finite(x: float) -> float:
    """NaN for values a plot cannot place (infinite, or too large to scale an axis by)."""
    return x if math.isfinite(x) and abs(x) < 1e15 else float("nan")     # matplotlib leaves a gap at NaN


def training_curve(run: TrainingRun) -> str:
    """Validation accuracy and training loss against steps, with the stop threshold and the stop step."""
    figure = _figure(7.5, 4.2)
    accuracy_axis = figure.add_subplot()
    steps = [p[0] for p in run.history]
    accuracy = [_finite(p[1]) * 100 for p in run.history]
    loss = [_finite(p[2]) for p in run.history]
    accuracy_axis.plot(steps, accuracy, color="tab:blue", marker="o", markersize=3,
                       label="validation accuracy")
    accuracy_axis.set_xlabel("optimizer step")
    accuracy_axis.set_ylabel("validation accuracy (%)", color="tab:blue")
    accuracy_axis.set_ylim(0, 100)
    accuracy_axis.grid(alpha=0.3)
    if run.stop_at_validation_accuracy is not None:
        accuracy_axis.axhline(run.stop_at_validation_accuracy * 100, color="tab:green", linestyle="--",
                              label=f"stop at {run.stop_at_validation_accuracy * 100:g}%")
    stopped_at = run.steps if run.steps is not None else (steps[-1] if steps else None)
    if stopped_at is not None:
        accuracy_axis.axvline(stopped_at, color="gray", linestyle=":", label=f"stopped at step {stopped_at:,}")
    if run.test_accuracy is not None and stopped_at is not None:
        accuracy_axis.plot([stopped_at], [run.test_accuracy * 100], marker="*", markersize=12, linestyle="none",
                           color="tab:purple", label=f"test accuracy {run.test_accuracy * 100:.2f}%")
    loss_axis = accuracy_axis.twinx()
    loss_axis.plot(steps, loss, color="tab:orange", marker=".", markersize=3, label="training loss")
    loss_axis.set_ylabel("training loss", color="tab:orange")
    if any(math.isfinite(x) for x in loss):
        loss_axis.set_ylim(bottom=0)
    handles, labels = accuracy_axis.get_legend_handles_labels()
    more_handles, more_labels = loss_axis.get_legend_handles_labels()
    figure.legend(handles + more_handles, labels + more_labels, loc="outside lower center", ncols=3, fontsize=8)
    return _data_uri(figure)


def confusion_matrix(matrix: Sequence[Sequence[int]]) -> str:
    """Counts of test images by true class (rows) and predicted class (columns)."""
    n = len(matrix)
    size = min(3.0 + 0.35 * n, 7.0)
    # fixed margins: a constrained layout would take half as long again as the drawing, for each page
    figure = _figure(size, size * 0.85, layout=None)
    figure.subplots_adjust(left=0.13, right=0.97, bottom=0.12, top=0.97)
    axis = figure.add_subplot()
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, shrink=0.8)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    if n <= 20:
        axis.set_xticks(range(n))
        axis.set_yticks(range(n))
        top = max((max(row) for row in matrix), default=0)
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                axis.text(j, i, str(count), ha="center", va="center", fontsize=7,
                          color="white" if count > top / 2 else "black")
    return _data_uri(figure)


def score_bars(scores: Sequence[float], max_score: float) -> tuple[list[float], list[int], float]:
    """The histogram's bars: each score that occurs (clipped to 0 .. the maximum), how many submissions
    have it, and a bar width that keeps neighbouring scores apart (19 and 20 are two bars)."""
    from collections import Counter

    top = max_score if math.isfinite(max_score) and max_score > 0 else max(scores, default=1.0) or 1.0
    counts = Counter(round(min(max(s, 0.0), top), 3) for s in scores if math.isfinite(s))
    values = sorted(counts)
    gaps = [b - a for a, b in zip(values, values[1:])]
    return values, [counts[v] for v in values], 0.8 * min([1.0, *gaps])


def score_histogram(scores: Sequence[float], max_score: float) -> str:
    """How the batch's scores spread, from 0 to the maximum: one bar per score."""
    figure = _figure(7.0, 3.0)
    axis = figure.add_subplot()
    top = max_score if math.isfinite(max_score) and max_score > 0 else max(scores, default=1.0) or 1.0
    values, counts, width = score_bars(scores, max_score)
    axis.bar(values, counts, width=width, color="tab:blue", edgecolor="white")
    axis.set_xlim(-0.5 * max(width, 1.0), top + 0.5 * max(width, 1.0))
    if top <= 30 and float(top).is_integer():
        axis.set_xticks(range(int(top) + 1))
    axis.set_xlabel(f"score (out of {top:g})")
    axis.set_ylabel("submissions")
    axis.yaxis.get_major_locator().set_params(integer=True)
    axis.grid(axis="y", alpha=0.3)
    return _data_uri(figure)
