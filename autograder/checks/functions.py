"""Checks that call a plain function of the submission and compare what it returns.

``function_value`` has the child call the function on inputs written in
grading.toml (``arguments.py``) and send back raw results; the parent compares
them with expected values, or with a trusted library call it makes itself on
the same inputs (a ``torch`` function, or a scikit-learn one such as
``train_test_split``). With ``allowed_ops`` the function is compiled instead,
and the grader runs its graph. ``autograd_gradcheck`` runs
``torch.autograd.gradcheck`` on a custom autograd function in the child and
compares its output and gradients with a torch reference. Only functions of
the libraries in ``TRUSTED_LIBRARIES`` serve as references: the parent runs
them itself.

A ``function_value`` check judged against a reference draws its random
inputs afresh each run, and ``autograd_gradcheck`` always does (its shapes
too, within ``size_range``; see ``instances.py``), so that no answer can be
written into the file in advance; a check with a fixed ``expect`` keeps the
inputs its expectation was computed on.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch

from ..settings.model import Key
from ..wire.values import build_value
from .arguments import argument_spec, function_call_text, is_tensor_argument, tensor_spec
from .base import CheckKind, Question, Verdict, by_hand_verdict, shape_text
from .compare import as_tensor, compare, compare_items, is_ragged, value_text
from .instances import check_bounds, instance_random, integer, seed_from
from .registry import register
from .tensor_specs import materialize, randn


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


def _import_reference(self, check) -> None:
    """``warm_up`` of the kinds judged against a reference: import its library before any deadline."""
    if check.params["reference"]:
        try:
            _trusted(check.params["reference"])
        except (ImportError, ValueError, AttributeError):
            pass            # the judge says so, in the check's own message


def _graph_inputs(params: dict) -> list[int]:
    """The arguments a by-hand function is compiled on, each in a graph of its own: those whose
    gradient is compared (with ``backward``), else the first tensor argument."""
    first = next(i for i, a in enumerate(params["args"]) if is_tensor_argument(a))
    if not params["backward"]:
        return [first]
    wanted = [i for i, want in enumerate(params["expect_grads"]) if want is not None]
    return sorted({first, *wanted})


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

    warm_up = _import_reference

    def validate(self, params):
        if params["allowed_ops"]:
            if not any(is_tensor_argument(a) for a in params["args"]):
                raise ValueError("allowed_ops needs a tensor argument: the grader compiles the function on it")
            if params["expect_args_after"]:
                raise ValueError("allowed_ops cannot be combined with expect_args_after: the grader runs the "
                                 "function's graph, which changes none of the arguments")
            args = params["args"]
            for i, want in enumerate(params["expect_grads"]):
                if want is not None and not (i < len(args) and is_tensor_argument(args[i])):
                    raise ValueError(f"expect_grads gives a gradient for argument {i + 1}, which is not a tensor")
        if params["reference"] and params["reference"].split(".")[0] not in TRUSTED_LIBRARIES:
            raise ValueError(f"reference '{params['reference']}' must be a function of "
                             f"{' or '.join(TRUSTED_LIBRARIES)}")

    def required_names(self, check, assignment):
        return [check.params["function"].split(".")[0]]

    def questions(self, check, assignment):
        p = check.params
        draw = _input_draw(check)
        label = f"calling {function_call_text(p['function'], p['args'], p['kwargs'])}"
        if p["allowed_ops"]:
            # By hand: the child compiles the function with one tensor argument as the graph's input
            # (the others fixed) and the grader runs the graph: once per argument whose gradient is
            # compared, the first graph also giving the value.
            questions = []
            for index in _graph_inputs(p):
                spec = {"function": p["function"], "args": argument_spec(p["args"], draw),
                        "kwargs": argument_spec(p["kwargs"], draw), "input_index": index, "seed": 0}
                questions.append(Question("call_graph", {"model": spec, "input": tensor_spec(p["args"][index], draw),
                                                         "backward": p["backward"], "calls": p["calls"]}, label))
            return questions
        args = {"function": p["function"], "args": argument_spec(p["args"], draw),
                "kwargs": argument_spec(p["kwargs"], draw), "backward": p["backward"], "calls": p["calls"]}
        return [Question("call_function", args, label)]

    def judge(self, check, assignment, answers, context):
        p = check.params
        got = answers[0].value
        call = function_call_text(p["function"], p["args"], p["kwargs"])
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
            args = p["args"] if p["reference_args"] is None else p["reference_args"]
            kwargs = p["kwargs"] if p["reference_kwargs"] is None else p["reference_kwargs"]
            ref_args, ref_kwargs = _build(argument_spec(args, draw)), _build(argument_spec(kwargs, draw))
            with torch.no_grad():
                want = _trusted(p["reference"])(*ref_args, **ref_kwargs)
        result = got["result"]
        if want is not None:
            if is_ragged(want):
                problem = compare_items(result, want, p["tolerance"], call)
            else:
                problem = compare(result, want, p["tolerance"], f"{call} returned a value that")
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
            problem = compare(grad, want_grad, p["tolerance"], f"the gradient of argument {i + 1}")
            if problem:
                return Verdict(False, f"{problem} after {p['calls']} backward pass(es) through {call}{hint}")
        for i, want_arg in enumerate(p["expect_args_after"]):
            if want_arg is None:
                continue
            arg = got["args_after"][i] if i < len(got["args_after"]) else None
            problem = compare(arg, want_arg, p["tolerance"], f"argument {i + 1} after {p['calls']} call(s) of {call}")
            if problem:
                return Verdict(False, problem + hint)
        if as_tensor(result) is not None:
            shown = value_text(as_tensor(result))
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

    warm_up = _import_reference

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
            problem = compare(got["output"], out.detach(), p["tolerance"], f"{p['function']}'s output")
            if problem:
                return Verdict(False, f"{problem} (compared with {p['reference']} on random inputs of shape "
                                      f"{shapes})")
            grads = got["grads"] if isinstance(got.get("grads"), list) else []
            for i, x in enumerate(xs):
                grad = grads[i] if i < len(grads) else None
                if grad is None:
                    return Verdict(False, f"no gradient reached input {i + 1} of {p['function']}: backward must "
                                          f"return one gradient per input{hint}")
                problem = compare(grad, x.grad, p["tolerance"], f"the gradient of input {i + 1}")
                if problem:
                    return Verdict(False, f"{problem} (compared with {p['reference']} on random inputs of shape "
                                          f"{shapes}){hint}")
        return Verdict(True, f"{p['function']} passes gradcheck in float64 on random inputs of shape {shapes}"
                             + (f" and matches {p['reference']}" if p["reference"] else ""))

