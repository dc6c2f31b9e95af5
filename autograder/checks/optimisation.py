"""The check on a minimiser: it must return a local minimum of an objective.

The child calls the submission's minimiser and sends back the point it
returns; the parent evaluates the objective itself, from a formula written in
grading.toml (``formula.py``), at that point, at the start and at neighbours a
step away, and, when a tolerance is set, descends from the start itself to
find the minimum a correct minimiser reaches. The start and the objective's
coefficients are drawn when a submission is graded (``instances.py``), within
ranges grading.toml gives, and passed to the minimiser, so that no answer can
be written into the file in advance.
"""

from __future__ import annotations

import itertools
import math

import torch

from ..settings.model import Key
from .arguments import argument_spec, function_call_text
from .base import CheckKind, Question, Verdict
from .compare import as_tensor
from .formula import Formula
from .instances import check_bounds, instance_random, uniform
from .registry import register


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
            args = {"function": p["function"], "args": argument_spec(p["args"]), "kwargs": argument_spec(kwargs),
                    "backward": False, "calls": 1}
            label = f"calling {function_call_text(p['function'], p['args'], kwargs)}"
            questions.append(Question("call_function", args, label))
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
        call = function_call_text(p["function"], p["args"], kwargs)
        hint = f": {p['hint']}" if p["hint"] else ""
        variables = p["variables"]
        objective = Formula(p["objective"], [*variables, *coefficients])
        constants = {name: torch.tensor(value, dtype=torch.float64) for name, value in coefficients.items()}
        point = as_tensor(result)
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
