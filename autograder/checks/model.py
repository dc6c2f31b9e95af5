"""Checks on an nn.Module: it builds, its shapes, parameters, gradients and modes."""

from __future__ import annotations

import math
from collections import OrderedDict

import torch

from ..settings.model import Key
from .base import (OTHER_MODEL_KEYS, CheckKind, Question, Verdict, call_text, checked_model, explain_failure,
                   model_spec, shape_text, validate_other_model)
from .tensor_specs import randn
from .registry import register

# Seeds for the random inputs the parent sends; fixed so that grading is repeatable.
INPUT_SEED = 1234
WEIGHT_SEED = 4321


def _build_question(assignment, args=None) -> Question:
    return Question("build", {"model": model_spec(assignment, args)}, f"building {call_text(assignment, args)}")


def _forward_question(assignment, batch: int, runs: list[dict], *, args=None, trace=False,
                   input_seed=INPUT_SEED, input_spec=None) -> Question:
    modes = "/".join(sorted({r["mode"] for r in runs}))
    return Question(
        "forward",
        {"model": model_spec(assignment, args),
         "input": input_spec or randn([batch, *assignment.input_shape], input_seed),
         "runs": runs, "trace": trace},
        f"running forward() of {call_text(assignment, args)} on a batch of {batch} ({modes} mode)",
    )


def _trainable_count(parameters: list) -> int:
    return sum(math.prod(shape) for _, shape, trainable in parameters if trainable)


@register
class Builds(CheckKind):
    name = "builds"
    summary = "the module loads, the class exists and builds, and it has trainable layers"
    params = {"signature": Key("", "how the class is called, shown when building fails, e.g. 'LeNet5(n_classes)'")}

    def questions(self, check, assignment):
        return [_build_question(assignment)]

    def judge(self, check, assignment, answers, context):
        info = answers[0].value
        count = _trainable_count(info["parameters"])
        if count == 0:
            return Verdict(False, f"{call_text(assignment)} builds but has no trainable parameters: "
                                  "__init__ does not define any layers yet (not implemented yet?)")
        return Verdict(True, f"{call_text(assignment)} builds with {count:,} trainable parameters")

    def verdict(self, check, assignment, questions, answers, context):
        answer = answers[0]
        if answer.failed and answer.error and answer.error.get("type") == "TypeError" and check.params["signature"]:
            base = super().verdict(check, assignment, questions, answers, context)
            return Verdict(False, f"{base.message}; the class should be called as {check.params['signature']}")
        return super().verdict(check, assignment, questions, answers, context)


@register
class OutputShape(CheckKind):
    name = "output_shape"
    summary = "forward() returns (batch, classes) for several batch sizes"
    params = {
        "batch_sizes": Key([1, 7, 64], "batch sizes to try: 1, an odd one, the training size"),
        "model_args": Key([], "build with these arguments instead of the assignment's"),
        "outputs": Key(0, "outputs per sample expected (0: the assignment's num_classes)"),
    }

    def _args(self, check):
        return check.params["model_args"] or None

    def describe(self, check, assignment):
        outputs = check.params["outputs"] or assignment.num_classes
        sizes = ", ".join(str(n) for n in check.params["batch_sizes"])
        return (f"forward() of {call_text(assignment, self._args(check))} returns (batch, {outputs}) "
                f"for batches of {sizes}")

    def questions(self, check, assignment):
        return [_forward_question(assignment, n, [{"mode": "eval", "seed": 0}], args=self._args(check))
                for n in check.params["batch_sizes"]]

    def judge(self, check, assignment, answers, context):
        outputs = check.params["outputs"] or assignment.num_classes
        for n, answer in zip(check.params["batch_sizes"], answers):
            got = tuple(answer.value["outputs"][0].shape)
            want = (n, outputs)
            if got == want:
                continue
            where = f"forward() of {call_text(assignment, self._args(check))} on a batch of {n}"
            if len(got) != 2:
                hint = "flatten the features to two dimensions (batch, features) before the last layer"
            elif got[0] != n:
                hint = ("the batch dimension changed: flatten with torch.flatten(x, 1) or "
                        "x.view(x.size(0), -1) instead of a hard-coded size")
            else:
                hint = "check the out_features of your last Linear layer"
                if check.params["model_args"]:
                    hint += f" (it should use the class-count argument, here {outputs})"
            return Verdict(False, f"{where} returned shape {shape_text(got)}; expected {shape_text(want)}: {hint}")
        sizes = ", ".join(str(n) for n in check.params["batch_sizes"])
        return Verdict(True, f"output shape (N, {outputs}) for batch sizes {sizes}")


@register
class ParameterCount(CheckKind):
    name = "parameter_count"
    summary = "the number of trainable parameters is exactly what the architecture implies"
    params = {
        "cases": Key([[10]], "model arguments to build with, one list per case"),
        "base": Key(0, "parameters that do not depend on the class count"),
        "per_class": Key(0, "parameters added per class (first model argument)"),
    }

    def _expected(self, check, args) -> int:
        classes = args[0] if args and check.params["per_class"] else 0
        return check.params["base"] + check.params["per_class"] * classes

    def describe(self, check, assignment):
        counts = " and ".join(f"{call_text(assignment, args)} {self._expected(check, args):,}"
                              for args in check.params["cases"])
        rule = (f" ({check.params['base']:,} + {check.params['per_class']} per class)"
                if check.params["per_class"] else "")
        return f"exact trainable parameter count: {counts}{rule}"

    def questions(self, check, assignment):
        return [_build_question(assignment, args) for args in check.params["cases"]]

    def judge(self, check, assignment, answers, context):
        texts = []
        for args, answer in zip(check.params["cases"], answers):
            classes = args[0] if args and check.params["per_class"] else 0
            want = self._expected(check, args)
            got = _trainable_count(answer.value["parameters"])
            formula = (f" ({check.params['base']:,} + {check.params['per_class']} × {classes})"
                       if check.params["per_class"] else "")
            if got != want:
                return Verdict(False, f"{call_text(assignment, args)} has {got:,} trainable parameters; "
                                      f"expected {want:,}{formula}. Yours by layer: "
                                      f"{_count_by_layer(answer.value['parameters'])}")
            texts.append(f"{call_text(assignment, args)}: {got:,}")
        return Verdict(True, "parameter counts match: " + "; ".join(texts))


def _count_by_layer(parameters: list) -> str:
    counts: OrderedDict[str, int] = OrderedDict()
    for name, shape, trainable in parameters:
        if trainable:
            layer = name.rsplit(".", 1)[0]
            counts[layer] = counts.get(layer, 0) + math.prod(shape)
    return ", ".join(f"{layer} {n:,}" for layer, n in counts.items()) or "none"


@register
class BatchIndependence(CheckKind):
    name = "batch_independence"
    summary = "each sample's output depends on that sample alone"
    params = {
        "batch_size": Key(8, "batch size of the test"),
        "tolerance": Key(1e-4, "largest change allowed in the other samples' outputs"),
    }

    def questions(self, check, assignment):
        n = check.params["batch_size"]
        changed = randn([n, *assignment.input_shape], INPUT_SEED)
        changed["first_seed"] = INPUT_SEED + 1  # the same batch but for its first sample
        run = [{"mode": "eval", "seed": 0}]
        return [_forward_question(assignment, n, run),
                _forward_question(assignment, n, run, input_spec=changed)]

    def judge(self, check, assignment, answers, context):
        first, second = (a.value["outputs"][0] for a in answers)
        if first.shape != second.shape or first.dim() == 0 or len(first) != check.params["batch_size"]:
            return Verdict(False, f"forward() returned shape {shape_text(first.shape)} for a batch of "
                                  f"{check.params['batch_size']}, so samples cannot be told apart")
        change = (first[1:] - second[1:]).abs().max().item()
        if not change <= check.params["tolerance"]:
            return Verdict(False, "changing the first sample of a batch changed the other samples' outputs "
                                  f"(by up to {change:.3g}): forward() mixes samples, e.g. a softmax over "
                                  "dim 0 or a view(-1, ...) that merges samples")
        return Verdict(True, "outputs of different samples are independent")


@register
class OutputKind(CheckKind):
    name = "output_kind"
    summary = "forward() returns the kind of output the loss expects"
    params = {
        "expect": Key("log_probabilities", "'log_probabilities', 'probabilities', or 'any'",
                      choices=("log_probabilities", "probabilities", "any")),
        "batch_size": Key(16, "batch size of the test"),
    }

    def describe(self, check, assignment):
        return {
            "log_probabilities": "forward() returns log-probabilities (F.log_softmax), as the loss F.nll_loss expects",
            "probabilities": "forward() returns probabilities (each row sums to 1)",
        }.get(check.params["expect"], "forward() returns logits, probabilities or log-probabilities")

    def questions(self, check, assignment):
        return [_forward_question(assignment, check.params["batch_size"], [{"mode": "eval", "seed": 0}])]

    def judge(self, check, assignment, answers, context):
        out = answers[0].value["outputs"][0].double()
        if out.dim() != 2 or not torch.isfinite(out).all():
            return Verdict(False, f"forward() returned shape {shape_text(out.shape)} or non-finite values; "
                                  "expected finite (batch, classes) scores")
        ones = torch.ones(len(out), dtype=out.dtype)
        is_log_prob = bool((out <= 1e-5).all()) and torch.allclose(out.exp().sum(1), ones, atol=1e-4)
        is_prob = bool((out >= 0).all()) and torch.allclose(out.sum(1), ones, atol=1e-4)
        expect = check.params["expect"]
        if expect == "log_probabilities":
            if is_log_prob:
                return Verdict(True, "outputs are log-probabilities (each row's exp sums to 1)")
            if is_prob:
                return Verdict(False, "forward() returns probabilities (softmax), but the loss F.nll_loss needs "
                                      "log-probabilities: end forward() with F.log_softmax(x, dim=1)")
            return Verdict(False, "forward() returns raw scores, not log-probabilities: the loss is F.nll_loss, "
                                  "so end forward() with F.log_softmax(x, dim=1)")
        if expect == "probabilities":
            if is_prob:
                return Verdict(True, "outputs are probabilities (each row sums to 1)")
            return Verdict(False, "forward() should return probabilities: end it with F.softmax(x, dim=1)")
        kind = "log-probabilities" if is_log_prob else "probabilities" if is_prob else "logits"
        return Verdict(True, f"outputs are {kind}, which this assignment accepts")


@register
class DropoutActive(CheckKind):
    name = "dropout_active"
    summary = "dropout makes two training-mode passes differ"
    params = {"batch_size": Key(16, "batch size of the test")}

    def questions(self, check, assignment):
        runs = [{"mode": "train", "seed": 1}, {"mode": "train", "seed": 2}]
        return [_forward_question(assignment, check.params["batch_size"], runs)]

    def judge(self, check, assignment, answers, context):
        first, second = answers[0].value["outputs"]
        if not (torch.isfinite(first).all() and torch.isfinite(second).all()):
            return Verdict(False, "training-mode passes gave non-finite outputs (NaN or infinity), so whether "
                                  "dropout works cannot be told: look for a log of zero or a division by zero")
        if first.shape == second.shape and torch.equal(first, second):
            return Verdict(False, "two training-mode passes on the same input gave identical outputs: "
                                  "dropout is not active in training; use nn.Dropout or "
                                  "F.dropout(x, training=self.training)")
        return Verdict(True, "training-mode passes differ, so dropout is active")


@register
class EvalDeterministic(CheckKind):
    name = "eval_deterministic"
    summary = "eval mode gives the same output twice (dropout off)"
    params = {
        "batch_size": Key(16, "batch size of the test"),
        "tolerance": Key(1e-5, "largest difference allowed between the two passes"),
    }

    def questions(self, check, assignment):
        runs = [{"mode": "eval", "seed": 1}, {"mode": "eval", "seed": 2}]
        return [_forward_question(assignment, check.params["batch_size"], runs)]

    def judge(self, check, assignment, answers, context):
        first, second = answers[0].value["outputs"]
        if first.shape != second.shape or not torch.allclose(first, second, atol=check.params["tolerance"],
                                                             rtol=0, equal_nan=True):
            return Verdict(False, "two eval-mode passes on the same input differ: something random stays on "
                                  "after model.eval(); pass training=self.training to F.dropout")
        return Verdict(True, "eval mode is deterministic")


def _backward_question(assignment, batch: int) -> Question:
    weights = randn([batch, assignment.num_classes], WEIGHT_SEED)
    return Question(
        "backward",
        {"model": model_spec(assignment), "input": randn([batch, *assignment.input_shape], INPUT_SEED),
         "weights": weights},
        f"running forward() and backward() of {call_text(assignment)} on a batch of {batch}",
    )


@register
class Backward(CheckKind):
    name = "backward"
    summary = "loss.backward() runs through the model"
    params = {"batch_size": Key(16, "batch size of the test")}
    sees_failures = True

    def questions(self, check, assignment):
        return [_backward_question(assignment, check.params["batch_size"])]

    def judge(self, check, assignment, answers, context):
        answer = answers[0]
        question = self.questions(check, assignment)[0]
        if answer.failed:
            message = explain_failure(answer, question)
            if answer.error and answer.error.get("stage") == "backward":
                text = answer.error.get("message", "")
                hint = ("an in-place operation (x += ..., relu_(), inplace=True) overwrote a value "
                        "backward needs; use the out-of-place form") if "inplace" in text else ""
                return Verdict(False, f"loss.backward() failed: {answer.error.get('type')}: {text}"
                                      + (f"; {hint}" if hint else ""))
            return Verdict(False, message)
        if not answer.value["loss_requires_grad"]:
            return Verdict(False, "the output does not depend on any trainable parameter: does forward() use "
                                  ".detach(), .data, .item() or torch.no_grad()?")
        return Verdict(True, "backward() runs")


@register
class GradientFlow(CheckKind):
    name = "gradient_flow"
    summary = "every trainable parameter gets a finite, non-zero gradient"
    params = {"batch_size": Key(16, "batch size of the test"), **OTHER_MODEL_KEYS}

    def validate(self, params):
        validate_other_model(params)

    def questions(self, check, assignment):
        return [_backward_question(checked_model(check, assignment), check.params["batch_size"])]

    def judge(self, check, assignment, answers, context):
        none, bad, zero = [], [], []
        grads = answers[0].value["grads"]
        if not answers[0].value["loss_requires_grad"]:
            return Verdict(False, "no gradient reaches any parameter: the output is detached from the model")
        for name, grad in grads:
            if grad is None:
                none.append(name)
            elif not torch.isfinite(grad).all():
                bad.append(name)
            elif not grad.abs().sum() > 0:
                zero.append(name)
        problems = []
        if none:
            problems.append(f"no gradient reaches {', '.join(none)} (a layer defined in __init__ but not used "
                            "in forward(), or cut off by .detach())")
        if bad:
            problems.append(f"non-finite gradients in {', '.join(bad)}")
        if zero:
            problems.append(f"all-zero gradients in {', '.join(zero)}")
        if problems:
            return Verdict(False, "; ".join(problems))
        return Verdict(True, f"all {len(grads)} parameter tensors get finite, non-zero gradients")
