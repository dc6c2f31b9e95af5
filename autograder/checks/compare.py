"""Values compared with a tolerance, and what a student reads when they differ.

A submission returns numbers, nested lists or tensors; the parent holds the
value it expects. Both are read as float64 tensors and compared element by
element against an absolute tolerance. Each comparison gives an empty string
when the values are close and otherwise one sentence naming what differs (not
numbers, a shape, the largest difference), so a kind only adds its context.
A NaN is never close to anything.
"""

from __future__ import annotations

from typing import Any

import torch

from .base import shape_text


def as_tensor(value: Any) -> torch.Tensor | None:
    """A tensor, a number or nested lists (of numbers or tensors) as a float64 tensor; None when it is
    not one rectangular array of numbers."""
    if isinstance(value, torch.Tensor):
        return value.detach().double()
    def lists(v):
        if isinstance(v, torch.Tensor):
            return v.tolist()
        return [lists(x) for x in v] if isinstance(v, list) else v
    try:
        return torch.tensor(lists(value), dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return None


def compare(got: Any, want: Any, tol: float, what: str) -> str:
    """'' when close, otherwise a sentence saying how they differ."""
    got_t, want_t = as_tensor(got), as_tensor(want)
    if got_t is None:
        shown = got.get("__repr__", got) if isinstance(got, dict) else got
        return f"{what} is {str(shown)[:80]!s}, which is not numbers; expected {value_text(want_t)}"
    if tuple(got_t.shape) != tuple(want_t.shape):
        if got_t.numel() == want_t.numel() == 1:
            got_t, want_t = got_t.reshape(()), want_t.reshape(())
        else:
            return f"{what} has shape {shape_text(got_t.shape)}; expected {shape_text(want_t.shape)}"
    diff = (got_t - want_t).abs()
    bad = ~(diff <= tol)
    if bool(bad.any()):
        return (f"{what} is {value_text(got_t)}; expected {value_text(want_t)} "
                f"(differs by up to {diff[bad].max().item() if not diff.isnan().any() else float('nan'):.3g}, "
                f"tolerance {tol:g})")
    return ""


def is_ragged(value: Any) -> bool:
    """A tuple or list whose items are not one rectangular array (e.g. train_test_split's four arrays)."""
    return isinstance(value, (list, tuple)) and as_tensor(value) is None


def compare_items(got: Any, want: list | tuple, tol: float, call: str) -> str:
    """Compare a returned sequence item by item; '' when every item is close."""
    if not isinstance(got, (list, tuple)):
        return f"{call} returned a single {type(got).__name__}; expected {len(want)} values (a tuple)"
    if len(got) != len(want):
        return f"{call} returned {len(got)} values; expected {len(want)}"
    for i, (item, wanted) in enumerate(zip(got, want)):
        problem = compare(item, wanted, tol, f"item {i + 1} of the {len(want)} values {call} returned")
        if problem:
            return problem
    return ""


def value_text(t: torch.Tensor | None) -> str:
    """A tensor as a message shows it: its values (rounded) when there are few, else its shape."""
    if t is None:
        return "?"
    if t.numel() <= 8:
        return str([round(v, 4) for v in t.flatten().tolist()]) if t.dim() else f"{t.item():.4g}"
    return f"a tensor of shape {shape_text(t.shape)}"
