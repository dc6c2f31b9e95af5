"""Checks on hand-written modules: compare them with PyTorch's own, in both modes.

The child compiles the student's module into op graphs; the grader's executor
runs them batch after batch, and the parent runs the trusted ``torch.nn``
module on the same inputs and compares outputs, input gradients and tensor
attributes such as running statistics. "By hand" is enforced on the graph:
a module may use only the ops its check allows (``allowed_ops``); any other
op, such as the one it is meant to replace or a library op that does the same
work, fails the check, naming the op and its line.
Random layers (dropout) are judged on statistics whose tolerances are many
standard deviations wide, so a correct layer never fails by bad luck.
"""

from __future__ import annotations

import math

import torch

from ..settings.model import Key
from .base import CheckKind, Question, Verdict, by_hand_verdict, shape_text
from .tensor_specs import materialize, randn
from .registry import register

INPUT_SEED = 2024
WEIGHT_SEED = 2025


def _call(name: str, args: list) -> str:
    return f"{name}({', '.join(repr(a) for a in args)})"


def _steps(check) -> list[dict]:
    """The inputs of each step, as tensor specs (the same tensors in parent and child)."""
    shape = check.params["input_shape"]
    steps = []
    for i, mode in enumerate(check.params["modes"]):
        step = {"mode": mode, "seed": i, "input": randn(shape, INPUT_SEED + i)}
        if check.params["gradients"] and mode == "train":
            step["weights"] = randn(shape, WEIGHT_SEED + i)
        steps.append(step)
    return steps


def _shift(steps: list[dict], scale: float, shift: float) -> list[dict]:
    out = []
    for step in steps:
        step = dict(step)
        step["input"] = step["input"] * scale + shift
        out.append(step)
    return out


@register
class MatchesTorchModule(CheckKind):
    name = "matches_torch_module"
    summary = "a hand-written module matches PyTorch's module in train and eval mode"
    params = {
        "module": Key("", "the submission's class, e.g. 'MyBatchNorm2d'", required=True),
        "args": Key([], "arguments the class is built with"),
        "reference": Key("", "the torch.nn class it must match, e.g. 'BatchNorm2d'", required=True),
        "reference_args": Key([], "arguments of the reference (empty: the same as args)"),
        "input_shape": Key([8, 3, 4, 4], "shape of each batch, batch dimension included"),
        "input_scale": Key(1.0, "inputs are standard normal times this..."),
        "input_shift": Key(0.0, "...plus this, so batch statistics are far from 0 and 1"),
        "modes": Key(["train", "train", "eval"], "mode of each successive batch", choices=("train", "eval")),
        "gradients": Key(True, "also compare the input's gradient in train-mode batches"),
        "attributes": Key([], "tensor attributes compared after each batch, e.g. running_mean"),
        "tolerance": Key(1e-4, "largest absolute difference allowed (outputs, gradients, attributes)"),
        "hint_train": Key("", "what to look at when a train-mode output differs"),
        "hint_eval": Key("", "what to look at when an eval-mode output differs"),
        "hint_attributes": Key("", "what to look at when an attribute differs"),
        "allowed_ops": Key([], "by hand: the only ops forward() may use, as op groups of [kit.op_groups] and "
                               "single ops, e.g. [\"elementwise\", \"reduce\", \"var\"] (empty: any op)"),
    }

    def validate(self, params):
        reference = getattr(torch.nn, params["reference"], None)
        if not (isinstance(reference, type) and issubclass(reference, torch.nn.Module)):
            import difflib

            modules = [n for n, v in vars(torch.nn).items() if isinstance(v, type) and issubclass(v, torch.nn.Module)]
            close = difflib.get_close_matches(params["reference"], modules, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"reference '{params['reference']}' is not a torch.nn module the grader can build{hint}")

    def required_names(self, check, assignment):
        return [check.params["module"]]

    def questions(self, check, assignment):
        p = check.params
        steps = _steps(check)
        args = {"model": {"class": p["module"], "args": p["args"], "seed": 0}, "steps": steps,
                "attributes": p["attributes"], "scale": p["input_scale"], "shift": p["input_shift"]}
        return [Question("module_runs", args,
                      f"running {_call(p['module'], p['args'])} on {len(steps)} batches "
                      f"of shape {shape_text(p['input_shape'])}")]

    def judge(self, check, assignment, answers, context):
        p = check.params
        got = answers[0].value
        reference_cls = getattr(torch.nn, p["reference"])
        torch.manual_seed(0)
        reference = reference_cls(*(p["reference_args"] or p["args"]))
        steps = _shift(materialize(_steps(check)), p["input_scale"], p["input_shift"])
        student = _call(p["module"], p["args"])
        tol = p["tolerance"]
        refused = by_hand_verdict(p["allowed_ops"], got["ops"], student)
        if refused:
            return refused

        want_count = sum(q.numel() for q in reference.parameters() if q.requires_grad)
        got_count = sum(math.prod(shape) for _, shape, trainable in got["parameters"] if trainable)
        if got_count != want_count:
            return Verdict(False, f"{student} has {got_count} trainable parameters; nn.{p['reference']} has "
                                  f"{want_count}: declare the learnable tensors as nn.Parameter with the reference's shapes")
        for i, (step, out) in enumerate(zip(steps, got["outputs"])):
            reference.train(step["mode"] == "train")
            x = step["input"].clone().requires_grad_(step.get("weights") is not None)
            want = reference(x)
            where = f"batch {i + 1} ({step['mode']} mode)"
            if tuple(out.shape) != tuple(want.shape):
                return Verdict(False, f"{student} returned shape {shape_text(out.shape)} on {where}; "
                                      f"expected {shape_text(want.shape)} (the input's shape)")
            diff = (out - want.detach()).abs().max().item() if out.numel() else 0.0
            if not diff <= tol:
                hint = p["hint_train"] if step["mode"] == "train" else p["hint_eval"]
                return Verdict(False, f"{student}'s output differs from nn.{p['reference']}'s on {where} "
                                      f"by up to {diff:.3g} (tolerance {tol:g})" + (f": {hint}" if hint else ""))
            if step.get("weights") is not None:
                (want * step["weights"]).sum().backward()
                grad = got["input_grads"][i]
                if grad is None:
                    return Verdict(False, f"no gradient reached the input on {where}: forward() must stay "
                                          "differentiable (no .detach(), .item() or torch.no_grad())")
                gdiff = (grad - x.grad).abs().max().item()
                if not gdiff <= tol * 10:
                    return Verdict(False, f"the input's gradient through {student} differs from "
                                          f"nn.{p['reference']}'s on {where} by up to {gdiff:.3g}: compute "
                                          "everything from x with torch operations so autograd follows "
                                          "them (no .detach(), .item() or numpy)")
            for name in p["attributes"]:
                value = got["attributes"][i].get(name)
                ref = getattr(reference, name).detach().float()
                if value is None:
                    return Verdict(False, f"{student} has no tensor attribute '{name}' (register it with "
                                          f"self.register_buffer('{name}', ...))")
                if tuple(value.shape) != tuple(ref.shape):
                    return Verdict(False, f"{student}.{name} has shape {shape_text(value.shape)}; expected "
                                          f"{shape_text(ref.shape)}")
                adiff = (value - ref).abs().max().item()
                if not adiff <= tol:
                    hint = p["hint_attributes"]
                    return Verdict(False, f"{student}.{name} after {where} differs from nn.{p['reference']}'s "
                                          f"by up to {adiff:.3g}" + (f": {hint}" if hint else ""))
                tracked = got.get("attributes_tracked") or []
                if i < len(tracked) and tracked[i].get(name) is True and not getattr(reference, name).requires_grad:
                    return Verdict(False, f"{student}.{name} carries autograd history after {where}: update it "
                                          "under torch.no_grad(), as nn." + p["reference"] + " does; otherwise "
                                          "every batch's graph stays alive through it (memory grows each step)")
        extra = f", {', '.join(p['attributes'])}" if p["attributes"] else ""
        return Verdict(True, f"{student} matches nn.{p['reference']} on {len(steps)} batches "
                             f"({'/'.join(dict.fromkeys(p['modes']))} mode; outputs{extra}"
                             f"{', input gradients' if p['gradients'] else ''})")


@register
class DropoutModule(CheckKind):
    name = "dropout_module"
    summary = "a hand-written dropout zeroes a fraction p, scales survivors by 1/(1-p), is the identity in eval"
    params = {
        "module": Key("", "the submission's class, built as module(p)", required=True),
        "probabilities": Key([0.3, 0.5], "dropout probabilities to try"),
        "shape": Key([100, 1000], "input shape; large, so the zero fraction is sharp"),
        "runs": Key(3, "training-mode passes per probability, each with its own seed"),
        "sigmas": Key(8.0, "allowed distance of the zero fraction from p, in binomial standard deviations"),
        "allowed_ops": Key([], "by hand: the only ops forward() may use, as op groups of [kit.op_groups] and "
                               "single ops, e.g. [\"elementwise\", \"random\"] (empty: any op)"),
    }

    def required_names(self, check, assignment):
        return [check.params["module"]]

    def questions(self, check, assignment):
        pr = check.params
        return [Question("dropout_runs", {"model": {"class": pr["module"], "args": [float(p)], "seed": 0},
                                       "p": float(p), "shape": pr["shape"], "seeds": list(range(1, pr["runs"] + 1))},
                      f"running {pr['module']}({p}) on a {shape_text(pr['shape'])} input")
                for p in pr["probabilities"]]

    def judge(self, check, assignment, answers, context):
        pr = check.params
        texts = []
        for p, answer in zip(pr["probabilities"], answers):
            got = answer.value
            student = f"{pr['module']}({p})"
            refused = by_hand_verdict(pr["allowed_ops"], got["ops"], student)
            if refused:
                return refused
            n = got["elements"]
            if got["parameters"]:
                return Verdict(False, f"{student} has parameters ({got['parameters'][0][0]}, ...); dropout "
                                      "has none")
            sigma = math.sqrt(p * (1 - p) / n)
            for i, run in enumerate(got["runs"]):
                fraction = run["zeros"] / n
                if abs(fraction - p) > pr["sigmas"] * sigma + 1e-12:
                    return Verdict(False, f"{student} in train mode zeroed {fraction:.2%} of the elements; "
                                          f"expected about {p:.0%} (keep each element with probability 1 - p)")
                if run["badly_scaled"]:
                    lo, hi = run["ratio_min"], run["ratio_max"]
                    return Verdict(False, f"{student} in train mode scaled {run['badly_scaled']} surviving "
                                          f"elements by factors in [{lo:.4g}, {hi:.4g}]; every survivor must "
                                          f"be multiplied by exactly 1/(1 - p) = {1 / (1 - p):.4g}")
            if got["runs"] and got["repeated_masks"] == len(got["runs"]) - 1 and len(got["runs"]) > 1:
                return Verdict(False, f"{student} dropped the same elements in every training pass: draw "
                                      "a fresh random mask on each call")
            if got["eval_shape"] != pr["shape"] or got["eval_change"] is None or got["eval_change"] != 0:
                change = got["eval_change"]
                return Verdict(False, f"{student} in eval mode changed its input (by up to "
                                      f"{change if change is None else f'{change:.3g}'}): in eval mode "
                                      "(self.training is False) return the input unchanged")
            texts.append(f"p={p}: zeros {got['runs'][0]['zeros'] / n:.2%}")
        return Verdict(True, "dropout statistics match (" + "; ".join(texts) +
                             "), survivors scaled by 1/(1-p), identity in eval mode")


@register
class TrainEvalModes(CheckKind):
    name = "train_eval_modes"
    summary = "a model class (e.g. a dropout variant) is random in train mode, deterministic in eval mode"
    params = {
        "module": Key("", "the class to build", required=True),
        "args": Key([], "arguments the class is built with"),
        "input_shape": Key([3, 32, 32], "shape of one sample, without the batch dimension"),
        "batch_size": Key(16, "batch size of the test"),
        "outputs": Key(10, "outputs per sample expected"),
        "parameters": Key(0, "exact trainable parameter count expected (0: not checked)"),
        "train_random": Key(True, "two train-mode passes must differ (dropout active)"),
    }

    def required_names(self, check, assignment):
        return [check.params["module"]]

    def questions(self, check, assignment):
        p = check.params
        x = randn([p["batch_size"], *p["input_shape"]], INPUT_SEED)
        steps = [{"mode": "train", "seed": 1, "input": x}, {"mode": "train", "seed": 2, "input": x},
                 {"mode": "eval", "seed": 3, "input": x}, {"mode": "eval", "seed": 4, "input": x}]
        return [Question("module_runs", {"model": {"class": p["module"], "args": p["args"], "seed": 0}, "steps": steps},
                      f"running {_call(p['module'], p['args'])} in train and eval mode")]

    def judge(self, check, assignment, answers, context):
        p = check.params
        got = answers[0].value
        student = _call(p["module"], p["args"])
        count = sum(math.prod(shape) for _, shape, trainable in got["parameters"] if trainable)
        if p["parameters"] and count != p["parameters"]:
            return Verdict(False, f"{student} has {count:,} trainable parameters; expected {p['parameters']:,}")
        want = (p["batch_size"], p["outputs"])
        for out in got["outputs"]:
            if tuple(out.shape) != want:
                return Verdict(False, f"forward() of {student} returned shape {shape_text(out.shape)}; "
                                      f"expected {shape_text(want)}")
        train1, train2, eval1, eval2 = got["outputs"]
        if p["train_random"] and torch.equal(train1, train2):
            return Verdict(False, f"two train-mode passes of {student} gave identical outputs: its dropout "
                                  "is not active in training (use nn.Dropout and call it in forward())")
        if not torch.allclose(eval1, eval2, atol=1e-6, rtol=0):
            return Verdict(False, f"two eval-mode passes of {student} differ: dropout must be off after "
                                  "model.eval() (use nn.Dropout, or F.dropout(x, p, training=self.training))")
        return Verdict(True, f"{student}: {count:,} parameters, random in train mode, deterministic in eval")
