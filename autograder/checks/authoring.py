"""Authoring assignments: every check kind with its keys and one example, and the guide built from them.

``autograder kinds`` lists the kinds from here, and ``docs/authoring.md`` is
written from here (``python -m autograder.checks.authoring``), so the guide says what
the code does: each kind's keys come from its ``Key(...)`` declarations
(default, description, the values it can run), each example below is a check
table that loads as valid grading.toml inside ``SCAFFOLD``, and the tests hold
the committed guide to what this module writes.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings.model import Key

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "authoring.md"

# The assignment each example check sits in: a model trained on MNIST, so that every kind can run in it.
SCAFFOLD_ID = "my_cnn"
SCAFFOLD = f'''[assignments.{SCAFFOLD_ID}]
title = "A small CNN for MNIST"
file = "my_cnn.py"
model = "Net"
model_args = []
input_shape = [1, 28, 28]
num_classes = 10

[assignments.{SCAFFOLD_ID}.training]
dataset = "mnist"
optimizer = "adam"
lr = 0.001
batch_size = 64
max_steps = 1000
stop_at_validation_accuracy = 0.96
'''

# One example per kind: the check's name and the body of its table (its keys, as grading.toml writes them).
EXAMPLES: dict[str, tuple[str, str]] = {
    "builds": ("builds", 'points = 1\nsignature = "Net()"'),
    "output_shape": ("output_shape", "points = 2\nbatch_sizes = [1, 7, 64]"),
    "output_kind": ("log_probabilities", 'kind = "output_kind"\npoints = 2\nexpect = "log_probabilities"'),
    "batch_independence": ("batch_independence", "points = 1\nbatch_size = 8"),
    "parameter_count": ("parameter_count", "points = 2\ncases = [[10], [7]]\nbase = 60856\nper_class = 85"),
    "layer_shapes": ("layer_shapes", 'points = 2\nlayers = ["conv 6x28x28", "pool 6x14x14", "conv 16x10x10", '
                                     '"pool 16x5x5", "conv 120x1x1 | linear 120", "linear 84", "linear 10"]'),
    "uses_ops": ("tanh_and_average_pooling",
                 'kind = "uses_ops"\npoints = 2\nmin_counts = { tanh = 4, avg_pool2d = 2 }\n'
                 'forbidden = ["relu", "max_pool2d"]\nreason = "LeNet-5 uses tanh and 2x2 average pooling"'),
    "hidden_layers": ("structure", 'kind = "hidden_layers"\npoints = 2\nconvolutions = 2\nfully_connected = 2\n'
                                   'activation = "relu"\nmin_dropouts = 1'),
    "backward": ("backward", "points = 1"),
    "gradient_flow": ("gradient_flow", "points = 2"),
    "dropout_active": ("dropout_active", "points = 1"),
    "eval_deterministic": ("eval_deterministic", "points = 1"),
    "test_accuracy": ("training", 'kind = "test_accuracy"\npoints = 5\nmin_test_accuracy = 0.95'),
    "weights_accuracy": ("accuracy", 'kind = "weights_accuracy"\npoints = 9\nweights_file = "model.pt"\n'
                                     'max_weights_mib = 8.0\nmax_parameters = 1000000\nmin_test_accuracy = 0.99'),
    "overfit_batch": ("overfit_batch", "points = 4\nimages = 128\nlr = 0.003\nmax_steps = 200\nmin_accuracy = 1.0"),
    "train_eval_modes": ("dropout_variant", 'kind = "train_eval_modes"\npoints = 2\nmodule = "NetDropout"\n'
                                           "input_shape = [1, 28, 28]\noutputs = 10"),
    "matches_torch_module": ("batchnorm", 'kind = "matches_torch_module"\npoints = 4\nmodule = "MyBatchNorm2d"\n'
                                          'args = [3]\nreference = "BatchNorm2d"\ninput_shape = [8, 3, 5, 5]\n'
                                          'modes = ["train", "train", "eval"]\n'
                                          'attributes = ["running_mean", "running_var"]\n'
                                          'allowed_ops = ["sub", "mul", "div", "add", "mean", "var", "sqrt", '
                                          '"view"]'),
    "dropout_module": ("dropout", 'kind = "dropout_module"\npoints = 4\nmodule = "MyDropout"\n'
                                  "probabilities = [0.3, 0.5]\n"
                                  'allowed_ops = ["rand_like", "lt", "mul", "div", "where"]'),
    "function_value": ("output_size", 'kind = "function_value"\npoints = 1\nfunction = "conv_output_size"\n'
                                      "args = [28, 5]\nexpect = 24\ntolerance = 0\n"
                                      'hint = "use (H - F + 2P) / S + 1 with integer division"'),
    "autograd_gradcheck": ("my_relu", 'kind = "autograd_gradcheck"\npoints = 2\nfunction = "MyReLU.apply"\n'
                                      'input_shapes = [[4, 5]]\nreference = "torch.relu"'),
    "minimizes_objective": ("minimize_quadratic",
                            'kind = "minimizes_objective"\npoints = 1\nfunction = "minimize_quadratic"\n'
                            'args = [0.0]\nobjective = "(x - 2)**2"\nvariables = ["x"]\nstart = [0.0]'),
    "dataset_protocol": ("array_dataset", 'kind = "dataset_protocol"\npoints = 2\ndataset = "ArrayDataset"'),
    "svmlight_matches_sklearn": ("libsvm_loader", 'kind = "svmlight_matches_sklearn"\npoints = 2\n'
                                                  'function = "load_libsvm"'),
    "training_function": ("run_epoch", 'kind = "training_function"\npoints = 3\nscenario = "run_epoch"\n'
                                       'dataset = "moons"\nsamples = 400\nbatch_size = 32\nlr = 0.1'),
    "recovers_coefficients": ("fit_linear", 'kind = "recovers_coefficients"\npoints = 4\nfunction = "fit_linear"\n'
                                            "kwargs = { epochs = 50, lr = 0.05, batch_size = 10 }"),
    "beats_linear_fit": ("mlp_beats_linear", 'kind = "beats_linear_fit"\npoints = 3\nmodel = "MLP"\n'
                                             'model_args = [2]\ntarget = "x1**2 + 14*x2**3"\n'
                                             'variables = ["x1", "x2"]\nmax_mse_ratio = 0.1'),
}


@dataclass(frozen=True)
class KeyInfo:
    name: str
    default: Any
    description: str
    required: bool
    choices: tuple


@dataclass(frozen=True)
class KindInfo:
    """A check kind as an author sees it."""

    name: str
    summary: str
    needs_data: bool           # reads the dataset of the assignment's [training] recipe
    keys: list[KeyInfo]
    example: str               # a check table that loads inside SCAFFOLD


def toml_value(value: Any) -> str:
    """A value as grading.toml writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    return "(unset)"


def _keys(declared: dict[str, Key]) -> list[KeyInfo]:
    return [KeyInfo(name, key.default, key.description, key.required, tuple(key.choices))
            for name, key in declared.items()]


def example_table(kind: str) -> str:
    """The example check of ``kind`` as a grading.toml table (without SCAFFOLD)."""
    name, body = EXAMPLES[kind]
    return f"[assignments.{SCAFFOLD_ID}.checks.{name}]\n{body}\n"


def kind_infos(names: list[str] | None = None) -> list[KindInfo]:
    """Every check kind (or those in ``names``), by name, with its keys and its example."""
    from . import KINDS
    from ..errors import ConfigError

    unknown = [name for name in names or [] if name not in KINDS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], list(KINDS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"unknown check kind '{unknown[0]}'{hint} (`autograder kinds` lists them all)")
    missing = [name for name in KINDS if name not in EXAMPLES]
    if missing:
        raise ConfigError(f"check kind '{missing[0]}' has no example: add one to EXAMPLES in "
                          "autograder/checks/authoring.py")
    return [KindInfo(name, KINDS[name].summary, KINDS[name].needs_data, _keys(KINDS[name].params),
                     example_table(name))
            for name in sorted(KINDS) if not names or name in names]


# ----------------------------------------------------------------- the guide

HOW_TO = f"""# Authoring assignments

This guide is written by `python -m autograder.checks.authoring` from the check kinds'
own declarations (`autograder/checks/`, `autograder/settings/schema.py`) and the
examples in `autograder/checks/authoring.py`; a test fails when it is out of date, so
regenerate it rather than edit it. `autograder kinds` prints the same
reference on the terminal (`autograder kinds output_shape` for one kind).

## Adding an assignment, end to end

1. **The reference solution** goes in `solutions/<id>/<file>`, the file
   students hand in (a `.py`, e.g. `my_cnn.py`). Keep the names the checks
   look for public: the model class (`Net`), the functions and classes each
   check names.
2. **The stub** goes in `assignments/<id>/<file>` with the same names and
   `raise NotImplementedError` (or a TODO that returns nothing) where
   students write code, beside `assignments/<id>/README.md`, which tells
   students what to build.
3. **The assignment's table** in `grading.toml`: what it is and, for a model
   the grader trains, the recipe. The examples below all sit in this one:

```toml
{SCAFFOLD}```

4. **One table per check**, `[assignments.<id>.checks.<name>]`, in the order
   the checks run and are reported. `kind` defaults to the check's name; the
   keys every check has are listed below, and each kind's own keys after
   them. A check's points, thresholds and budgets all live here: the code
   holds none.
5. **Validate**: `autograder list` loads `grading.toml` and names any
   unknown key, unknown kind, unknown dataset or value a kind cannot run,
   with "did you mean" where one is close; nothing is graded with a
   configuration that would fail later.
6. **Try it**: `autograder check <id> solutions/<id>/<file>` must give full
   marks and `autograder check <id> assignments/<id>/<file>` zero;
   `autograder verify <id>` checks both (exit status 0 only then). A training
   check reads MNIST (see the README's Quickstart for where the data comes
   from); without it `check` runs the others and lists it as not run.
7. **Test it**: add a broken submission per check under `tests/broken/<id>/`
   that fails it alone, and a test that grades them (see
   `tests/test_broken_submissions.py`).
8. **Regenerate this guide** when a kind or an example changes:
   `python -m autograder.checks.authoring`.
"""


def _markdown_keys(keys: list[KeyInfo]) -> list[str]:
    lines = ["| key | default | what it means |", "| --- | --- | --- |"]
    for key in keys:
        default = "required" if key.required else f"`{toml_value(key.default)}`"
        choices = f" (one of: {', '.join(f'`{toml_value(c)}`' for c in key.choices)})" if key.choices else ""
        description = (key.description + choices).replace("|", "\\|")
        lines.append(f"| `{key.name}` | {default.replace('|', chr(92) + '|')} | {description} |")
    return lines


def authoring_markdown() -> str:
    """docs/authoring.md, as this version of the kit writes it."""
    from ..settings.schema import ASSIGNMENT_KEYS, COMMON_CHECK_KEYS, TRAINING_KEYS

    lines = [HOW_TO.rstrip(), "", "## Keys of an assignment", "", "`[assignments.<id>]`:", ""]
    lines += _markdown_keys(_keys(ASSIGNMENT_KEYS))
    lines += ["", "`[assignments.<id>.training]`, for a model the grader trains:", ""]
    lines += _markdown_keys(_keys(TRAINING_KEYS))
    lines += ["", "## Keys every check has", ""]
    lines += _markdown_keys(_keys(COMMON_CHECK_KEYS))
    lines += ["", "## Check kinds", ""]
    infos = kind_infos()
    lines += [f"- [`{info.name}`](#{info.name}): {info.summary}" for info in infos]
    for info in infos:
        lines += ["", f"### {info.name}", "", info.summary[:1].upper() + info.summary[1:] + "."]
        if info.needs_data:
            lines += ["", "Reads the dataset of the assignment's `[training]` recipe."]
        lines += [""]
        lines += _markdown_keys(info.keys) if info.keys else ["No keys of its own."]
        lines += ["", "Example:", "", "```toml", info.example.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def write_guide(path: str | Path = GUIDE) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(authoring_markdown(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write_guide(*sys.argv[1:2])}")
