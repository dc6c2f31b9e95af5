"""Every operation a grading process answers, with its argument names: declared once, here.

``WORKER`` operations run in the submission's own process (the child): it
loads the file, compiles modules into op graphs, and runs what cannot be
compiled (training loops, datasets, file readers). ``EXECUTOR`` operations run
in the grader's own executor process, on graphs it rebuilt itself. The parent
builds every question from these names, and a test checks that each has a
handler taking exactly these arguments.
"""

from __future__ import annotations

WORKER: dict[str, tuple[str, ...]] = {
    "load": ("names",),
    "compile_model": ("model", "input_shape", "batch_sizes", "modes"),
    "call": ("name", "args", "kwargs"),
    "call_function": ("function", "args", "kwargs", "backward", "calls"),
    "gradcheck_function": ("function", "inputs"),
    "dataset_items": ("cls", "args", "indices"),
    "load_text_file": ("function", "text", "filename"),
    "training_scenario": ("scenario", "dataset", "samples", "batch_size", "epochs", "total_epochs", "every",
                          "lr", "scores", "y_true", "y_scores", "data_seed", "model_seed"),
    "fit_and_evaluate": ("function", "args", "kwargs", "inputs"),
}

EXECUTOR: dict[str, tuple[str, ...]] = {
    "install": ("key", "compiled", "limits"),
    "forget": (),                      # between two submissions of a batch: drop every model
    "load_data": (),                   # the training data, for an executor started before it was loaded
    "build": ("model",),
    "forward": ("model", "input", "runs", "trace"),
    "backward": ("model", "input", "weights"),
    "train": ("model", "recipe", "input_shape"),
    "module_runs": ("model", "steps", "attributes", "scale", "shift"),
    "dropout_runs": ("model", "p", "shape", "seeds"),
    "call_graph": ("model", "input", "backward", "calls"),
    "overfit_batch": ("model", "images", "labels", "lr", "max_steps", "check_every"),
    "train_regression": ("model", "recipe", "x_train", "y_train", "x_test"),
    "evaluate_weights": ("model", "weights", "recipe", "input_shape"),   # trained weights handed in: no training
}
