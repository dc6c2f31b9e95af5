"""Questions about the submission as a whole and about its models: load it, and compile a
model or a hand-written tensor function into op graphs.

Only plain data goes back: every measurement of a model is made by the grader's
executor on these graphs, never here.
"""

from __future__ import annotations

from torch import nn

from ..loader import load_definitions
from ...wire.answers import seed_everything
from ...wire.values import build_value
from .base import AnswerFailure, ChildState, answers, get_name, resolve_callable


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


def build_model(state: ChildState, spec: dict) -> nn.Module:
    """Build ``spec['class'](*spec['args'])`` with a fixed seed, on the grading device."""
    cls = get_name(state, spec["class"])
    seed_everything(spec.get("seed", state.seed))
    model = cls(*spec.get("args", []), **spec.get("kwargs", {}))
    if not isinstance(model, nn.Module):
        raise AnswerFailure(f"{spec['class']}(...) built a {type(model).__name__}, not a torch.nn.Module")
    return model.to(state.device)


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
    from ..compile import CompileFailure, compile_function, compile_module

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
