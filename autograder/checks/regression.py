"""Checks on regression: does training recover what generated the data?

``recovers_coefficients`` hands the submission's fit function data from
scikit-learn's ``make_regression`` (the true coefficients stay in the parent),
evaluates the returned model at 0 and at each unit vector, and compares the
slopes it reads off with the true coefficients. The data's ``random_state`` is
drawn afresh each run (checks/instances.py), so a model whose weights were
written into the file fits no data it is given.

``beats_linear_fit`` trains the submission's model with the grader's own recipe
on a nonlinear target written as a formula in grading.toml, and compares its
held-out mean squared error with that of the best linear fit, which the parent
computes by least squares. The held-out targets never leave the parent.
"""

from __future__ import annotations

import math

import torch

from ..settings.model import Key
from .formula import Formula
from .base import TRAIN, CheckKind, Question, Verdict
from .instances import instance_random, seed_from
from .registry import register
from .tensor_specs import literal


def _numbers(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


@register
class RecoversCoefficients(CheckKind):
    name = "recovers_coefficients"
    summary = ("a fit function trained on make_regression data returns a model whose slopes are the "
               "generating coefficients")
    params = {
        "function": Key("", "the submission's fit function, called as function(X, y, **kwargs) and returning "
                            "the trained model", required=True),
        "kwargs": Key({}, "keyword arguments of the fit function, e.g. {epochs = 100, lr = 0.05}"),
        "samples": Key(100, "rows of make_regression's data"),
        "features": Key(10, "features (columns) of the data"),
        "informative": Key(3, "features with a non-zero coefficient"),
        "noise": Key(0.0, "standard deviation of the noise make_regression adds to y"),
        "data_seed": Key(0, "mixed into make_regression's random_state, which is drawn each run"),
        "tolerance": Key(0.5, "largest difference allowed between an informative coefficient and its true value"),
        "zero_tolerance": Key(0.5, "largest size allowed for the coefficient of a feature that is not informative"),
        "hint": Key("", "what to look at when the coefficients are wrong"),
    }

    def validate(self, params):
        if not 0 < params["informative"] <= params["features"]:
            raise ValueError("informative must be between 1 and features")

    def required_names(self, check, assignment):
        return [check.params["function"]]

    def _random_state(self, check) -> int:
        """This run's random_state of make_regression."""
        return (seed_from(instance_random(check)) + check.params["data_seed"]) % 2**31

    def _data(self, check):
        from sklearn.datasets import make_regression

        p = check.params
        X, y, coef = make_regression(n_samples=p["samples"], n_features=p["features"],
                                     n_informative=p["informative"], noise=p["noise"], coef=True,
                                     random_state=self._random_state(check))
        return torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(coef)

    def _call(self, p: dict) -> str:
        kwargs = "".join(f", {k}={v!r}" for k, v in p["kwargs"].items())
        return f"{p['function']}(X, y{kwargs})"

    def questions(self, check, assignment):
        p = check.params
        X, y, _ = self._data(check)
        inputs = torch.cat([torch.zeros(1, p["features"]), torch.eye(p["features"])])   # 0, then e_1 .. e_d
        args = {"function": p["function"], "args": [literal(X), literal(y)], "kwargs": p["kwargs"],
                "inputs": literal(inputs)}
        label = (f"calling {self._call(p)} on make_regression({p['samples']}, {p['features']}, "
                 f"n_informative={p['informative']}, random_state={self._random_state(check)}) data")
        return [Question("fit_and_evaluate", args, label, limit=TRAIN)]

    def judge(self, check, assignment, answers, context):
        p = check.params
        _, _, coef = self._data(check)
        hint = f": {p['hint']}" if p["hint"] else ""
        call = self._call(p)
        out = answers[0].value["outputs"]
        d = p["features"]
        if out.numel() != d + 1:
            return Verdict(False, f"the model {call} returned gives {tuple(out.shape)} for {d + 1} inputs of "
                                  f"{d} features; expected ({d + 1}, 1): one prediction per row")
        out = out.reshape(-1)
        if not bool(torch.isfinite(out).all()):
            return Verdict(False, f"the model {call} returned predicts nan or inf: training diverged; "
                                  f"lower the learning rate or check the loss{hint}")
        slopes = out[1:] - out[0]                        # f(e_i) - f(0): the coefficient of feature i
        informative = [i for i in range(d) if coef[i] != 0]
        details = {"coefficients": [round(v, 6) for v in slopes.tolist()],
                   "true_coefficients": [round(v, 6) for v in coef.tolist()]}
        for i in informative:
            if not abs(slopes[i] - coef[i]) <= p["tolerance"]:
                return Verdict(False, f"after {call}, the coefficient of feature {i + 1} (informative) is "
                                      f"{slopes[i]:.4g}; the data were made with {coef[i]:.4g} (tolerance "
                                      f"{p['tolerance']:g}){hint}", details)
        for i in range(d):
            if i not in informative and not abs(slopes[i]) <= p["zero_tolerance"]:
                return Verdict(False, f"after {call}, the coefficient of feature {i + 1} is {slopes[i]:.4g}; the "
                                      f"feature is not informative, so it should be near 0 (within "
                                      f"{p['zero_tolerance']:g}){hint}", details)
        return Verdict(True, f"{call} recovers the {len(informative)} informative coefficients "
                             f"{_numbers([coef[i].item() for i in informative])} within {p['tolerance']:g}, "
                             f"the other {d - len(informative)} are within {p['zero_tolerance']:g} of 0", details)


def _times(ratio: float) -> str:
    return f"{ratio:.3g}×"


@register
class BeatsLinearFit(CheckKind):
    name = "beats_linear_fit"
    summary = ("a model trained by the grader on a nonlinear target reaches a much lower held-out mean squared "
               "error than the best linear fit")
    params = {
        "model": Key("", "class to train (empty: the assignment's model)"),
        "model_args": Key([], "its arguments"),
        "target": Key("", "the target as a formula of the variables, e.g. 'x1**2 + 14*x2**3'", required=True),
        "variables": Key(["x1", "x2"], "the input variables, in column order"),
        "input_means": Key([0.0, 0.0], "mean of each variable (each normally distributed)"),
        "input_stds": Key([1.0, 1.0], "standard deviation of each variable"),
        "samples": Key(10000, "samples drawn"),
        "test_fraction": Key(0.2, "fraction held out for the test (the last rows)"),
        "data_seed": Key(0, "seed of the samples"),
        "optimizer": Key("adam", "'adam' or 'sgd'; inputs and targets are standardised with training statistics",
                         choices=("adam", "sgd")),
        "lr": Key(0.01, "learning rate"),
        "momentum": Key(0.0, "SGD momentum"),
        "schedule": Key("constant", "'constant' learning rate, or 'linear': falling linearly to 0 over the run",
                        choices=("constant", "linear")),
        "epochs": Key(10, "passes over the training rows"),
        "batch_size": Key(256, "rows per optimizer step"),
        "max_mse_ratio": Key(0.1, "the model's held-out MSE must be at most this times the linear fit's (lower is "
                                  "better: partial_credit_from lies above it)"),
        "hint": Key("", "what to look at when the model does no better than a line"),
    }
    pass_mark = "max_mse_ratio"
    lower_is_better = True

    def validate(self, params):
        Formula(params["target"], params["variables"])
        n = len(params["variables"])
        if len(params["input_means"]) != n or len(params["input_stds"]) != n:
            raise ValueError(f"input_means and input_stds need one number per variable ({n})")
        if not 0 < params["test_fraction"] < 1:
            raise ValueError("test_fraction must be between 0 and 1")
        if params["schedule"] not in ("constant", "linear"):
            raise ValueError(f"schedule must be 'constant' or 'linear', not '{params['schedule']}'")

    def _model(self, check, assignment) -> tuple[str, list]:
        p = check.params
        return (p["model"] or assignment.model), (p["model_args"] if p["model"] else list(assignment.model_args))

    def required_names(self, check, assignment):
        return [self._model(check, assignment)[0]]

    def _data(self, p: dict) -> dict:
        """Inputs, targets and their split, in float64; the standardised copies the child trains on."""
        generator = torch.Generator().manual_seed(p["data_seed"])
        n = len(p["variables"])
        noise = torch.randn(p["samples"], n, generator=generator, dtype=torch.float64)
        X = torch.tensor(p["input_means"], dtype=torch.float64) + torch.tensor(p["input_stds"],
                                                                               dtype=torch.float64) * noise
        y = Formula(p["target"], p["variables"])(list(X.unbind(1)))
        n_test = max(1, round(p["samples"] * p["test_fraction"]))
        x_train, y_train, x_test, y_test = X[:-n_test], y[:-n_test], X[-n_test:], y[-n_test:]
        x_mean, x_std = x_train.mean(0), x_train.std(0)
        y_mean, y_std = y_train.mean(), y_train.std()
        return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test,
                "xs_train": (x_train - x_mean) / x_std, "ys_train": (y_train - y_mean) / y_std,
                "xs_test": (x_test - x_mean) / x_std, "y_mean": y_mean, "y_std": y_std}

    def _recipe_text(self, p: dict) -> str:
        decay = " falling linearly to 0" if p["schedule"] == "linear" else ""
        return (f"{p['optimizer']} at lr {p['lr']:g}{decay}, {p['epochs']} epochs of batches of {p['batch_size']}, "
                "on standardised inputs and targets")

    def questions(self, check, assignment):
        p = check.params
        data = self._data(p)
        cls, args = self._model(check, assignment)
        recipe = {"optimizer": p["optimizer"], "lr": p["lr"], "momentum": p["momentum"], "schedule": p["schedule"],
                  "epochs": p["epochs"], "batch_size": p["batch_size"]}
        question_args = {"model": {"class": cls, "args": args}, "recipe": recipe,
                      "x_train": literal(data["xs_train"]), "y_train": literal(data["ys_train"]),
                      "x_test": literal(data["xs_test"])}
        label = (f"training {cls}({', '.join(repr(a) for a in args)}) on {len(data['x_train'])} samples of "
                 f"y = {p['target']} ({self._recipe_text(p)})")
        return [Question("train_regression", question_args, label, limit=TRAIN)]

    def judge(self, check, assignment, answers, context):
        p = check.params
        data = self._data(p)
        cls, args = self._model(check, assignment)
        name = f"{cls}({', '.join(repr(a) for a in args)})"
        hint = f": {p['hint']}" if p["hint"] else ""
        predictions = answers[0].value["predictions"].reshape(-1) * data["y_std"] + data["y_mean"]
        if predictions.numel() != len(data["y_test"]):
            return Verdict(False, f"{name} gave {predictions.numel()} predictions for {len(data['y_test'])} "
                                  "held-out samples; expected one each")
        mse = float(((predictions - data["y_test"]) ** 2).mean())
        # The best any linear model can do: least squares with an intercept, on the training rows.
        design = torch.cat([data["x_train"], torch.ones(len(data["x_train"]), 1, dtype=torch.float64)], 1)
        weights = torch.linalg.lstsq(design, data["y_train"].unsqueeze(1)).solution
        test_design = torch.cat([data["x_test"], torch.ones(len(data["x_test"]), 1, dtype=torch.float64)], 1)
        linear_mse = float(((test_design @ weights).squeeze(1) - data["y_test"]).pow(2).mean())
        ratio = mse / linear_mse if linear_mse > 0 else math.inf
        details = {"mse": mse, "linear_mse": linear_mse, "ratio": ratio,
                   "final_training_loss": answers[0].value.get("final_loss")}
        measured = (f"{name}, trained by the grader ({self._recipe_text(p)}), reaches a held-out MSE of "
                    f"{mse:.4g}; the best linear fit reaches {linear_mse:.4g}")
        if not math.isfinite(mse):
            verdict = Verdict(False, f"{name}, trained by the grader ({self._recipe_text(p)}), predicts nan or inf "
                                     f"on held-out samples{hint}", details)
            return self.scored(check, verdict, math.nan, "MSE ratio to the linear fit", _times)
        if not ratio <= p["max_mse_ratio"]:
            verdict = Verdict(False, f"{measured} ({ratio:.3g} times it; at most {p['max_mse_ratio']:g} times "
                                     f"needed){hint}", details)
            return self.scored(check, verdict, ratio, "MSE ratio to the linear fit", _times, f"{measured}{hint}")
        return Verdict(True, f"{measured}: {ratio:.3g} times it (at most {p['max_mse_ratio']:g})", details)
