"""Checks on code that reads data: a Dataset class, and a loader of libsvm files.

``dataset_protocol`` builds the submission's Dataset class over arrays and reads
its length and items back; ``svmlight_matches_sklearn`` has the submission's
loader read a generated libsvm file and compares what it returns with
scikit-learn's ``load_svmlight_file`` on the same text, which the parent runs
itself. Both draw their instance when a submission is graded (the arrays'
sizes and values, the file's rows, features and contents; see
``instances.py``), within ranges grading.toml gives, so that no answer can be
written into the file in advance.
"""

from __future__ import annotations

import io
import random

import torch

from ..settings.model import Key
from .base import CheckKind, Question, Verdict, shape_text
from .compare import compare
from .instances import check_bounds, instance_random, integer, seed_from
from .registry import register
from .tensor_specs import materialize, randn


@register
class DatasetProtocol(CheckKind):
    name = "dataset_protocol"
    summary = "a Dataset class over arrays has the right length and returns the right (features, target) pairs"
    params = {
        "dataset": Key("", "the submission's Dataset class", required=True),
        "samples": Key(13, "number of samples (when samples_range is empty)"),
        "features": Key(4, "features per sample (when features_range is empty)"),
        "samples_range": Key([], "[low, high]: the number of samples is drawn in this range each run"),
        "features_range": Key([], "[low, high]: the number of features is drawn in this range each run"),
        "indices": Key([0, 5, -1], "indices always read back (negative ones count from the end)"),
        "random_indices": Key(0, "indices drawn each run and read back as well"),
        "seed": Key(3, "mixed into the seed of the random arrays, which is drawn each run"),
    }

    def validate(self, params):
        for key in ("samples_range", "features_range"):
            if params[key]:
                check_bounds(key, params[key], integers=True)
                if params[key][0] < 1:
                    raise ValueError(f"{key} must start at 1 or more")
        if params["random_indices"] < 0:
            raise ValueError("random_indices cannot be negative")

    def required_names(self, check, assignment):
        return [check.params["dataset"]]

    def _instance(self, check) -> tuple[int, int, list[int], list[dict]]:
        """This run's sample count, feature count, indices read back, and arrays (X, y)."""
        p = check.params
        rng = instance_random(check)
        samples = integer(rng, p["samples_range"]) if p["samples_range"] else p["samples"]
        features = integer(rng, p["features_range"]) if p["features_range"] else p["features"]
        seed = (seed_from(rng) + p["seed"]) % 2**31
        indices = [i % samples for i in p["indices"]]
        indices += [rng.randrange(samples) for _ in range(p["random_indices"])]
        return samples, features, indices, [randn([samples, features], seed), randn([samples], seed + 1)]

    def questions(self, check, assignment):
        p = check.params
        samples, features, indices, arrays = self._instance(check)
        return [Question("dataset_items", {"cls": p["dataset"], "args": arrays, "indices": indices},
                      f"building {p['dataset']}(X, y) with X of shape {shape_text([samples, features])}")]

    def judge(self, check, assignment, answers, context):
        p = check.params
        got = answers[0].value
        samples, features, indices, arrays = self._instance(check)
        X, y = materialize(arrays)
        name = p["dataset"]
        if got["length"] != samples:
            return Verdict(False, f"len({name}(X, y)) is {got['length']} for X of shape "
                                  f"{shape_text([samples, features])}; expected {samples} (one per row of X): "
                                  "check __len__")
        for i, (features_got, target) in zip(indices, got["items"]):
            for value, want, what in ((features_got, X[i], "features"), (target, y[i], "target")):
                problem = compare(value, want, 1e-6, f"the {what} of {name}(X, y)[{i}]")
                if problem:
                    return Verdict(False, f"{problem}: __getitem__(i) must return (X[i], y[i])")
        return Verdict(True, f"len() is {samples} for X of shape {shape_text([samples, features])} and items "
                             f"{indices} are (X[i], y[i])")


@register
class SvmlightMatchesSklearn(CheckKind):
    name = "svmlight_matches_sklearn"
    summary = "a libsvm-format loader reads a generated file exactly as scikit-learn's load_svmlight_file"
    params = {
        "function": Key("", "the submission's loader, called with the file's path", required=True),
        "rows": Key(12, "rows in the generated file (when rows_range is empty)"),
        "features": Key(6, "number of features, indices 1..features (when features_range is empty)"),
        "rows_range": Key([], "[low, high]: the number of rows is drawn in this range each run"),
        "features_range": Key([], "[low, high]: the number of features is drawn in this range each run"),
        "density": Key(0.5, "chance that a feature is written on a row"),
        "seed": Key(11, "mixed into the seed of the generated file, which is drawn each run"),
        "tolerance": Key(1e-5, "largest absolute difference allowed"),
    }

    def validate(self, params):
        for key in ("rows_range", "features_range"):
            if params[key]:
                check_bounds(key, params[key], integers=True)
                if params[key][0] < 1:
                    raise ValueError(f"{key} must start at 1 or more")

    def required_names(self, check, assignment):
        return [check.params["function"]]

    def _instance(self, check) -> tuple[int, int, str]:
        """This run's row count, feature count and file text. The first row always names the last
        feature, so the widest index is the feature count."""
        p = check.params
        draw = instance_random(check)
        rows = integer(draw, p["rows_range"]) if p["rows_range"] else p["rows"]
        features = integer(draw, p["features_range"]) if p["features_range"] else p["features"]
        rng = random.Random((seed_from(draw) + p["seed"]) % 2**31)
        lines = []
        for row in range(rows):
            label = rng.choice([-1, 1])
            cols = [j for j in range(1, features + 1) if rng.random() < p["density"] or
                    (row == 0 and j == features)]
            pairs = " ".join(f"{j}:{rng.uniform(-5, 5):.4f}" for j in cols)
            lines.append(f"{label} {pairs}".rstrip())
        return rows, features, "\n".join(lines) + "\n"

    def questions(self, check, assignment):
        rows, features, text = self._instance(check)
        return [Question("load_text_file", {"function": check.params["function"], "text": text,
                                          "filename": "data.libsvm"},
                      f"calling {check.params['function']}(path) on a {rows}-row libsvm file with {features} "
                      "features")]

    def judge(self, check, assignment, answers, context):
        from sklearn.datasets import load_svmlight_file

        p = check.params
        got = answers[0].value
        rows, features, text = self._instance(check)
        X, y = load_svmlight_file(io.BytesIO(text.encode()), n_features=features)
        name = p["function"]
        if not isinstance(got, list) or len(got) != 2:
            return Verdict(False, f"{name}(path) must return a pair (X, y); it returned {str(got)[:60]}")
        problem = compare(got[0], torch.from_numpy(X.toarray()), p["tolerance"], f"the X returned by {name}")
        if not problem:
            problem = compare(got[1], torch.from_numpy(y), p["tolerance"], f"the y returned by {name}")
        if problem:
            return Verdict(False, f"{problem} (on a {rows}-row file whose largest index is {features}): indices "
                                  "in the file start at 1 and name column index-1; the widest index gives the "
                                  "number of columns; features a row leaves out are 0")
        return Verdict(True, f"{name} reads X {shape_text(X.shape)} and y exactly as load_svmlight_file")
