"""Trained weights handed in beside the model: scored on held-out test images, with no training.

The student trains ``Net`` wherever they like and hands in a folder with the
model's file and its ``state_dict()`` saved by ``torch.save``. The child
compiles ``Net`` as for every model check; the weights file never reaches it,
nor is it unpickled by the parent: the parent reads its bytes (at most
``max_weights_mib``, the size checked before a byte is read) and sends them
with the question. Only the grader's executor reads the file, with
``torch.load(weights_only=True)`` (tensors and plain containers, nothing
else), checks every name, shape and dtype against the compiled graph's
parameters and buffers, loads them in place of any initialisation (batch-norm
statistics included) and predicts the test images; the parent scores the
predictions against its test labels.
"""

from __future__ import annotations


from ..settings.model import Key
from .base import TRAIN, CheckKind, Question, Verdict, call_text, model_spec
from .registry import register
from .training import not_a_class_text, percent, scored_test_predictions

# What the parent replaces with the bytes of a file handed in beside the model (grading/session.py).
SUBMITTED_FILE = "__submitted_file__"


def submitted_file(name: str, max_bytes: int) -> dict:
    """A question's argument that stands for the file ``name`` of the submission's folder (its bytes,
    as a uint8 tensor, once the runner has read them), refused above ``max_bytes``."""
    return {SUBMITTED_FILE: name, "max_bytes": int(max_bytes)}


@register
class WeightsAccuracy(CheckKind):
    name = "weights_accuracy"
    summary = "the handed-in trained weights, loaded into the model, reach the test accuracy threshold"
    params = {
        "weights_file": Key("model.pt", "the file beside the model's file holding its state_dict() (torch.save)"),
        "max_weights_mib": Key(8.0, "largest weights file accepted, in MiB (checked before it is read)"),
        "max_parameters": Key(1_000_000, "most parameters (trainable or not) the network may have"),
        "min_test_accuracy": Key(0.99, "accuracy on the held-out test images needed to pass (full points)"),
    }
    needs_data = True
    pass_mark = "min_test_accuracy"       # partial_credit_from counts up to this

    def validate(self, params):
        name = params["weights_file"]
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"weights_file should be a plain file name such as 'model.pt', not {name!r}")
        if not 0 < params["max_weights_mib"] <= 1024:
            raise ValueError("max_weights_mib should be above 0 and at most 1024")

    def describe(self, check, assignment):
        p = check.params
        return (f"{p['weights_file']} (at most {p['max_weights_mib']:g} MiB) loaded into "
                f"{call_text(assignment)} (at most {p['max_parameters']:,} parameters) reaches "
                f"{p['min_test_accuracy'] * 100:g}% accuracy on the test images, with no training by the grader")

    def questions(self, check, assignment):
        p = check.params
        recipe = {key: value for key, value in assignment.recipe().items()
                  if key in ("test_batch_size", "normalize_mean", "normalize_std")}
        return [Question(
            "evaluate_weights",
            {"model": model_spec(assignment),
             "weights": submitted_file(p["weights_file"], int(p["max_weights_mib"] * 2**20)),
             "recipe": recipe, "input_shape": assignment.input_shape},
            f"loading {p['weights_file']} into {call_text(assignment)} and predicting the test images",
            limit=TRAIN,
        )]

    def judge(self, check, assignment, answers, context):
        result = answers[0].value
        scored = scored_test_predictions(result, context, "the grader got no prediction for each test image")
        if isinstance(scored, Verdict):
            return scored
        p = check.params
        accuracy, classes, outside = scored
        count = int(result.get("parameters", 0))
        details = {"test_accuracy": round(accuracy, 4), "parameters": count, "predictions_not_a_class": outside}
        if count > p["max_parameters"]:
            return Verdict(False, f"{call_text(assignment)} has {count:,} parameters, over the "
                                  f"{p['max_parameters']:,} allowed: make the network smaller and train it again",
                           details)
        threshold = p["min_test_accuracy"]
        if accuracy >= threshold:
            return Verdict(True, f"test accuracy {accuracy:.2%} ≥ {threshold * 100:g}% "
                                 f"({count:,} parameters)", details)
        hint = ""
        if outside:
            hint = f": {not_a_class_text(outside, classes)}"
        elif accuracy < 0.2:
            hint = (": these weights do not classify the test images; train with the normalisation the README "
                    "gives, and save model.state_dict() after training")
        verdict = Verdict(False, f"test accuracy {accuracy:.2%} < {threshold * 100:g}% ({count:,} parameters)"
                                 f"{hint}", details)
        return self.scored(check, verdict, accuracy, "test accuracy", percent)

