"""The questions the child answers, one function each.

A probe takes the worker's state and keyword arguments sent by the parent and
returns plain data: tensors (moved to the CPU), numbers, strings, lists and
dicts. Probes report facts; the parent judges them. New probes register with
``@answers("name")`` under a name declared in ``operations.py``; modules named ``probes_*.py`` in this package are loaded
automatically.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .loader import load_definitions
from ..wire.answers import seed_everything
from ..wire.operations import WORKER
from ..wire.values import build_value

ANSWERS: dict[str, Callable[..., Any]] = {}


def answers(name: str):
    if name not in WORKER:
        raise KeyError(f"'{name}' is not a worker operation in operations.py")

    def register(func):
        ANSWERS[name] = func
        return func
    return register


class AnswerFailure(Exception):
    """A fact the parent should hear as a plain sentence (e.g. 'forward() returned None')."""


@dataclass
class ChildState:
    submission: Path
    device: str
    seed: int
    data_file: Path | None
    module: Any = None
    notes: dict = field(default_factory=dict)


def get_name(state: ChildState, name: str) -> Any:
    if state.module is None:
        raise AnswerFailure("the submission was not loaded")
    if not hasattr(state.module, name):
        defined = [n for n in vars(state.module) if not n.startswith("_")]
        close = difflib.get_close_matches(name, defined, n=1, cutoff=0.6)
        if not close:
            close = [n for n in defined if n.lower() == name.lower()]
        hint = f" (it defines '{close[0]}': rename it to '{name}')" if close else ""
        raise AnswerFailure(f"{state.submission.name} defines no '{name}'{hint}")
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

@answers("load")
def load(state: ChildState, names: list[str]) -> dict:
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

def build_model(state: ChildState, spec: dict) -> nn.Module:
    """Build ``spec['class'](*spec['args'])`` with a fixed seed, on the grading device."""
    cls = get_name(state, spec["class"])
    seed_everything(spec.get("seed", state.seed))
    model = cls(*spec.get("args", []), **spec.get("kwargs", {}))
    if not isinstance(model, nn.Module):
        raise AnswerFailure(f"{spec['class']}(...) built a {type(model).__name__}, not a torch.nn.Module")
    return model.to(state.device)


def _check_tensor(out: Any, what: str = "forward()") -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if out is None:
        raise AnswerFailure(f"{what} returned None: it is not implemented yet, or it forgets to return its result")
    raise AnswerFailure(f"{what} returned a {type(out).__name__}, not a tensor")


def _function_module(state: ChildState, spec: dict) -> nn.Module:
    """A hand-written tensor function as a module of one input: argument ``input_index`` is the
    input; every other argument is baked in as it was given."""

    func = resolve_callable(state, spec["function"])
    args, kwargs, index = build_value(spec.get("args", [])), build_value(spec.get("kwargs", {})), spec["input_index"]

    class FunctionModule(nn.Module):
        def forward(self, x):
            given = list(args)
            given[index] = x
            return func(*given, **kwargs)

    return FunctionModule()


@answers("compile_model")
def compile_model(state: ChildState, model: dict, input_shape: list[int], batch_sizes: list[int],
                  modes: list[str]) -> dict:
    """Build the model and trace its forward() into op graphs; only plain data goes back.

    Every measurement of the model is made by the grader on these graphs, never here.
    """
    from .compile import CompileFailure, compile_function, compile_module

    try:
        if "function" in model:
            # graded on one given input, whose other arguments (targets, kernels) may fix its
            # batch size: traced at exactly that shape
            return compile_function(_function_module(state, model), input_shape, batch_sizes,
                                    state.submission.name, f"{model['function']}()")
        net = build_model(state, model).to("cpu")
        return compile_module(net, input_shape, batch_sizes, modes, state.submission.name)
    except CompileFailure as exc:
        raise AnswerFailure(str(exc)) from None


# ----------------------------------------------------------------- plain functions

@answers("call")
def call(state: ChildState, name: str, args: list | None = None, kwargs: dict | None = None) -> Any:
    """Call a function or class the submission defines and return its result."""
    func = get_name(state, name)
    if not callable(func):
        raise AnswerFailure(f"'{name}' is a {type(func).__name__}, not a function")
    seed_everything(state.seed)
    return to_plain(func(*(args or []), **(kwargs or {})))


def resolve_callable(state: ChildState, name: str) -> Any:
    """``name`` or ``Class.apply`` style dotted names the submission defines."""
    head, _, rest = name.partition(".")
    target = get_name(state, head)
    for part in [p for p in rest.split(".") if p]:
        if not hasattr(target, part):
            raise AnswerFailure(f"'{head}' has no attribute '{part}'")
        target = getattr(target, part)
    if not callable(target):
        raise AnswerFailure(f"'{name}' is a {type(target).__name__}, not something you can call")
    return target
