"""What the feedback pages show of a submission beyond its verdicts: the layers the grader
measured, the training curve and the confusion matrix. Every list is cut to what a page shows
before it is built, and every size comes from the grader's own data, never from an answer."""

from __future__ import annotations

import torch

from ..checks import JudgeContext
from ..wire.answers import Answer
from .results import MAX_CLASSES, MAX_HISTORY, MAX_LAYERS


def confusion(predictions: torch.Tensor, labels: torch.Tensor) -> tuple[list[list[int]] | None, int, int]:
    """The confusion matrix of the test predictions, how many predictions are not a class, and how many
    classes there are. The size comes from the grader's own labels, never from an answer: a prediction
    outside 0 .. classes - 1 counts as wrong and is only counted, so no answer can make the matrix big."""
    classes = int(labels.max().item()) + 1 if labels.numel() else 0
    predicted = predictions.long()
    inside = (predicted >= 0) & (predicted < classes)
    outside = int(inside.numel() - inside.sum().item())
    if not 0 < classes <= MAX_CLASSES:
        return None, outside, classes
    cells = torch.bincount(labels[inside] * classes + predicted[inside], minlength=classes * classes)
    return cells.reshape(classes, classes).tolist(), outside, classes


def _measured_layers(error) -> dict | None:
    """The layers a forward() that could not be compiled ran through, measured by the submission's own
    process when it reran forward() for the error's words (for display only, never judged)."""
    if not isinstance(error, dict) or not isinstance(error.get("layers"), list):
        return None
    rows = [{"op": row[0], "output_shape": row[1], "parameters": row[2], "failed": bool(row[3])}
            for row in error["layers"][:MAX_LAYERS] if isinstance(row, (list, tuple)) and len(row) == 4]
    return {"batch": error.get("batch"), "layers": rows}


def page_facts(per_check, answers: dict[str, Answer], context: JudgeContext,
               check_details: dict[str, dict] | None = None) -> dict:
    """The model as the grader saw it and its training run, for feedback pages (all measured by the
    grader). The test accuracy is the one the check's judge scored (``check_details``)."""
    data: dict = {}
    for check, kind, questions in per_check:
        for question in questions:
            answer = answers.get(question.key)
            if answer is not None and answer.failed and "measured_layers" not in data:
                measured = _measured_layers(answer.error)
                if measured is not None:
                    data["measured_layers"] = measured
            if answer is None or answer.failed or not isinstance(answer.value, dict):
                continue
            calls = answer.value.get("calls")
            if question.op == "forward" and isinstance(calls, list) and calls and "layers" not in data:
                data["layers"] = [{"op": call[0], "output_shape": call[1], "parameters": call[2]}
                                  for call in calls[:MAX_LAYERS] if isinstance(call, (list, tuple)) and len(call) >= 3]
            if question.op in ("train", "evaluate_weights") and "training" not in data and context.test_labels is not None:
                data.update(_training_facts(check, question, answer.value, context.test_labels,
                                            (check_details or {}).get(check.name, {})))
    return data


def _training_facts(check, question, value: dict, labels: torch.Tensor, details: dict) -> dict:
    predictions = value.get("predictions")
    if not isinstance(predictions, torch.Tensor) or predictions.shape != labels.shape:
        return {}
    matrix, outside, classes = confusion(predictions, labels)
    history = value.get("history")
    recipe = question.args.get("recipe", {})
    return {"training": {
        "history": history[:MAX_HISTORY] if isinstance(history, list) else [],
        "stop_at_validation_accuracy": recipe.get("stop_at_validation_accuracy"),
        "min_test_accuracy": check.params.get("min_test_accuracy"),
        "steps": value.get("steps"),
        "test_accuracy": details.get("test_accuracy"),
        "classes": classes,
        "predictions_not_a_class": outside,
        "confusion_matrix": matrix,
    }}
