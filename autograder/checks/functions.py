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

autograd_gradcheck, dataset_protocol, svmlight_matches_sklearn and
minimizes_objective instead draw their inputs when a submission is graded
(the shapes, the arrays, the file, a minimiser's start and coefficients; see
``instances.py``), within ranges grading.toml gives, so that no answer can be
written into the file in advance.
"""

from __future__ import annotations

import importlib
import io
import itertools
import math
import random
from typing import Any

import torch

from ..settings.model import Key
from ..wire.values import build_value
from .formula import Formula
from .base import CheckKind, Question, Verdict, by_hand_verdict, shape_text
from .tensor_specs import literal, materialize, randn
from .instances import check_bounds, instance_random, integer, seed_from, uniform
from .registry import register


def _spec(value: Any, draw: int = 0) -> Any:
    """grading.toml inputs -> question arguments (random tensors become parent-side specs, their seed
    mixed with ``draw``)."""
    if isinstance(value, dict):
        if "randn" in value:
            spec = {"tensor": randn(value["randn"], (value.get("seed", 0) + draw) % 2**31)}
            for key in ("dtype", "requires_grad"):
                if key in value:
                    spec[key] = value[key]
            return spec
        return {k: _spec(v, draw) for k, v in value.items()}
    if isinstance(value, list):
        return [_spec(v, draw) for v in value]
    return value


def _input_draw(check) -> int:
    """A check judged against a reference function draws its random inputs afresh each run (the
    reference is computed on the same draw), so no recorded output matches; one with a fixed
    ``expect`` keeps the inputs its expectation was computed on."""
    return seed_from(instance_random(check)) if check.params["reference"] else 0


def _build(value: Any) -> Any:
    """Question arguments -> the tensors the child builds (one builder for both), made here for the
    parent's reference."""
    return build_value(materialize(value))


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


def _input_spec(value: dict, draw: int = 0) -> dict:
    """A grading.toml tensor argument as a tensor spec the parent materialises (with its shape, for planning)."""
    if "randn" in value:
        return randn(value["randn"], (value.get("seed", 0) + draw) % 2**31)
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

    def questions(self, check, assignment):
        p = check.params
        draw = _input_draw(check)
        label = f"calling {_call_text(p['function'], p['args'], p['kwargs'])}"
        if p["allowed_ops"]:
            # By hand: the child compiles the function with one tensor argument as the graph's input
            # (the others fixed) and the grader runs the graph: once per argument whose gradient is
            # compared, the first graph also giving the value.
            questions = []
            for index in _graph_inputs(p):
                spec = {"function": p["function"], "args": _spec(p["args"], draw), "kwargs": _spec(p["kwargs"], draw),
                        "input_index": index, "seed": 0}
                questions.append(Question("call_graph", {"model": spec, "input": _input_spec(p["args"][index], draw),
                                                   "backward": p["backward"], "calls": p["calls"]}, label))
            return questions
        args = {"function": p["function"], "args": _spec(p["args"], draw), "kwargs": _spec(p["kwargs"], draw),
                "backward": p["backward"], "calls": p["calls"]}
        return [Question("call_function", args, label)]

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
            draw = _input_draw(check)
            ref_args = _build(_spec(p["args"] if p["reference_args"] is None else p["reference_args"], draw))
            ref_kwargs = _build(_spec(p["kwargs"] if p["reference_kwargs"] is None else p["reference_kwargs"], draw))
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
        "input_shapes": Key([[4, 5]], "shape of each float64 input; with size_range, the pattern of the shapes "
                                      "drawn each run"),
        "size_range": Key([], "[low, high]: each run every distinct size in input_shapes is drawn afresh in this "
                              "range, equal sizes staying equal (empty: the shapes as written)"),
        "seed": Key(7, "mixed into the seed of the random inputs, which is drawn each run"),
        "reference": Key("", "a torch function with the same forward and backward, e.g. 'torch.relu'"),
        "tolerance": Key(1e-8, "largest difference from the reference allowed"),
        "hint": Key("", "what to look at when the backward pass is wrong"),
    }

    def validate(self, params):
        if params["size_range"]:
            check_bounds("size_range", params["size_range"], integers=True)
            if params["size_range"][0] < 1:
                raise ValueError("size_range must start at 1 or more")

    def required_names(self, check, assignment):
        return [check.params["function"].split(".")[0]]

    def _inputs(self, check) -> list[dict]:
        """This run's inputs: random tensors of the drawn shapes, from the drawn seed."""
        p = check.params
        rng = instance_random(check)
        shapes = [list(shape) for shape in p["input_shapes"]]
        if p["size_range"]:
            sizes = {size: integer(rng, p["size_range"]) for size in sorted({s for shape in shapes for s in shape})}
            shapes = [[sizes[s] for s in shape] for shape in shapes]
        seed = (seed_from(rng) + p["seed"]) % 2**31
        return [randn(shape, seed + i) for i, shape in enumerate(shapes)]

    def questions(self, check, assignment):
        inputs = self._inputs(check)
        shapes = " and ".join(shape_text(x["shape"]) for x in inputs)
        return [Question("gradcheck_function", {"function": check.params["function"], "inputs": inputs},
                      f"running gradcheck on {check.params['function']} with random inputs of shape {shapes}")]

    def judge(self, check, assignment, answers, context):
        p = check.params
        got = answers[0].value
        hint = f": {p['hint']}" if p["hint"] else ""
        inputs = self._inputs(check)
        shapes = " and ".join(shape_text(x["shape"]) for x in inputs)
        if not got["ok"]:
            return Verdict(False, f"torch.autograd.gradcheck fails for {p['function']} in float64 on random inputs "
                                  f"of shape {shapes} ({got['reason']}){hint}")
        if p["reference"]:
            xs = [x.double().requires_grad_(True) for x in materialize(inputs)]
            out = _trusted(p["reference"])(*xs)
            out.sum().backward()
            problem = _compare(got["output"], out.detach(), p["tolerance"], f"{p['function']}'s output")
            if problem:
                return Verdict(False, f"{problem} (compared with {p['reference']} on random inputs of shape "
                                      f"{shapes})")
            grads = got["grads"] if isinstance(got.get("grads"), list) else []
            for i, x in enumerate(xs):
                grad = grads[i] if i < len(grads) else None
                if grad is None:
                    return Verdict(False, f"no gradient reached input {i + 1} of {p['function']}: backward must "
                                          f"return one gradient per input{hint}")
                problem = _compare(grad, x.grad, p["tolerance"], f"the gradient of input {i + 1}")
                if problem:
                    return Verdict(False, f"{problem} (compared with {p['reference']} on random inputs of shape "
                                          f"{shapes}){hint}")
        return Verdict(True, f"{p['function']} passes gradcheck in float64 on random inputs of shape {shapes}"
                             + (f" and matches {p['reference']}" if p["reference"] else ""))


@register
class DatasetProtocol(CheckKind):
    name = "dataset_protocol"
    summary = "a Dataset class over arrays has the right length and returns the right (features, target) pairs"
    params = {
        "dataset": Key("", "the submission's Dataset class", required=True),
        "samples": Key(13, "number of samples (when samples_range is empty)"),
        "features": Key(4, "features per sample (when features_range is empty)"),
        "samples_range": Key([], "[low, high]: the number of samples is drawn in this range each run"),
        "features_range": Key([], "[low, high]: the number of features is drawn in this range each run"),
        "indices": Key([0, 5, -1], "indices always read back (negative ones count from the end)"),
        "random_indices": Key(0, "indices drawn each run and read back as well"),
        "seed": Key(3, "mixed into the seed of the random arrays, which is drawn each run"),
    }

    def validate(self, params):
        for key in ("samples_range", "features_range"):
            if params[key]:
                check_bounds(key, params[key], integers=True)
                if params[key][0] < 1:
                    raise ValueError(f"{key} must start at 1 or more")
        if params["random_indices"] < 0:
            raise ValueError("random_indices cannot be negative")

    def required_names(self, check, assignment):
        return [check.params["dataset"]]

    def _instance(self, check) -> tuple[int, int, list[int], list[dict]]:
        """This run's sample count, feature count, indices read back, and arrays (X, y)."""
        p = check.params
        rng = instance_random(check)
        samples = integer(rng, p["samples_range"]) if p["samples_range"] else p["samples"]
        features = integer(rng, p["features_range"]) if p["features_range"] else p["features"]
        seed = (seed_from(rng) + p["seed"]) % 2**31
        indices = [i % samples for i in p["indices"]]
        indices += [rng.randrange(samples) for _ in range(p["random_indices"])]
        return samples, features, indices, [randn([samples, features], seed), randn([samples], seed + 1)]

    def questions(self, check, assignment):
        p = check.params
        samples, features, indices, arrays = self._instance(check)
        return [Question("dataset_items", {"cls": p["dataset"], "args": arrays, "indices": indices},
                      f"building {p['dataset']}(X, y) with X of shape {shape_text([samples, features])}")]

    def judge(self, check, assignment, answers, context):
        p = check.params
        got = answers[0].value
        samples, features, indices, arrays = self._instance(check)
        X, y = materialize(arrays)
        name = p["dataset"]
        if got["length"] != samples:
            return Verdict(False, f"len({name}(X, y)) is {got['length']} for X of shape "
                                  f"{shape_text([samples, features])}; expected {samples} (one per row of X): "
                                  "check __len__")
        for i, (features_got, target) in zip(indices, got["items"]):
            for value, want, what in ((features_got, X[i], "features"), (target, y[i], "target")):
                problem = _compare(value, want, 1e-6, f"the {what} of {name}(X, y)[{i}]")
                if problem:
                    return Verdict(False, f"{problem}: __getitem__(i) must return (X[i], y[i])")
        return Verdict(True, f"len() is {samples} for X of shape {shape_text([samples, features])} and items "
                             f"{indices} are (X[i], y[i])")


@register
class SvmlightMatchesSklearn(CheckKind):
    name = "svmlight_matches_sklearn"
    summary = "a libsvm-format loader reads a generated file exactly as scikit-learn's load_svmlight_file"
    params = {
        "function": Key("", "the submission's loader, called with the file's path", required=True),
        "rows": Key(12, "rows in the generated file (when rows_range is empty)"),
        "features": Key(6, "number of features, indices 1..features (when features_range is empty)"),
        "rows_range": Key([], "[low, high]: the number of rows is drawn in this range each run"),
        "features_range": Key([], "[low, high]: the number of features is drawn in this range each run"),
        "density": Key(0.5, "chance that a feature is written on a row"),
        "seed": Key(11, "mixed into the seed of the generated file, which is drawn each run"),
        "tolerance": Key(1e-5, "largest absolute difference allowed"),
    }

    def validate(self, params):
        for key in ("rows_range", "features_range"):
            if params[key]:
                check_bounds(key, params[key], integers=True)
                if params[key][0] < 1:
                    raise ValueError(f"{key} must start at 1 or more")

    def required_names(self, check, assignment):
        return [check.params["function"]]

    def _instance(self, check) -> tuple[int, int, str]:
        """This run's row count, feature count and file text. The first row always names the last
        feature, so the widest index is the feature count."""
        p = check.params
        draw = instance_random(check)
        rows = integer(draw, p["rows_range"]) if p["rows_range"] else p["rows"]
        features = integer(draw, p["features_range"]) if p["features_range"] else p["features"]
        rng = random.Random((seed_from(draw) + p["seed"]) % 2**31)
        lines = []
        for row in range(rows):
            label = rng.choice([-1, 1])
            cols = [j for j in range(1, features + 1) if rng.random() < p["density"] or
                    (row == 0 and j == features)]
            pairs = " ".join(f"{j}:{rng.uniform(-5, 5):.4f}" for j in cols)
            lines.append(f"{label} {pairs}".rstrip())
        return rows, features, "\n".join(lines) + "\n"

    def questions(self, check, assignment):
        rows, features, text = self._instance(check)
        return [Question("load_text_file", {"function": check.params["function"], "text": text,
                                          "filename": "data.libsvm"},
                      f"calling {check.params['function']}(path) on a {rows}-row libsvm file with {features} "
                      "features")]

    def judge(self, check, assignment, answers, context):
        from sklearn.datasets import load_svmlight_file

        p = check.params
        got = answers[0].value
        rows, features, text = self._instance(check)
        X, y = load_svmlight_file(io.BytesIO(text.encode()), n_features=features)
        name = p["function"]
        if not isinstance(got, list) or len(got) != 2:
            return Verdict(False, f"{name}(path) must return a pair (X, y); it returned {str(got)[:60]}")
        problem = _compare(got[0], torch.from_numpy(X.toarray()), p["tolerance"], f"the X returned by {name}")
        if not problem:
            problem = _compare(got[1], torch.from_numpy(y), p["tolerance"], f"the y returned by {name}")
        if problem:
            return Verdict(False, f"{problem} (on a {rows}-row file whose largest index is {features}): indices "
                                  "in the file start at 1 and name column index-1; the widest index gives the "
                                  "number of columns; features a row leaves out are 0")
        return Verdict(True, f"{name} reads X {shape_text(X.shape)} and y exactly as load_svmlight_file")


def _point_text(variables: list[str], point: torch.Tensor) -> str:
    values = [f"{v:.4g}" for v in point.tolist()]
    if len(variables) == 1:
        return f"{variables[0]} = {values[0]}"
    return f"({', '.join(variables)}) = ({', '.join(values)})"


def _descend(f, start: torch.Tensor, max_move: float, max_steps: int = 20000) -> torch.Tensor:
    """The local minimum the grader reaches by going downhill from ``start``: steepest descent in
    float64 with a backtracking line search (each step lowers f enough), no step longer than
    ``max_move`` along any variable. Short steps that always go down follow the slope the way
    gradient flow does, so the descent stays in the basin that holds the start."""
    x = start.clone()
    t = None
    for _ in range(max_steps):
        xg = x.clone().requires_grad_(True)
        value = f(xg)
        (grad,) = torch.autograd.grad(value, xg)
        value = float(value.detach())
        largest = float(grad.abs().max())
        if not (math.isfinite(value) and math.isfinite(largest)) or largest == 0.0:
            break
        t = max_move / largest if t is None else min(2.0 * t, max_move / largest)
        decrease = float(grad @ grad)
        while True:
            candidate = x - t * grad
            lower = float(f(candidate))
            if lower <= value - 1e-4 * t * decrease:
                break
            t /= 2.0
            if t * largest < 1e-13:         # no step, however short, goes down: x is the minimum
                return x
        x = candidate
    return x


@register
class MinimizesObjective(CheckKind):
    name = "minimizes_objective"
    summary = "a minimisation function returns a local minimum of an objective, below the objective at the start"
    params = {
        "function": Key("", "the submission's minimiser; it returns the final point (a number, or one per "
                            "variable)", required=True),
        "args": Key([], "positional arguments of the minimiser"),
        "kwargs": Key({}, "keyword arguments of the minimiser"),
        "objective": Key("", "the objective as a formula of the variables and coefficients, which the grader "
                             "evaluates itself, e.g. 'sin(x - a) * (x + a)**2' (see autograder/formula.py)",
                         required=True),
        "variables": Key(["x"], "names of the objective's variables, in the order the minimiser returns them"),
        "start": Key([], "a fixed starting point, one number per variable, when start_range is empty: the "
                         "result must be lower there (empty: not compared)"),
        "start_range": Key([], "[low, high] per variable: the start is drawn in this box each run and passed to "
                               "the minimiser as the keyword argument start_keyword"),
        "start_keyword": Key("start", "the keyword argument a drawn start is passed under (a number for one "
                                      "variable, a list for several)"),
        "coefficients": Key({}, "name = [low, high]: numbers of the objective drawn each run, passed to the "
                                "minimiser as keyword arguments of the same names"),
        "decimals": Key(2, "decimal places of each drawn number (so a message shows the exact call)"),
        "instances": Key(1, "problems drawn and posed in one run; the minimiser must solve each"),
        "step": Key(0.01, "the objective at the result must not be higher than at any neighbour this far "
                          "away along each variable and diagonal: a local minimum to about step/2"),
        "tolerance": Key(0.0, "when positive, the result must also lie this close, along every variable, to "
                              "the local minimum the grader reaches itself by going downhill from the start "
                              "(0: any local minimum lower than the start passes)"),
        "descent_step": Key(0.05, "the longest step the grader's own descent takes along any variable"),
        "hint": Key("", "what to look at when the result is not a minimum"),
    }

    def validate(self, params):
        names = list(params["coefficients"])
        for name in names:
            if name in params["variables"]:
                raise ValueError(f"coefficient '{name}' is also a variable")
            check_bounds(f"coefficients.{name}", params["coefficients"][name])
        Formula(params["objective"], [*params["variables"], *names])
        if params["start"] and len(params["start"]) != len(params["variables"]):
            raise ValueError(f"start has {len(params['start'])} numbers for {len(params['variables'])} variables")
        if params["start_range"]:
            if len(params["start_range"]) != len(params["variables"]):
                raise ValueError(f"start_range has {len(params['start_range'])} ranges for "
                                 f"{len(params['variables'])} variables")
            for i, bounds in enumerate(params["start_range"]):
                check_bounds(f"start_range[{i}]", bounds)
        if params["step"] <= 0:
            raise ValueError("step must be positive")
        if params["tolerance"] < 0 or params["descent_step"] <= 0:
            raise ValueError("tolerance cannot be negative and descent_step must be positive")
        if params["tolerance"] and not (params["start"] or params["start_range"]):
            raise ValueError("tolerance needs a start (start or start_range): the grader descends from it")
        if params["instances"] < 1:
            raise ValueError("instances must be 1 or more")

    def required_names(self, check, assignment):
        return [check.params["function"].split(".")[0]]

    def _instances(self, check) -> list[tuple[list[float], dict[str, float], dict]]:
        """This run's problems: each a start (empty when none is known), the drawn coefficients, and the
        keyword arguments the minimiser is called with."""
        p = check.params
        rng = instance_random(check)
        problems = []
        for _ in range(p["instances"]):
            kwargs = dict(p["kwargs"])
            start = [float(v) for v in p["start"]]
            if p["start_range"]:
                start = [uniform(rng, bounds, p["decimals"]) for bounds in p["start_range"]]
                kwargs[p["start_keyword"]] = start[0] if len(start) == 1 else list(start)
            coefficients = {name: uniform(rng, bounds, p["decimals"]) for name, bounds in p["coefficients"].items()}
            kwargs.update(coefficients)
            problems.append((start, coefficients, kwargs))
        return problems

    def questions(self, check, assignment):
        p = check.params
        questions = []
        for _, _, kwargs in self._instances(check):
            args = {"function": p["function"], "args": _spec(p["args"]), "kwargs": _spec(kwargs),
                    "backward": False, "calls": 1}
            questions.append(Question("call_function", args, f"calling {_call_text(p['function'], p['args'], kwargs)}"))
        return questions

    def judge(self, check, assignment, answers, context):
        details: dict = {"problems": []}
        for (start, coefficients, kwargs), answer in zip(self._instances(check), answers):
            verdict = self._judge_one(check.params, start, coefficients, kwargs, answer.value["result"])
            details["problems"].append(verdict.details)
            if not verdict.passed:
                return Verdict(False, verdict.message, details)
        message = verdict.message
        if len(answers) > 1:
            message = f"each of {len(answers)} drawn problems is solved; the last: {message}"
        return Verdict(True, message, details)

    def _judge_one(self, p: dict, start: list[float], coefficients: dict[str, float], kwargs: dict,
                   result) -> Verdict:
        call = _call_text(p["function"], p["args"], kwargs)
        hint = f": {p['hint']}" if p["hint"] else ""
        variables = p["variables"]
        objective = Formula(p["objective"], [*variables, *coefficients])
        constants = {name: torch.tensor(value, dtype=torch.float64) for name, value in coefficients.items()}
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

        def f(q: torch.Tensor) -> torch.Tensor:
            return objective({**dict(zip(variables, q.unbind())), **constants})

        value = float(f(point))
        where = _point_text(variables, point)
        if coefficients:        # the drawn numbers, so a minimiser that ignores them sees why it missed
            where += " (the objective with " + ", ".join(f"{k} = {v:g}" for k, v in coefficients.items()) + ")"
        details = {"point": point.tolist(), "objective": value, "start": start, "coefficients": coefficients}
        if not math.isfinite(value):
            return Verdict(False, f"{call} returned {where}, where the objective is {value}{hint}", details)
        start_point = torch.tensor(start, dtype=torch.float64) if start else None
        if start_point is not None:
            at_start = float(f(start_point))
            details["objective_at_start"] = at_start
            if not value < at_start:
                return Verdict(False, f"{call} returned {where}, where f = {value:.6g}, not lower than at the start "
                                      f"{_point_text(variables, start_point)} (f = {at_start:.6g}): the steps went "
                                      f"uphill or nowhere; step against the gradient{hint}", details)
        for offset in itertools.product((-1.0, 0.0, 1.0), repeat=len(variables)):
            if not any(offset):
                continue
            neighbour = point + p["step"] * torch.tensor(offset, dtype=torch.float64)
            lower = float(f(neighbour))
            if lower < value - 1e-12 * (1.0 + abs(value)):
                return Verdict(False, f"{call} returned {where}, where f = {value:.6g}, but f is lower nearby "
                                      f"(f = {lower:.6g} at {_point_text(variables, neighbour)}): not a minimum yet; "
                                      f"take more steps or adjust the learning rate{hint}", details)
        if p["tolerance"] and start_point is not None:
            reached = _descend(lambda q: f(q).sum(), start_point, p["descent_step"])
            details["descent_minimum"] = reached.tolist()
            if float((point - reached).abs().max()) > p["tolerance"]:
                return Verdict(False, f"{call} returned {where}, but going downhill from the start "
                                      f"{_point_text(variables, start_point)} ends at "
                                      f"{_point_text(variables, reached)} (f = {float(f(reached)):.6g}); yours is "
                                      f"more than {p['tolerance']:g} away: start from the start given and minimise "
                                      f"the objective with the coefficients given{hint}", details)
        start_text = f", down from {details['objective_at_start']:.6g} at the start" if start_point is not None else ""
        return Verdict(True, f"{call} returned {where}, a local minimum (f = {value:.6g}{start_text})", details)
