"""Reading what a training function recorded: its results dict, epoch by epoch.

A submission's training function keeps a ``results`` dict of lists, one entry
per epoch (``"epoch"``, ``"total time"``, ``"train loss"``, ``"val <score>"``...).
These helpers read such a list as plain numbers, or say in one sentence why it
cannot be read, and compare recorded losses with the batch losses the child
watched. Epochs may be counted as the textbook counts them (the loop index 0,
1, ..., N - 1) or from 1 (1, ..., N); ``epoch_base`` says which a submission
chose, and every later check holds it to that choice. Recorded numbers are
compared with a relative tolerance (``close``).
"""

from __future__ import annotations

import torch


def close(a: float, b: float, tol: float) -> bool:
    """``a`` is within ``tol`` of ``b``, relative to ``b`` (absolute when ``b`` is under 1)."""
    return abs(a - b) <= tol * max(1.0, abs(b))


def number(value) -> float | None:
    """A recorded value as a float: a Python number or a one-element tensor (None otherwise; a bool is no number)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def series(results: dict, key: str, length: int) -> tuple[list[float] | None, str]:
    """results[key] as `length` numbers, or why not."""
    if key not in results:
        return None, f"the results have no key '{key}' (keys: {', '.join(sorted(results)) or 'none'})"
    values = results[key]
    if not isinstance(values, list):
        return None, f"results['{key}'] is a {type(values).__name__}; expected a list with one value per epoch"
    read = [number(v) for v in values]
    if len(read) != length or any(v is None for v in read):
        return None, f"results['{key}'] holds {len(values)} values; expected {length} numbers"
    return read, ""


def epoch_base(epochs: list[float]) -> int | None:
    """0 when the epochs were recorded as the loop index (0 .. N-1), 1 when counted from 1, else None."""
    for base in (0, 1):
        if epochs == [float(e) for e in range(base, base + len(epochs))]:
            return base
    return None


def numbers(values) -> list[float | None]:
    """A recorded series as plain numbers (None where an entry is not a number)."""
    return [number(v) for v in values] if isinstance(values, list) else []


def batch_mean_ok(value: float, calls: list[dict], tol: float) -> bool:
    """The recorded epoch loss is the mean of its batches' losses (plain or weighted by size)."""
    if not calls:
        return False
    plain = sum(c["loss"] for c in calls) / len(calls)
    weighted = sum(c["loss"] * c["size"] for c in calls) / sum(c["size"] for c in calls)
    return close(value, plain, tol) or close(value, weighted, tol)


def check_history(p, results: dict, epochs: int, what: str) -> tuple[str, int]:
    """'' and how the epochs are counted (0 or 1), or why the history is wrong."""
    epoch, why = series(results, "epoch", epochs)
    if epoch is None:
        return f"{what}: {why}", 0
    base = epoch_base(epoch)
    if base is None:
        return (f"{what}: results['epoch'] is {epoch}; expected the epoch of each entry, "
                f"0 to {epochs - 1} (the loop index) or 1 to {epochs}"), 0
    times, why = series(results, "total time", epochs)
    if times is None:
        return f"{what}: {why}", base
    if any(b < a for a, b in zip(times, times[1:])) or times[0] < 0:
        return (f"{what}: results['total time'] {times} should be the running total of seconds, "
                "never decreasing"), base
    for key in ("train loss", "val loss", *(f"{s} {n}" for s in ("train", "val") for n in p["scores"])):
        values, why = series(results, key, epochs)
        if values is None:
            return f"{what}: {why}", base
    return "", base
