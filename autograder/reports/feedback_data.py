"""What the feedback pages show, read defensively from a SubmissionResult.

The grader fills ``result.extra`` with the model's layers, the training run and
the root cause of a failure, but a page must never trust its shape: a value can
be missing, of the wrong type, NaN, enormous, or written to break the page.
Each reader here returns plain, bounded values (or None when the data is not
there or unusable); the renderers escape every string they print.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..grading.results import MAX_CLASSES, MAX_HISTORY, MAX_LAYERS, SubmissionResult

# Bounds that keep one odd result from producing a huge page; none of them is a grading number.
MAX_TEXT = 2_000            # characters of one message, op name or check name
MAX_DIMENSIONS = 16         # of one output shape
MAX_WHOLE = 10 ** 15        # larger counts, steps or sizes are taken as nonsense


@dataclass(frozen=True)
class Layer:
    op: str
    output_shape: str       # "(N, 6, 28, 28)", or "?" when unknown
    parameters: int | None
    failed: bool = False    # where forward() raised (layers measured in the submission's process only)


@dataclass(frozen=True)
class MeasuredLayers:
    """The layers a forward() that could not be compiled ran through, up to its error, as the
    submission's own process measured them on a concrete batch (for display; never judged)."""

    batch: int | None
    layers: list[Layer]


@dataclass(frozen=True)
class TrainingRun:
    history: list[tuple[int, float, float]]     # (step, validation accuracy, training loss)
    stop_at_validation_accuracy: float | None
    min_test_accuracy: float | None
    steps: int | None
    test_accuracy: float | None
    confusion_matrix: list[list[int]] | None    # rows: true class, columns: predicted class
    classes: int | None = None                  # how many classes the test labels have
    not_a_class: int | None = None              # test predictions outside 0 .. classes - 1 (counted wrong)


@dataclass(frozen=True)
class RootCause:
    message: str
    checks: list[str]
    fix: str = ""                    # the course's usual fix, when the mistake is a common one


def text(value: Any, limit: int = MAX_TEXT) -> str:
    """Any value as a bounded string (never raises)."""
    try:
        s = value if isinstance(value, str) else str(value)
    except Exception:
        s = f"<{type(value).__name__}>"
    return s if len(s) <= limit else s[:limit] + " […]"


def number(value: Any) -> float | None:
    """An int or float (not a bool) as a float; NaN and infinities are kept, anything else is None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except (OverflowError, ValueError):
        return None


def finite(value: Any, default: float = 0.0) -> float:
    """A finite number, or ``default`` for anything else (NaN, infinities, strings, None)."""
    x = number(value)
    return x if x is not None and math.isfinite(x) else default


def whole(value: Any) -> int | None:
    """A non-negative whole number, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= MAX_WHOLE else None


def fraction(value: Any) -> float | None:
    """An accuracy-like number in [0, 1], or None."""
    x = number(value)
    return x if x is not None and 0.0 <= x <= 1.0 else None


def _extra(result: SubmissionResult) -> dict:
    extra = getattr(result, "extra", None)
    return extra if isinstance(extra, dict) else {}


def _shape(value: Any) -> str:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_DIMENSIONS:
        return "?"
    parts = []
    for size in value:
        n = whole(size)
        parts.append(str(n) if n is not None else text(size, 20))
    return "(" + ", ".join(parts) + ")"


def layers(result: SubmissionResult) -> list[Layer] | None:
    """The model as the grader saw it: ``extra["layers"]``, or None when absent or unusable."""
    raw = _extra(result).get("layers")
    if not isinstance(raw, list) or not raw:
        return None
    found = []
    for item in raw[:MAX_LAYERS]:
        if not isinstance(item, dict):
            continue
        found.append(Layer(op=text(item.get("op", "?"), 200), output_shape=_shape(item.get("output_shape")),
                           parameters=whole(item.get("parameters"))))
    return found or None


def measured_layers(result: SubmissionResult) -> MeasuredLayers | None:
    """``extra["measured_layers"]``: {"batch", "layers": [{"op", "output_shape", "parameters", "failed"}]},
    or None when absent or unusable."""
    raw = _extra(result).get("measured_layers")
    if not isinstance(raw, dict) or not isinstance(raw.get("layers"), list):
        return None
    found = []
    for item in raw["layers"][:MAX_LAYERS]:
        if not isinstance(item, dict):
            continue
        shape = item.get("output_shape")
        found.append(Layer(op=text(item.get("op", "?"), 200), output_shape=_shape(shape) if shape is not None else "",
                           parameters=whole(item.get("parameters")), failed=item.get("failed") is True))
    if not found:
        return None
    return MeasuredLayers(batch=whole(raw.get("batch")), layers=found)


def submitted_file(result: SubmissionResult) -> str:
    """The name of the file that was graded, as handed in (``extra["submitted_file"]``), else the last
    part of the path that was handed in."""
    name = _extra(result).get("submitted_file")
    if isinstance(name, str) and name.strip():
        return text(name, 200)
    source = text(getattr(result, "source", ""), 1000).replace("\\", "/").rstrip("/")
    return source.rsplit("/", 1)[-1]


def training(result: SubmissionResult) -> TrainingRun | None:
    """The training run: ``extra["training"]``, or None when absent or unusable."""
    raw = _extra(result).get("training")
    if not isinstance(raw, dict):
        return None
    history = []
    points = raw.get("history")
    for point in points[:MAX_HISTORY] if isinstance(points, list) else []:
        if not isinstance(point, (list, tuple)) or len(point) < 3:
            continue
        step, accuracy, loss = whole(point[0]), number(point[1]), number(point[2])
        if step is None or accuracy is None or loss is None:
            continue
        history.append((step, accuracy, loss))
    history.sort(key=lambda p: p[0])
    run = TrainingRun(
        history=history,
        stop_at_validation_accuracy=fraction(raw.get("stop_at_validation_accuracy")),
        min_test_accuracy=fraction(raw.get("min_test_accuracy")),
        steps=whole(raw.get("steps")),
        test_accuracy=fraction(raw.get("test_accuracy")),
        confusion_matrix=_confusion(raw.get("confusion_matrix")),
        classes=whole(raw.get("classes")),
        not_a_class=whole(raw.get("predictions_not_a_class")),
    )
    if not run.history and run.test_accuracy is None and run.confusion_matrix is None:
        return None
    return run


def _confusion(raw: Any) -> list[list[int]] | None:
    """A square matrix of non-negative counts, or None."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CLASSES:
        return None
    rows = []
    for row in raw:
        if not isinstance(row, list) or len(row) != len(raw):
            return None
        counts = [whole(n) for n in row]
        if any(n is None for n in counts):
            return None
        rows.append(counts)
    return rows



def root_cause(result: SubmissionResult) -> RootCause | None:
    """One error that broke several checks: ``extra["root_cause"]``, or None."""
    raw = _extra(result).get("root_cause")
    if not isinstance(raw, dict):
        return None
    message = raw.get("message")
    if not isinstance(message, str) or not message.strip():
        return None
    checks = raw.get("checks")
    names = [text(name, 200) for name in checks[:200]] if isinstance(checks, list) else []
    fix = raw.get("fix")
    return RootCause(message=text(message), checks=names, fix=text(fix) if isinstance(fix, str) else "")


def earned(check: Any) -> float:
    """The points a check earned (partial credit included), 0 for anything odd."""
    value = getattr(check, "points", 0.0)
    value = number(value) if not isinstance(value, bool) else None
    return value if value is not None and math.isfinite(value) else 0.0


def outcome(check: Any) -> str:
    """'passed', 'partial' (some points, not all) or 'failed'."""
    if bool(getattr(check, "passed", False)):
        return "passed"
    return "partial" if earned(check) > 0 else "failed"


def extra_credit(result: Any) -> tuple[float, float] | None:
    """(points earned, most possible) of the extra-credit checks; None when there are none."""
    checks = [c for c in getattr(result, "checks", []) if getattr(c, "extra_credit", False) is True]
    if not checks:
        return None
    return sum(earned(c) for c in checks), sum(finite(getattr(c, "max_points", 0)) for c in checks)


def points(value: Any) -> str:
    """A score as people write it: 3, 2.5, 3.72 (to 0.01, as partial credit is counted)."""
    x = number(value)
    if x is None or not math.isfinite(x):
        return "?"
    return str(int(x)) if x.is_integer() else f"{round(x, 2):g}"


def capped_output(output: Any, limit_kib: int) -> tuple[str, int]:
    """The submission's printed output cut to ``limit_kib`` KiB of characters; also how many were cut."""
    s = output if isinstance(output, str) else ""
    limit = max(int(limit_kib), 0) * 1024
    if len(s) <= limit:
        return s, 0
    return s[:limit], len(s) - limit


def percent(x: float | None) -> str:
    if x is None:
        return "?"
    if not math.isfinite(x):
        return text(x)
    return f"{x * 100:.2f}%"
