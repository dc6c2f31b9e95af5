"""The check that a model can overfit one small batch.

``overfit_batch`` has the executor train the compiled model, from PyTorch's
default initialisation, with Adam on a few hundred fixed images (real CIFAR-10
when the data folder has it, synthetic ones otherwise) and send back its
predictions; the parent loads the same labels itself and counts how many
images the model classifies correctly. A check that sets
``partial_credit_from`` earns part of the points for an accuracy below
``min_accuracy`` (the kind's ``pass_mark``).
"""

from __future__ import annotations

import torch

from ..settings.model import Key
from .base import TRAIN, CheckKind, Question, Verdict, call_text, model_spec
from .registry import register
from .tensor_specs import cifar_folder, image_batch


@register
class OverfitBatch(CheckKind):
    name = "overfit_batch"
    summary = "the model can fit a small fixed batch perfectly within a step budget"
    params = {
        "images": Key(256, "images in the batch"),
        "lr": Key(0.003, "Adam learning rate"),
        "max_steps": Key(300, "optimizer steps allowed (full batch each)"),
        "check_every": Key(10, "steps between two accuracy measurements"),
        "min_accuracy": Key(1.0, "training accuracy needed on the batch (full points)"),
        "data_seed": Key(11, "seed of the synthetic images"),
        "signal": Key(0.3, "synthetic images: class template times this, plus unit noise"),
    }
    pass_mark = "min_accuracy"

    def questions(self, check, assignment):
        p = check.params
        batch = image_batch(p["images"], assignment.num_classes, assignment.input_shape, p["data_seed"], p["signal"])
        # The grader's executor trains the compiled model from PyTorch's default initialisation.
        return [Question("overfit_batch", {
            "model": model_spec(assignment), "images": {**batch, "part": "images"},
            "labels": {**batch, "part": "labels"}, "lr": p["lr"], "max_steps": p["max_steps"],
            "check_every": p["check_every"],
        }, f"training {call_text(assignment)} on {p['images']} fixed images", limit=TRAIN)]

    def judge(self, check, assignment, answers, context):
        from ..wire.fixtures import cifar_images, synthetic_images

        p = check.params
        got = answers[0].value
        folder = cifar_folder(context.data_dir)
        got["source"] = "cifar10" if folder else "synthetic"
        if folder:
            _, labels = cifar_images(folder, p["images"])
        else:
            _, labels = synthetic_images(p["images"], assignment.num_classes, assignment.input_shape,
                                         p["data_seed"], p["signal"])
        predictions = got["predictions"]
        if not isinstance(predictions, torch.Tensor) or predictions.shape != labels.shape:
            return Verdict(False, "the training run returned no prediction for each image")
        accuracy = (predictions.long() == labels).double().mean().item()
        source = "CIFAR-10" if got["source"] == "cifar10" else "synthetic"
        text = (f"{accuracy:.1%} of {p['images']} {source} images right after {got['steps']} Adam steps "
                f"({got['seconds']:.1f} s)")
        details = {"accuracy": round(accuracy, 4), "steps": got["steps"], "source": got["source"]}
        if accuracy >= p["min_accuracy"]:
            return Verdict(True, text, details)
        last_loss = got["history"][-1][2] if got["history"] else None
        hint = ("the loss became NaN" if got["history"] and last_loss is None else
                "a network that trains should memorise a batch this small: check that every layer is "
                "connected in forward() and that nothing is frozen or detached")
        verdict = Verdict(False, f"{text}; needed {p['min_accuracy']:.0%}: {hint}", details)
        return self.scored(check, verdict, accuracy, "batch accuracy", lambda v: f"{round(v * 100, 1):g}%",
                           f"{text}: {hint}")
