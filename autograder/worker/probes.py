"""The questions the child answers, one function each.

A probe takes the worker's state and keyword arguments sent by the parent and
returns plain data: tensors (moved to the CPU), numbers, strings, lists and
dicts. Probes report facts; the parent judges them. New probes register with
``@probe("name")``; modules named ``probes_*.py`` in this package are loaded
automatically.
"""

from __future__ import annotations

import difflib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .loader import load_definitions

PROBES: dict[str, Callable[..., Any]] = {}


def probe(name: str):
    def register(func):
        PROBES[name] = func
        return func
    return register


class ProbeFailure(Exception):
    """A fact the parent should hear as a plain sentence (e.g. 'forward() returned None')."""


@dataclass
class WorkerState:
    submission: Path
    device: str
    seed: int
    data_file: Path | None
    module: Any = None
    notes: dict = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)  # seeds CUDA too


def get_name(state: WorkerState, name: str) -> Any:
    if state.module is None:
        raise ProbeFailure("the submission was not loaded")
    if not hasattr(state.module, name):
        defined = [n for n in vars(state.module) if not n.startswith("_")]
        close = difflib.get_close_matches(name, defined, n=1, cutoff=0.6)
        if not close:
            close = [n for n in defined if n.lower() == name.lower()]
        hint = f" (it defines '{close[0]}': rename it to '{name}')" if close else ""
        raise ProbeFailure(f"{state.submission.name} defines no '{name}'{hint}")
    return getattr(state.module, name)


def to_plain(value: Any, depth: int = 0) -> Any:
    """Turn a result into data the parent can read safely (tensors on the CPU)."""
    if depth > 8:
        return {"__type__": type(value).__name__, "__repr__": "(nested too deeply)"}
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu").clone()
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return {"__type__": "ndarray", "__repr__": repr(value)[:200]}
        return torch.from_numpy(np.ascontiguousarray(value)).clone()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [to_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, torch.Size):
        return list(value)
    return {"__type__": type(value).__name__, "__repr__": repr(value)[:200]}


# ----------------------------------------------------------------- loading

@probe("load")
def load(state: WorkerState, names: list[str]) -> dict:
    """Load the submission's definitions; say which required names it lacks."""
    module, report = load_definitions(state.submission)
    state.module = module
    defined = sorted(n for n in vars(module) if not n.startswith("__"))
    return {
        "defined": defined,
        "missing": [n for n in names if not hasattr(module, n)],
        "skipped": report.skipped,
        "missing_modules": report.missing_modules,
    }


# ----------------------------------------------------------------- models

def build_model(state: WorkerState, spec: dict) -> nn.Module:
    """Build ``spec['class'](*spec['args'])`` with a fixed seed, on the grading device."""
    cls = get_name(state, spec["class"])
    seed_everything(spec.get("seed", state.seed))
    model = cls(*spec.get("args", []), **spec.get("kwargs", {}))
    if not isinstance(model, nn.Module):
        raise ProbeFailure(f"{spec['class']}(...) built a {type(model).__name__}, not a torch.nn.Module")
    return model.to(state.device)


def _check_tensor(out: Any, what: str = "forward()") -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if out is None:
        raise ProbeFailure(f"{what} returned None: it is not implemented yet, or it forgets to return its result")
    raise ProbeFailure(f"{what} returned a {type(out).__name__}, not a tensor")


@probe("build")
def build(state: WorkerState, model: dict) -> dict:
    """Build the model and describe its parameters and submodules."""
    net = build_model(state, model)
    return {
        "class_name": type(net).__name__,
        "parameters": [[name, list(p.shape), bool(p.requires_grad)] for name, p in net.named_parameters()],
        "modules": [[name, type(m).__name__] for name, m in net.named_modules() if name],
    }


class CallRecorder(TorchFunctionMode):
    """Records every torch function called during a forward pass, in order,
    whether written as a module (nn.ReLU) or a function (F.relu, x.relu())."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = getattr(func, "__name__", type(func).__name__).lstrip("_")
        shape = list(out.shape) if isinstance(out, torch.Tensor) else None
        self.calls.append([name, shape])
        return out


@probe("forward")
def forward(state: WorkerState, model: dict, input: torch.Tensor, runs: list[dict], trace: bool = False) -> dict:
    """Build the model once, then run it on ``input`` once per run.

    Each run names a mode ('train' or 'eval') and a seed set just before it.
    With ``trace``, the first run also records the torch calls it makes.
    """
    net = build_model(state, model)
    x = input.to(state.device)
    outputs, calls = [], None
    for i, run in enumerate(runs):
        net.train(run["mode"] == "train")
        seed_everything(run.get("seed", state.seed))
        with torch.no_grad():
            if trace and i == 0:
                recorder = CallRecorder()
                with recorder:
                    out = net(x)
                calls = recorder.calls
            else:
                out = net(x)
        outputs.append(_check_tensor(out).detach().float().cpu())
    return {"outputs": outputs, "calls": calls}


@probe("backward")
def backward(state: WorkerState, model: dict, input: torch.Tensor, weights: torch.Tensor) -> dict:
    """One training-mode forward, loss = sum(output * weights), one backward.

    Returns every parameter's gradient (None where none arrived).
    """
    net = build_model(state, model)
    net.train()
    seed_everything(state.seed)
    try:
        out = _check_tensor(net(input.to(state.device)))
    except ProbeFailure:
        raise
    except BaseException as exc:
        exc.stage = "forward"
        raise
    if out.shape != weights.shape:
        raise ProbeFailure(f"forward() returned shape {tuple(out.shape)}; expected {tuple(weights.shape)}")
    loss = (out * weights.to(out.device, out.dtype)).sum()
    try:
        loss.backward()
    except BaseException as exc:
        exc.stage = "backward"
        raise
    grads = []
    for name, p in net.named_parameters():
        grads.append([name, None if p.grad is None else p.grad.detach().float().cpu()])
    return {"grads": grads, "loss_requires_grad": bool(loss.requires_grad)}


@probe("train")
def train(state: WorkerState, model: dict, recipe: dict, input_shape: list[int]) -> dict:
    """Train with the assignment's recipe, then predict the test images."""
    from .training import train_and_predict

    if state.data_file is None or not state.data_file.exists():
        raise ProbeFailure("the grader gave no training data to this check")
    net = build_model(state, model)
    return train_and_predict(net, state.data_file, recipe, input_shape, state.device, state.seed)


# ----------------------------------------------------------------- plain functions

@probe("call")
def call(state: WorkerState, name: str, args: list | None = None, kwargs: dict | None = None) -> Any:
    """Call a function or class the submission defines and return its result."""
    func = get_name(state, name)
    if not callable(func):
        raise ProbeFailure(f"'{name}' is a {type(func).__name__}, not a function")
    seed_everything(state.seed)
    return to_plain(func(*(args or []), **(kwargs or {})))
