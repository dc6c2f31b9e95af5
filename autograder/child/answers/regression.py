"""Questions about regression: fit with the submission's own function, or train its model
with the grader's recipe. The data comes from the parent; the child returns predictions
only, and the parent compares them with what it kept (true coefficients, held-out targets).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from ...wire.answers import seed_everything
from ...wire.values import build_value
from .base import AnswerFailure, ChildState, answers, get_name


@contextmanager
def one_thread() -> Iterator[None]:
    """Run on one CPU thread: these models are tiny, so a thread pool only adds overhead (tenfold
    on a busy machine), and the result does not depend on how many cores the grader has."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@answers("fit_and_evaluate")
def fit_and_evaluate(state: ChildState, function: str, args: list, kwargs: dict, inputs: torch.Tensor) -> dict:
    """Call ``function(*args, **kwargs)``, which returns a trained model, then run it on ``inputs``."""
    fit = get_name(state, function)
    if not callable(fit):
        raise AnswerFailure(f"'{function}' is a {type(fit).__name__}, not a function")
    seed_everything(state.seed)
    with one_thread():
        model = fit(*build_value(args), **build_value(kwargs))
    if model is None:
        raise AnswerFailure(f"{function}(...) returned None: return the trained model")
    if not callable(model):
        raise AnswerFailure(f"{function}(...) returned a {type(model).__name__}; expected the trained model "
                           "(an nn.Module)")
    if isinstance(model, nn.Module):
        model.eval()
        parameter = next(model.parameters(), None)
        if parameter is not None:
            inputs = inputs.to(parameter.device, parameter.dtype)
    with one_thread(), torch.no_grad():
        out = model(inputs)
    if not isinstance(out, torch.Tensor):
        raise AnswerFailure(f"the model {function}(...) returned gives a {type(out).__name__}, not a tensor")
    return {"outputs": out.detach().to("cpu", torch.float64), "model_type": type(model).__name__}
