"""Checks on plain functions and small classes.

The child calls the submission's function on inputs written in grading.toml
and sends back raw results; the parent compares them with expected values,
with a trusted library call it makes itself on the same inputs (a ``torch``
function, scikit-learn's ``train_test_split`` or svmlight loader), or, for a
minimiser, with an objective written as a formula that it evaluates itself
(``autograder/formula.py``). Inputs in grading.toml:

- ``{tensor = [[1.0, 2.0]], dtype = "float32", requires_grad = true}``: a literal tensor;
- ``{randn = [2, 3, 8, 8], seed = 1}``: a standard-normal tensor, the same in parent and child;
- anything else (numbers, strings, lists) as it is.
"""

from __future__ import annotations

import importlib
import io
import itertools
import math
import random
from typing import Any

import torch

from ..config_types import Key
from ..formula import Formula
from .base import CheckKind, Probe, Verdict, by_hand_verdict, shape_text
from .tensor_specs import literal, materialize, randn
from .registry import register


def _spec(value: Any) -> Any:
    """grading.toml inputs -> probe arguments (random tensors become parent-side specs)."""
    if isinstance(value, dict):
        if "randn" in value:
            spec = {"tensor": randn(value["randn"], value.get("seed", 0))}
            for key in ("dtype", "requires_grad"):
                if key in value:
                    spec[key] = value[key]
            return spec
        return {k: _spec(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_spec(v) for v in value]
    return value


def _build(value: Any) -> Any:
    """Probe arguments -> the tensors the child builds, made here for the parent's reference."""
    value = materialize(value)
    if isinstance(value, dict):
        if "tensor" in value and set(value) <= {"tensor", "dtype", "requires_grad"}:
            data, dtype = value["tensor"], getattr(torch, value.get("dtype", "float32"))
            tensor = data.to(dtype) if isinstance(data, torch.Tensor) else torch.tensor(data, dtype=dtype)
            return tensor.clone().requires_grad_(bool(value.get("requires_grad", False)))
        return {k: _build(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_build(v) for v in value]
    return value


# Libraries whose functions the parent trusts as references (it runs them itself).
TRUSTED_LIBRARIES = ("torch", "sklearn")


def _trusted(name: str):
    """A function of torch or scikit-learn named by its dotted path, e.g.
    'torch.nn.functional.max_pool2d' or 'sklearn.model_selection.train_test_split'."""
    parts = name.split(".")
    if parts[0] not in TRUSTED_LIBRARIES:
        raise ValueError(f"reference '{name}' must be a function of {' or '.join(TRUSTED_LIBRARIES)}")
    for cut in range(len(parts), 0, -1):  # the longest importable module, then attributes
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            target = getattr(target, part)
        return target
    raise ValueError(f"reference '{name}' cannot be imported")


def _is_tensor_argument(value: Any) -> bool:
    return isinstance(value, dict) and ("randn" in value or "tensor" in value)


def _graph_inputs(params: dict) -> list[int]:
    """The arguments a by-hand function is compiled on, each in a graph of its own: those whose
    gradient is compared (with ``backward``), else the first tensor argument."""
    first = next(i for i, a in enumerate(params["args"]) if _is_tensor_argument(a))
    if not params["backward"]:
        return [first]
    wanted = [i for i, want in enumerate(params["expect_grads"]) if want is not None]
    return sorted({first, *wanted})


def _input_spec(value: dict) -> dict:
    """A grading.toml tensor argument as a tensor spec the parent materialises (with its shape, for planning)."""
    if "randn" in value:
        return randn(value["randn"], value.get("seed", 0))
    return literal(value["tensor"], value.get("dtype", "float32"))


def _call_text(name: str, args: list, kwargs: dict | None = None) -> str:
    def show(v):
        if isinstance(v, dict) and "randn" in v:
            return f"<random {shape_text(v['randn'])}>"
        if isinstance(v, dict) and "tensor" in v:
            return f"tensor({v['tensor']})"
        return repr(v)
    parts = [show(a) for a in args] + [f"{k}={show(v)}" for k, v in (kwargs or {}).items()]
    return f"{name}({', '.join(parts)})"


def _as_tensor(value: Any) -> torch.Tensor | None:
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


def _compare(got: Any, want: Any, tol: float, what: str) -> str:
    """'' when close, otherwise a sentence saying how they differ."""
    got_t, want_t = _as_tensor(got), _as_tensor(want)
    if got_t is None:
        shown = got.get("__repr__", got) if isinstance(got, dict) else got
        return f"{what} is {str(shown)[:80]!s}, which is not numbers; expected {_short(want_t)}"
    if tuple(got_t.shape) != tuple(want_t.shape):
        if got_t.numel() == want_t.numel() == 1:
            got_t, want_t = got_t.reshape(()), want_t.reshape(())
        else:
            return f"{what} has shape {shape_text(got_t.shape)}; expected {shape_text(want_t.shape)}"
    diff = (got_t - want_t).abs()
    bad = ~(diff <= tol)
    if bool(bad.any()):
        return (f"{what} is {_short(got_t)}; expected {_short(want_t)} "
                f"(differs by up to {diff[bad].max().item() if not diff.isnan().any() else float('nan'):.3g}, "
                f"tolerance {tol:g})")
    return ""


def _is_ragged(value: Any) -> bool:
    """A tuple or list whose items are not one rectangular array (e.g. train_test_split's four arrays)."""
    return isinstance(value, (list, tuple)) and _as_tensor(value) is None


def _compare_items(got: Any, want: list | tuple, tol: float, call: str) -> str:
    """Compare a returned sequence item by item; '' when every item is close."""
    if not isinstance(got, (list, tuple)):
        return f"{call} returned a single {type(got).__name__}; expected {len(want)} values (a tuple)"
    if len(got) != len(want):
        return f"{call} returned {len(got)} values; expected {len(want)}"
    for i, (item, wanted) in enumerate(zip(got, want)):
        problem = _compare(item, wanted, tol, f"item {i + 1} of the {len(want)} values {call} returned")
        if problem:
            return problem
    return ""


def _short(t: torch.Tensor | None) -> str:
    if t is None:
        return "?"
    if t.numel() <= 8:
        return str([round(v, 4) for v in t.flatten().tolist()]) if t.dim() else f"{t.item():.4g}"
    return f"a tensor of shape {shape_text(t.shape)}"


@register
class FunctionValue(CheckKind):
    name = "function_value"
    summary = "a function returns the expected value (or a torch reference's) and the expected gradients"
    params = {
        "function": Key("", "the submission's function (or 'Class.apply')", required=True),
        "args": Key([], "positional arguments; tensors as {tensor=..., dtype=..., requires_grad=...} "
                        "or {randn=[shape], seed=N}"),
        "kwargs": Key({}, "keyword arguments"),
        "expect": Key(None, "the expected result (a number or nested list); unset: not compared"),
        "reference": Key("", "a torch or scikit-learn function the grader calls on the same arguments; its "
                             "result is expected, e.g. 'torch.nn.functional.max_pool2d' or "
                             "'sklearn.model_selection.train_test_split' (a tuple: compared item by item)"),
        "reference_args": Key(None, "arguments of the reference (unset: the same as args)"),
        "reference_kwargs": Key(None, "keyword arguments of the reference (unset: the same as kwargs)"),
        "expect_dtype": Key("", "the result's dtype, e.g. 'float32' (empty: not checked)"),
        "backward": Key(False, "backpropagate the sum of the result and compare the arguments' gradients"),
        "calls": Key(1, "how many times the function is called (and backpropagated) on the same inputs"),
        "expect_grads": Key([], "expected gradient of each positional argument (null: not compared)"),
        "expect_args_after": Key([], "expected value of each positional argument after the calls, for "
                                     "functions that update tensors in place (null: not compared)"),
        "tolerance": Key(1e-5, "largest absolute difference allowed"),
        "hint": Key("", "what to look at when the value differs"),
        "allowed_ops": Key([], "by hand: the only ops the function may use, as op groups of [kit.op_groups] "
                               "and single ops; when set, the grader compiles the function and runs its graph "
                               "itself, gradients included (empty: any op, and the function runs in its own "
                               "process)"),
    }

    def validate(self, params):
        if params["allowed_ops"]:
            if not any(_is_tensor_argument(a) for a in params["args"]):
                raise ValueError("allowed_ops needs a tensor argument: the grader compiles the function on it")
            if params["expect_args_after"]:
                raise ValueError("allowed_ops cannot be combined with expect_args_after: the grader runs the "
                                 "function's graph, which changes none of the arguments")
            args = params["args"]
            for i, want in enumerate(params["expect_grads"]):
                if want is not None and not (i < len(args) and _is_tensor_argument(args[i])):
                    raise ValueError(f"expect_grads gives a gradient for argument {i + 1}, which is not a tensor")
        if params["reference"] and params["reference"].split(".")[0] not in TRUSTED_LIBRARIES:
            raise ValueError(f"reference '{params['reference']}' must be a function of "
                             f"{' or '.join(TRUSTED_LIBRARIES)}")

    def required_names(self, check, assignment):
        return [check.params["function"].split(".")[0]]

    def probes(self, check, assignment):
        p = check.params
        label = f"calling {_call_text(p['function'], p['args'], p['kwargs'])}"
        if p["allowed_ops"]:
            # By hand: the child compiles the function with one tensor argument as the graph's input
            # (the others fixed) and the grader runs the graph: once per argument whose gradient is
            # compared, the first graph also giving the value.
            probes = []
            for index in _graph_inputs(p):
                spec = {"function": p["function"], "args": _spec(p["args"]), "kwargs": _spec(p["kwargs"]),
                        "input_index": index, "seed": 0}
                probes.append(Probe("call_graph", {"model": spec, "input": _input_spec(p["args"][index]),
                                                   "backward": p["backward"], "calls": p["calls"]}, label))
            return probes
        args = {"function": p["function"], "args": _spec(p["args"]), "kwargs": _spec(p["kwargs"]),
                "backward": p["backward"], "calls": p["calls"]}
        return [Probe("call_function", args, label)]

    def judge(self, check, assignment, answers, context):
        p = check.params
        got = answers[0].value
        call = _call_text(p["function"], p["args"], p["kwargs"])
        hint = f": {p['hint']}" if p["hint"] else ""
        if p["allowed_ops"]:
            ops = [op for answer in answers for op in answer.value["ops"]]
            refused = by_hand_verdict(p["allowed_ops"], ops, f"{p['function']}()")
            if refused:
                return refused
            grads = {index: answer.value["grad"] for index, answer in zip(_graph_inputs(p), answers)}
            got = {"result": got["result"], "grads": [grads.get(i) for i in range(len(p["args"]))]}
        want = p["expect"]
        if p["reference"]:
            ref_args = _build(_spec(p["args"] if p["reference_args"] is None else p["reference_args"]))
            ref_kwargs = _build(_spec(p["kwargs"] if p["reference_kwargs"] is None else p["reference_kwargs"]))
            with torch.no_grad():
                want = _trusted(p["reference"])(*ref_args, **ref_kwargs)
        result = got["result"]
        if want is not None:
            if _is_ragged(want):
                problem = _compare_items(result, want, p["tolerance"], call)
            else:
                problem = _compare(result, want, p["tolerance"], f"{call} returned a value that")
                problem = problem.replace("returned a value that is", "returned")
            if problem:
                return Verdict(False, problem + hint)
        if p["expect_dtype"]:
            dtype = str(result.dtype).removeprefix("torch.") if isinstance(result, torch.Tensor) else type(result).__name__
            if dtype != p["expect_dtype"]:
                return Verdict(False, f"{call} returned dtype {dtype}; expected {p['expect_dtype']}{hint}")
        for i, want_grad in enumerate(p["expect_grads"]):
            if want_grad is None:
                continue
            grad = got["grads"][i] if i < len(got["grads"]) else None
            if grad is None:
                return Verdict(False, f"no gradient reached argument {i + 1} of {call}: keep the computation "
                                      "in torch operations so autograd can follow it")
            problem = _compare(grad, want_grad, p["tolerance"], f"the gradient of argument {i + 1}")
            if problem:
                return Verdict(False, f"{problem} after {p['calls']} backward pass(es) through {call}{hint}")
        for i, want_arg in enumerate(p["expect_args_after"]):
            if want_arg is None:
                continue
            arg = got["args_after"][i] if i < len(got["args_after"]) else None
            problem = _compare(arg, want_arg, p["tolerance"], f"argument {i + 1} after {p['calls']} call(s) of {call}")
            if problem:
                return Verdict(False, problem + hint)
        if _as_tensor(result) is not None:
            shown = _short(_as_tensor(result))
        elif isinstance(result, (list, tuple)) and all(isinstance(r, torch.Tensor) for r in result):
            shown = f"{len(result)} values of shapes " + ", ".join(shape_text(r.shape) for r in result)
        else:
            shown = repr(result)[:60]
        return Verdict(True, f"{call} returned {shown}" + (" with the expected gradients" if p["expect_grads"] else ""))


@register
class AutogradGradcheck(CheckKind):
    name = "autograd_gradcheck"
    summary = "a custom autograd function passes torch.autograd.gradcheck in float64 and matches a torch reference"
    params = {
        "function": Key("", "the function to check, e.g. 'MyReLU.apply'", required=True),
        "input_shapes": Key([[4, 5]], "shape of each float64 input"),
        "seed": Key(7, "seed of the random inputs"),
        "reference": Key("", "a torch function with the same forward and backward, e.g. 'torch.relu'"),
        "tolerance": Key(1e-8, "largest difference from the reference allowed"),
        "hint": Key("", "what to look at when the backward pass is wrong"),
    }

    def required_names(self, check, assignment):
        return [check.params["function"].split(".")[0]]

    def _inputs(self, check):
        return [randn(shape, check.params["seed"] + i) for i, shape in enumerate(check.params["input_shapes"])]

    def probes(self, check, assignment):
        return [Probe("gradcheck_function", {"function": check.params["function"], "inputs": self._inputs(check)},
                      f"running gradcheck on {check.params['function']}")]

    def judge(self, check, assignment, answers, context):
        p = check.params
        got = answers[0].value
        hint = f": {p['hint']}" if p["hint"] else ""
        if not got["ok"]:
            return Verdict(False, f"torch.autograd.gradcheck fails for {p['function']} in float64 "
                                  f"({got['reason']}){hint}")
        if p["reference"]:
            xs = [x.double().requires_grad_(True) for x in materialize(self._inputs(check))]
            out = _trusted(p["reference"])(*xs)
            out.sum().backward()
            problem = _compare(got["output"], out.detach(), p["tolerance"], f"{p['function']}'s output")
            if problem:
                return Verdict(False, f"{problem} (compared with {p['reference']})")
            for i, x in enumerate(xs):
                problem = _compare(got["grads"][i], x.grad, p["tolerance"], f"the gradient of input {i + 1}")
                if problem:
                    return Verdict(False, f"{problem} (compared with {p['reference']}){hint}")
        return Verdict(True, f"{p['function']} passes gradcheck in float64"
                             + (f" and matches {p['reference']}" if p["reference"] else ""))


@register
class DatasetProtocol(CheckKind):
    name = "dataset_protocol"
    summary = "a Dataset class over arrays has the right length and returns the right (features, target) pairs"
    params = {
        "dataset": Key("", "the submission's Dataset class", required=True),
        "samples": Key(13, "number of samples"),
        "features": Key(4, "features per sample"),
        "indices": Key([0, 5, -1], "indices read back"),
        "seed": Key(3, "seed of the random arrays"),
    }

    def required_names(self, check, assignment):
        return [check.params["dataset"]]

    def _arrays(self, check):
        p = check.params
        return [randn([p["samples"], p["features"]], p["seed"]), randn([p["samples"]], p["seed"] + 1)]

    def probes(self, check, assignment):
        p = check.params
        indices = [i % p["samples"] for i in p["indices"]]
        return [Probe("dataset_items", {"cls": p["dataset"], "args": self._arrays(check), "indices": indices},
                      f"building {p['dataset']}(X, y) with X of shape {shape_text([p['samples'], p['features']])}")]

    def judge(self, check, assignment, answers, context):
        p = check.params
        got = answers[0].value
        X, y = materialize(self._arrays(check))
        name = p["dataset"]
        if got["length"] != p["samples"]:
            return Verdict(False, f"len({name}(X, y)) is {got['length']}; expected {p['samples']} (one per row "
                                  "of X): check __len__")
        for i, (features, target) in zip([i % p["samples"] for i in p["indices"]], got["items"]):
            for value, want, what in ((features, X[i], "features"), (target, y[i], "target")):
                problem = _compare(value, want, 1e-6, f"the {what} of {name}(X, y)[{i}]")
                if problem:
                    return Verdict(False, f"{problem}: __getitem__(i) must return (X[i], y[i])")
        return Verdict(True, f"len() is {p['samples']} and items {p['indices']} are (X[i], y[i])")


@register
class SvmlightMatchesSklearn(CheckKind):
    name = "svmlight_matches_sklearn"
    summary = "a libsvm-format loader reads a generated file exactly as scikit-learn's load_svmlight_file"
    params = {
        "function": Key("", "the submission's loader, called with the file's path", required=True),
        "rows": Key(12, "rows in the generated file"),
        "features": Key(6, "number of features (indices 1..features)"),
        "density": Key(0.5, "chance that a feature is written on a row"),
        "seed": Key(11, "seed of the generated file"),
        "tolerance": Key(1e-5, "largest absolute difference allowed"),
    }

    def required_names(self, check, assignment):
        return [check.params["function"]]

    def _text(self, check) -> str:
        p = check.params
        rng = random.Random(p["seed"])
        lines = []
        for row in range(p["rows"]):
            label = rng.choice([-1, 1])
            cols = [j for j in range(1, p["features"] + 1) if rng.random() < p["density"] or
                    (row == 0 and j == p["features"])]
            pairs = " ".join(f"{j}:{rng.uniform(-5, 5):.4f}" for j in cols)
            lines.append(f"{label} {pairs}".rstrip())
        return "\n".join(lines) + "\n"

    def probes(self, check, assignment):
        return [Probe("load_text_file", {"function": check.params["function"], "text": self._text(check),
                                          "filename": "data.libsvm"},
                      f"calling {check.params['function']}(path) on a {check.params['rows']}-row libsvm file")]

    def judge(self, check, assignment, answers, context):
        from sklearn.datasets import load_svmlight_file

        p = check.params
        got = answers[0].value
        X, y = load_svmlight_file(io.BytesIO(self._text(check).encode()), n_features=p["features"])
        name = p["function"]
        if not isinstance(got, list) or len(got) != 2:
            return Verdict(False, f"{name}(path) must return a pair (X, y); it returned {str(got)[:60]}")
        problem = _compare(got[0], torch.from_numpy(X.toarray()), p["tolerance"], f"the X returned by {name}")
        if not problem:
            problem = _compare(got[1], torch.from_numpy(y), p["tolerance"], f"the y returned by {name}")
        if problem:
            return Verdict(False, f"{problem}: indices in the file start at 1 and name column index-1; "
                                  "features a row leaves out are 0")
        return Verdict(True, f"{name} reads X {shape_text(X.shape)} and y exactly as load_svmlight_file")


def _point_text(variables: list[str], point: torch.Tensor) -> str:
    values = [f"{v:.4g}" for v in point.tolist()]
    if len(variables) == 1:
        return f"{variables[0]} = {values[0]}"
    return f"({', '.join(variables)}) = ({', '.join(values)})"


@register
class MinimizesObjective(CheckKind):
    name = "minimizes_objective"
    summary = "a minimisation function returns a local minimum of an objective, below the objective at the start"
    params = {
        "function": Key("", "the submission's minimiser; it returns the final point (a number, or one per "
                            "variable)", required=True),
        "args": Key([], "positional arguments of the minimiser (e.g. the starting point)"),
        "kwargs": Key({}, "keyword arguments of the minimiser"),
        "objective": Key("", "the objective as a formula of the variables, which the grader evaluates itself, "
                             "e.g. 'sin(x - 2) * (x + 2)**2' (see autograder/formula.py)", required=True),
        "variables": Key(["x"], "names of the objective's variables, in the order the minimiser returns them"),
        "start": Key([], "the starting point, one number per variable: the result must be lower there "
                         "(empty: not compared)"),
        "step": Key(0.01, "the objective at the result must not be higher than at any neighbour this far "
                          "away along each variable and diagonal: a local minimum to about step/2"),
        "hint": Key("", "what to look at when the result is not a minimum"),
    }

    def validate(self, params):
        Formula(params["objective"], params["variables"])
        if params["start"] and len(params["start"]) != len(params["variables"]):
            raise ValueError(f"start has {len(params['start'])} numbers for {len(params['variables'])} variables")
        if params["step"] <= 0:
            raise ValueError("step must be positive")

    def required_names(self, check, assignment):
        return [check.params["function"].split(".")[0]]

    def probes(self, check, assignment):
        p = check.params
        args = {"function": p["function"], "args": _spec(p["args"]), "kwargs": _spec(p["kwargs"]),
                "backward": False, "calls": 1}
        return [Probe("call_function", args, f"calling {_call_text(p['function'], p['args'], p['kwargs'])}")]

    def judge(self, check, assignment, answers, context):
        p = check.params
        call = _call_text(p["function"], p["args"], p["kwargs"])
        hint = f": {p['hint']}" if p["hint"] else ""
        variables = p["variables"]
        objective = Formula(p["objective"], variables)
        result = answers[0].value["result"]
        point = _as_tensor(result)
        if point is None:
            shown = result.get("__repr__", result) if isinstance(result, dict) else result
            return Verdict(False, f"{call} returned {str(shown)[:80]}, which is not numbers; expected the final "
                                  f"point ({', '.join(variables)})")
        point = point.flatten()
        if point.numel() != len(variables):
            return Verdict(False, f"{call} returned {point.numel()} numbers; expected {len(variables)}, one per "
                                  f"variable ({', '.join(variables)})")
        if not bool(torch.isfinite(point).all()):
            return Verdict(False, f"{call} returned {_point_text(variables, point)}: the iterates diverged; "
                                  f"take smaller steps (a lower learning rate){hint}")

        def f(q: torch.Tensor) -> float:
            return float(objective(list(q.unbind())))

        value = f(point)
        where = _point_text(variables, point)
        details = {"point": point.tolist(), "objective": value}
        if not math.isfinite(value):
            return Verdict(False, f"{call} returned {where}, where the objective is {value}{hint}", details)
        if p["start"]:
            start = torch.tensor(p["start"], dtype=torch.float64)
            at_start = f(start)
            details["objective_at_start"] = at_start
            if not value < at_start:
                return Verdict(False, f"{call} returned {where}, where f = {value:.6g}, not lower than at the start "
                                      f"{_point_text(variables, start)} (f = {at_start:.6g}): the steps went uphill "
                                      f"or nowhere; step against the gradient{hint}", details)
        for offset in itertools.product((-1.0, 0.0, 1.0), repeat=len(variables)):
            if not any(offset):
                continue
            neighbour = point + p["step"] * torch.tensor(offset, dtype=torch.float64)
            lower = f(neighbour)
            if lower < value - 1e-12 * (1.0 + abs(value)):
                return Verdict(False, f"{call} returned {where}, where f = {value:.6g}, but f is lower nearby "
                                      f"(f = {lower:.6g} at {_point_text(variables, neighbour)}): not a minimum yet; "
                                      f"take more steps or adjust the learning rate{hint}", details)
        start_text = f", down from {details['objective_at_start']:.6g} at the start" if p["start"] else ""
        return Verdict(True, f"{call} returned {where}, a local minimum (f = {value:.6g}{start_text})", details)
