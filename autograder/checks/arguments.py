"""Arguments of a submission's function, as grading.toml writes them.

A check that calls a function lists its arguments in grading.toml:

- ``{tensor = [[1.0, 2.0]], dtype = "float32", requires_grad = true}``: a literal tensor;
- ``{randn = [2, 3, 8, 8], seed = 1}``: a standard-normal tensor, the same in parent and child;
- anything else (numbers, strings, lists) as it is.

This module turns them into question arguments, in which a random tensor is a
tensor spec (``tensor_specs.py``) that the parent materialises, and into the
text of the call that messages show. A ``draw`` mixed into every random seed
gives fresh tensors for a run while keeping parent and child in step.
"""

from __future__ import annotations

from typing import Any

from .base import shape_text
from .tensor_specs import literal, randn


def argument_spec(value: Any, draw: int = 0) -> Any:
    """grading.toml inputs -> question arguments (random tensors become parent-side specs, their seed
    mixed with ``draw``)."""
    if isinstance(value, dict):
        if "randn" in value:
            spec = {"tensor": randn(value["randn"], (value.get("seed", 0) + draw) % 2**31)}
            for key in ("dtype", "requires_grad"):
                if key in value:
                    spec[key] = value[key]
            return spec
        return {k: argument_spec(v, draw) for k, v in value.items()}
    if isinstance(value, list):
        return [argument_spec(v, draw) for v in value]
    return value


def is_tensor_argument(value: Any) -> bool:
    """Whether a grading.toml argument is a tensor (random or literal)."""
    return isinstance(value, dict) and ("randn" in value or "tensor" in value)


def tensor_spec(value: dict, draw: int = 0) -> dict:
    """A grading.toml tensor argument as a tensor spec the parent materialises (with its shape, for planning)."""
    if "randn" in value:
        return randn(value["randn"], (value.get("seed", 0) + draw) % 2**31)
    return literal(value["tensor"], value.get("dtype", "float32"))


def function_call_text(name: str, args: list, kwargs: dict | None = None) -> str:
    """The call as a message shows it, e.g. ``relu(tensor([1.0, -2.0]), inplace=False)``."""
    def show(v):
        if isinstance(v, dict) and "randn" in v:
            return f"<random {shape_text(v['randn'])}>"
        if isinstance(v, dict) and "tensor" in v:
            return f"tensor({v['tensor']})"
        return repr(v)
    parts = [show(a) for a in args] + [f"{k}={show(v)}" for k, v in (kwargs or {}).items()]
    return f"{name}({', '.join(parts)})"
