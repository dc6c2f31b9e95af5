"""Argument specs turned into tensors. The child builds a question's arguments with
this, and the parent builds its reference's arguments with the same function, so
the two always see the same values."""

from __future__ import annotations

from typing import Any

import torch


def build_value(value: Any) -> Any:
    """Turn ``{"tensor": [...], "dtype": ..., "requires_grad": ...}`` into tensors (recursively)."""
    if isinstance(value, dict):
        if "tensor" in value and set(value) <= {"tensor", "dtype", "requires_grad"}:
            data = value["tensor"]
            dtype = getattr(torch, value.get("dtype", "float32"))
            tensor = data.to(dtype) if isinstance(data, torch.Tensor) else torch.tensor(data, dtype=dtype)
            return tensor.clone().requires_grad_(bool(value.get("requires_grad", False)))
        return {k: build_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [build_value(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.clone()
    return value
