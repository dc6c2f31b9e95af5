"""Questions about regression: fit with the submission's own function, or train its model
with the grader's recipe. The data comes from the parent; the child returns predictions
only, and the parent compares them with what it kept (true coefficients, held-out targets).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from .probes import ProbeFailure, WorkerState, build_model, get_name, probe, seed_everything
from .probes_functions import build_value
from .recipes import TrainingFailure, make_optimizer as _optimizer


@contextmanager
def one_thread() -> Iterator[None]:
    """Run on one CPU thread: these models are tiny, so a thread pool only adds overhead (tenfold
    on a busy machine), and the result no longer depends on how many cores the grader has."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@probe("fit_and_evaluate")
def fit_and_evaluate(state: WorkerState, function: str, args: list, kwargs: dict, inputs: torch.Tensor) -> dict:
    """Call ``function(*args, **kwargs)``, which returns a trained model, then run it on ``inputs``."""
    fit = get_name(state, function)
    if not callable(fit):
        raise ProbeFailure(f"'{function}' is a {type(fit).__name__}, not a function")
    seed_everything(state.seed)
    with one_thread():
        model = fit(*build_value(args), **build_value(kwargs))
    if model is None:
        raise ProbeFailure(f"{function}(...) returned None: return the trained model")
    if not callable(model):
        raise ProbeFailure(f"{function}(...) returned a {type(model).__name__}; expected the trained model "
                           "(an nn.Module)")
    if isinstance(model, nn.Module):
        model.eval()
        parameter = next(model.parameters(), None)
        if parameter is not None:
            inputs = inputs.to(parameter.device, parameter.dtype)
    with one_thread(), torch.no_grad():
        out = model(inputs)
    if not isinstance(out, torch.Tensor):
        raise ProbeFailure(f"the model {function}(...) returned gives a {type(out).__name__}, not a tensor")
    return {"outputs": out.detach().to("cpu", torch.float64), "model_type": type(model).__name__}


def _name(model: dict) -> str:
    return f"{model['class']}({', '.join(repr(a) for a in model.get('args', []))})"


@probe("train_regression")
def train_regression(state: WorkerState, model: dict, recipe: dict, x_train: torch.Tensor,
                     y_train: torch.Tensor, x_test: torch.Tensor) -> dict:
    """Train ``model`` on (x_train, y_train) with the mean squared error and the grader's recipe
    (optimizer, lr, schedule, epochs, batch_size; shuffled with the grading seed), then predict x_test."""
    started = time.perf_counter()
    net = build_model(state, model)
    x_train, y_train = x_train.to(state.device), y_train.to(state.device).reshape(-1)
    with one_thread():
        loss = _fit(net, _name(model), recipe, x_train, y_train, state.seed)
        net.eval()
        with torch.no_grad():
            predictions = net(x_test.to(state.device))
    if not isinstance(predictions, torch.Tensor) or predictions.numel() != len(x_test):
        raise ProbeFailure(f"forward() of {_name(model)} in eval mode does not return one number per sample")
    return {"predictions": predictions.detach().reshape(-1).to("cpu", torch.float64),
            "final_loss": float(loss.item()), "seconds": time.perf_counter() - started}


def _fit(net: nn.Module, name: str, recipe: dict, x_train: torch.Tensor, y_train: torch.Tensor,
         seed: int) -> torch.Tensor:
    """Minimise the mean squared error of ``net`` on (x_train, y_train); return the last batch's loss."""
    try:
        optimizer = _optimizer(net, recipe)
    except TrainingFailure as exc:
        raise ProbeFailure(str(exc)) from None
    generator = torch.Generator().manual_seed(seed)
    steps = recipe["epochs"] * -(-len(x_train) // recipe["batch_size"])
    step = 0
    net.train()
    loss = torch.tensor(float("nan"))
    for _ in range(recipe["epochs"]):
        order = torch.randperm(len(x_train), generator=generator).to(x_train.device)
        for start in range(0, len(order), recipe["batch_size"]):
            if recipe.get("schedule") == "linear":      # the learning rate falls linearly to 0
                for group in optimizer.param_groups:
                    group["lr"] = recipe["lr"] * (1 - step / steps)
            step += 1
            index = order[start:start + recipe["batch_size"]]
            out = net(x_train[index])
            if not isinstance(out, torch.Tensor) or out.numel() != len(index):
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ProbeFailure(f"forward() of {name} returned {shape} for a batch of {len(index)} inputs; "
                                   f"expected ({len(index)}, 1): one number per sample")
            loss = ((out.reshape(-1) - y_train[index]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return loss
