"""Questions about plain functions and small classes: call them, differentiate
through them, index them. The parent compares what comes back with expected
values or with trusted library code it runs itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ...wire.answers import gradient_problem, seed_everything
from ...wire.values import build_value
from .base import AnswerFailure, ChildState, answers, get_name, resolve_callable, to_plain


@answers("call")
def call(state: ChildState, name: str, args: list | None = None, kwargs: dict | None = None) -> Any:
    """Call a function or class the submission defines and return its result."""
    func = get_name(state, name)
    if not callable(func):
        raise AnswerFailure(f"'{name}' is a {type(func).__name__}, not a function")
    seed_everything(state.seed)
    return to_plain(func(*(args or []), **(kwargs or {})))


@answers("call_function")
def call_function(state: ChildState, function: str, args: list | None = None, kwargs: dict | None = None,
                  backward: bool = False, calls: int = 1) -> dict:
    """Call ``function(*args, **kwargs)`` ``calls`` times on the same inputs.

    With ``backward`` the sum of each result is backpropagated; the gradients
    of the tensor arguments that require them are returned as they stand
    after the last call (so accumulation across calls shows).
    """
    func = resolve_callable(state, function)
    args = build_value(args or [])
    kwargs = build_value(kwargs or {})
    seed_everything(state.seed)
    result = None
    for _ in range(max(1, int(calls))):
        result = func(*args, **kwargs)
        if backward:
            problem = gradient_problem(result, f"{function}(...)")
            if problem:
                raise AnswerFailure(problem)
            result.sum().backward()
    grads = [None if not isinstance(a, torch.Tensor) or a.grad is None else a.grad.detach().clone()
             for a in args]
    after = [a.detach().clone() if isinstance(a, torch.Tensor) else None for a in args]
    return {"result": to_plain(result), "grads": grads, "args_after": after}


@answers("gradcheck_function")
def gradcheck_function(state: ChildState, function: str, inputs: list) -> dict:
    """Run ``torch.autograd.gradcheck`` in float64; return its verdict and one forward/backward."""
    func = resolve_callable(state, function)
    xs = [x.detach().to(torch.float64).requires_grad_(True) for x in inputs]
    try:
        ok = bool(torch.autograd.gradcheck(func, tuple(xs), eps=1e-6, atol=1e-5, raise_exception=True))
        reason = ""
    except Exception as error:  # noqa: BLE001 - the reason goes to the parent as a sentence
        ok, reason = False, str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
    for x in xs:
        x.grad = None
    out = func(*xs)
    if not isinstance(out, torch.Tensor):
        raise AnswerFailure(f"{function}(...) returned a {type(out).__name__}, not a tensor")
    out.sum().backward()
    return {"ok": ok, "reason": reason, "output": out.detach().clone(),
            "grads": [None if x.grad is None else x.grad.detach().clone() for x in xs]}


@answers("dataset_items")
def dataset_items(state: ChildState, cls: str, args: list, indices: list[int]) -> dict:
    """Build ``cls(*args)`` and report ``len()`` and the items at ``indices``."""
    dataset = get_name(state, cls)(*build_value(args))
    items = []
    for i in indices:
        item = dataset[i]
        if not isinstance(item, (tuple, list)):
            raise AnswerFailure(f"{cls}[{i}] returned a {type(item).__name__}; expected a pair (features, target)")
        items.append([to_plain(v) for v in item])
    return {"length": len(dataset), "items": items}


@answers("load_text_file")
def load_text_file(state: ChildState, function: str, text: str, filename: str) -> Any:
    """Write ``text`` to ``filename`` in the working folder and call ``function(path)``."""
    path = Path.cwd() / Path(filename).name
    path.write_text(text, encoding="utf-8")
    func = resolve_callable(state, function)
    seed_everything(state.seed)
    result = func(str(path))
    if isinstance(result, tuple) and len(result) == 2 and hasattr(result[0], "toarray"):
        result = (result[0].toarray(), result[1])
    return to_plain(result)
