"""A short training run with the assignment's recipe, scored on held-out test images.

The child trains and returns its predictions for the test images; the parent
alone holds the test labels and computes the accuracy, so no code running
beside the submission can forge it.
"""

from __future__ import annotations

import torch

from ..settings.model import Key
from .base import TRAIN, CheckKind, Question, Verdict, call_text, model_spec
from .registry import register


@register
class TestAccuracy(CheckKind):
    name = "test_accuracy"
    summary = "a short training run with the assignment's recipe reaches the test accuracy threshold"
    params = {
        "min_test_accuracy": Key(0.95, "accuracy on the held-out test images needed to pass (full points)"),
        "recipe": Key({}, "changes to the assignment's [training] recipe for this check's own run, e.g. "
                          "{stop_at_validation_accuracy = 0.99} to train the whole step budget; empty: the "
                          "assignment's run, shared with its other training checks"),
    }
    needs_data = True
    pass_mark = "min_test_accuracy"

    def validate(self, params):
        from ..settings.loader import resolve_table
        from ..settings.schema import TRAINING_KEYS
        from ..errors import ConfigError

        try:
            resolve_table("recipe.", params["recipe"], TRAINING_KEYS, base={})
        except ConfigError as exc:
            raise ValueError(str(exc.message).removeprefix("grading.toml: ")) from None

    def _recipe(self, check, assignment) -> dict:
        return {**assignment.recipe(), **check.params["recipe"]}

    def describe(self, check, assignment):
        recipe = self._recipe(check, assignment)
        optimizer = {"sgd": "SGD", "adam": "Adam"}.get(recipe.get("optimizer"), recipe.get("optimizer", "?"))
        partial = (f" (points from {check.partial_credit_from * 100:g}%)"
                   if check.partial_credit_from is not None else "")
        return (f"at most {recipe.get('max_steps', 0):,} {optimizer} steps (lr {recipe.get('lr')}, "
                f"batch {recipe.get('batch_size')}) on {str(recipe.get('dataset', '?')).upper()} reach "
                f"{check.params['min_test_accuracy'] * 100:g}% accuracy on its test set{partial}")

    def questions(self, check, assignment):
        recipe = {**self._recipe(check, assignment), "max_tflop": assignment.limits.train_tflop}
        return [Question(
            "train",
            {"model": model_spec(assignment), "recipe": recipe, "input_shape": assignment.input_shape},
            f"training {call_text(assignment)} ({recipe.get('optimizer', '?')}, lr {recipe.get('lr')}, "
            f"batch {recipe.get('batch_size')})",
            limit=TRAIN,
        )]

    def judge(self, check, assignment, answers, context):
        result = answers[0].value
        scored = scored_test_predictions(result, context, "the training run returned no prediction for each "
                                                          "test image")
        if isinstance(scored, Verdict):
            return scored
        accuracy, classes, outside = scored
        threshold = check.params["min_test_accuracy"]
        history = result.get("history") or []
        validation = f", validation {history[-1][1]:.1%}" if history else ""
        detail = f"after {result.get('steps', 0)} steps{validation}, {result.get('seconds', 0):.1f} s"
        details = {"test_accuracy": round(accuracy, 4), "steps": result.get("steps", 0),
                   "train_seconds": round(result.get("seconds", 0.0), 2), "predictions_not_a_class": outside}
        if accuracy >= threshold:
            return Verdict(True, f"test accuracy {accuracy:.2%} ≥ {threshold * 100:g}% ({detail})", details)
        hint = ""
        if history and history[-1][2] != history[-1][2]:  # NaN loss
            hint = ": the loss became NaN; look for a log of zero or a division in forward()"
        elif outside:
            hint = f": {not_a_class_text(outside, classes)}"
        elif accuracy < 0.2:
            hint = (": the model did not learn; check that forward() uses its input and that every "
                    "layer is connected")
        verdict = Verdict(False, f"test accuracy {accuracy:.2%} < {threshold * 100:g}% ({detail}){hint}", details)
        return self.scored(check, verdict, accuracy, "test accuracy", percent, f"{detail}{hint}",
                           measured_shown=lambda v: f"{v:.2%}")


def scored_test_predictions(result: dict, context, missing: str) -> tuple[float, int, int] | Verdict:
    """``score_predictions`` of an answer's test predictions against the grader's own labels, or the
    failed verdict that says why they cannot be scored (``missing``: no prediction for each image)."""
    labels = context.test_labels
    if labels is None:
        return Verdict(False, "the grader has no test labels for this dataset")
    predictions = result.get("predictions")
    if not isinstance(predictions, torch.Tensor) or predictions.shape != labels.shape:
        return Verdict(False, missing)
    return score_predictions(predictions, labels)


def score_predictions(predictions: torch.Tensor, labels: torch.Tensor) -> tuple[float, int, int]:
    """(accuracy, number of classes, predictions that are no class): a prediction outside the
    classes counts as wrong, and nothing is sized by a predicted value."""
    predictions = predictions.long()
    accuracy = (predictions == labels).double().mean().item()
    classes = int(labels.max().item()) + 1
    outside = int(((predictions < 0) | (predictions >= classes)).sum().item())
    return accuracy, classes, outside


def percent(value: float) -> str:
    """0.872 as '87.2%', 0.9 as '90%'."""
    return f"{round(value * 100, 2):g}%"


def not_a_class_text(count: int, classes: int | None) -> str:
    """'3 test predictions were not a class 0-9 ...': a model whose output has more columns than there are
    classes can predict an index no label has; each such prediction counts as wrong."""
    which = f"a class 0-{classes - 1}" if classes else "a class of the data set"
    were = "were" if count != 1 else "was"
    return (f"{count:,} test prediction{'s' if count != 1 else ''} {were} not {which} and counted as wrong; "
            "the model's output needs one column per class")
