"""The leaderboard: the measured values a class is ranked on.

``[assignments.<id>.leaderboard] rank`` names values from ``LEADERBOARD_VALUES``,
each with its order. The runner records each submission's values in
``extra_data.leaderboard`` in Gradescope's form (``[{"name", "value", "order"}]``),
results.json carries them as Gradescope's top-level ``leaderboard``, and
report.html ranks the batch by them (first value first, ties by the next).
A value the run did not measure (no training run, say) is left out: that
submission ranks after every one that has it.

Pure Python (no torch); the values it knows are declared in settings/model.py.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from ..settings.model import ORDERS


TITLES = {"test_accuracy": "Test accuracy (%)", "parameters": "Parameters", "steps": "Steps to the target",
          "grading_seconds": "Grading time (s)"}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def measure(value: str, extra: dict, seconds: float) -> float | int | None:
    """One leaderboard value of a graded submission, from what the grader recorded (None: not measured)."""
    training = extra.get("training") if isinstance(extra.get("training"), dict) else {}
    if value == "test_accuracy":
        details = extra.get("check_details") if isinstance(extra.get("check_details"), dict) else {}
        found = [_number(d.get("test_accuracy")) for d in details.values() if isinstance(d, dict)]
        found = [a for a in found + [_number(training.get("test_accuracy"))] if a is not None]
        return round(max(found) * 100, 2) if found else None
    if value == "steps":
        steps = _number(training.get("steps"))
        return None if steps is None else int(steps)
    if value == "parameters":
        # a check that counted them (trained weights: the state dict loaded) says so; else the layer table
        details = extra.get("check_details") if isinstance(extra.get("check_details"), dict) else {}
        counted = [_number(d.get("parameters")) for d in details.values() if isinstance(d, dict)]
        counted = [count for count in counted if count is not None]
        if counted:
            return int(max(counted))
        layers = extra.get("layers")
        if not isinstance(layers, list) or not layers:
            return None
        counts = [_number(layer.get("parameters")) for layer in layers if isinstance(layer, dict)]
        return int(sum(count for count in counts if count is not None)) if counts else None
    if value == "grading_seconds":
        seconds = _number(seconds)
        return None if seconds is None else round(seconds, 1)
    return None


def entries(rank: Sequence[tuple[str, str]], extra: dict, seconds: float) -> list[dict]:
    """Gradescope's ``leaderboard`` list for one submission: the measured values, in ``rank``'s order."""
    found = []
    for value, order in rank:
        number = measure(value, extra, seconds)
        if number is not None:
            found.append({"name": TITLES[value], "value": number, "order": order})
    return found


def recorded(result) -> list[dict]:
    """The leaderboard entries a result carries (``extra_data.leaderboard``), checked: [] when none."""
    extra = result.extra if isinstance(result.extra, dict) else {}
    rows = extra.get("leaderboard")
    if not isinstance(rows, list):
        return []
    return [{"name": str(row["name"]), "value": row["value"], "order": row["order"]} for row in rows
            if isinstance(row, dict) and isinstance(row.get("name"), str) and row.get("order") in ORDERS
            and _number(row.get("value")) is not None]


def ranked(results: Iterable) -> tuple[list[str], list[tuple[object, dict[str, float]]]]:
    """The columns (titles, in rank order) and the results that have a leaderboard, best first: by the first
    column in its order, ties broken by the next; a missing value ranks after every present one."""
    columns: list[str] = []
    orders: dict[str, str] = {}
    rows = []
    for result in results:
        values = {}
        for entry in recorded(result):
            if entry["name"] not in orders:
                columns.append(entry["name"])
                orders[entry["name"]] = entry["order"]
            values[entry["name"]] = entry["value"]
        if values:
            rows.append((result, values))

    def key(row):
        out = []
        for column in columns:
            value = row[1].get(column)
            out.append((1, 0.0) if value is None else (0, -value if orders[column] == "desc" else value))
        return out

    return columns, sorted(rows, key=key)
