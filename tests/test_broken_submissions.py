"""Each check of task1_cnn and lenet5 is failed, alone where possible, by a small broken submission.

All fixtures of one assignment are graded in one batch (two at a time); the
assertions then look at each result. Where a bug cannot fail one check alone,
the exact set it fails is asserted and the reason is given beside it.
"""

from __future__ import annotations

import json

import pytest

from autograder.commands import grade_submissions
from autograder.checks import load_config

from conftest import BROKEN

ALL = "ALL"

# fixture name -> the exact set of checks it must fail (empty: full marks)
EXPECTED = {
    "task1_cnn": {
        "wrong_output_size": {"output_shape"},
        "softmax_output": {"log_probabilities"},
        "batch_mixing": {"batch_independence"},
        "tanh_activation": {"structure"},
        # backward is where the in-place op breaks; the gradient question and training need backward too
        "inplace_backward": {"backward", "gradient_flow", "training"},
        "unused_layer": {"gradient_flow"},
        # F.dropout(training=False) is no dropout in the training graph: 1 of the 2 the README asks for
        "dropout_never_on": {"dropout_active", "structure"},
        "dropout_probability_zero": {"dropout_active"},
        "dropout_always_on": {"eval_deterministic"},
        "ignores_input": {"training"},
        # no parameters: nothing to build, structure, backpropagate or train; shapes and outputs are fine
        "no_parameters": {"builds", "convolutional", "structure", "backward", "gradient_flow", "dropout_active",
                          "training"},
        "wrong_class_name": ALL,
        # not the assignment's network: it learns MNIST, but the training check counts only for a CNN
        "logistic_regression": {"convolutional", "structure", "dropout_active", "training"},
        "other_channels": set(),
        "script_style": set(),
    },
    "lenet5": {
        "squeezed_output": {"output_shape"},
        # a hard-coded 10 also gives LeNet5(7) the parameters of LeNet5(10)
        "ignores_n_classes": {"n_classes", "parameter_count"},
        "batch_mixing": {"batch_independence"},
        "no_conv1_bias": {"parameter_count"},
        "wrong_layer_shape": {"layer_shapes"},
        "max_pooling": {"tanh_and_average_pooling"},
        "relu": {"tanh_and_average_pooling"},
        "inplace_backward": {"backward", "gradient_flow", "training"},
        "unused_bias": {"gradient_flow"},
        "dropout_in_eval": {"eval_deterministic"},
        "ignores_input": {"training"},
        "no_parameters": {"builds", "parameter_count", "layer_shapes", "tanh_and_average_pooling",
                          "activation_right_after_each_layer", "backward", "gradient_flow", "training"},
        "wrong_class_name": ALL,
        "linear_instead_of_conv3": set(),
        "tanh_after_pooling": {"activation_right_after_each_layer"},
        "one_pixel_pooling": {"layer_shapes"},
    },
}

CASES = [(a, name) for a, names in EXPECTED.items() for name in names]


@pytest.fixture(scope="module")
def graded(fast_config, tmp_path_factory):
    """Grade every fixture of each assignment in one batch; results by (assignment, name)."""
    out = tmp_path_factory.mktemp("graded")
    results = {}
    for assignment, names in EXPECTED.items():
        paths = [BROKEN / assignment / f"{name}.py" for name in names]
        for result in grade_submissions(assignment_id=assignment, submissions=paths, out_dir=out / assignment,
                                        config_path=fast_config, device="cpu", jobs=2):
            results[(assignment, result.name)] = result
    return results, out


def test_every_check_has_a_fixture_failing_only_it(fast_config):
    config = load_config(fast_config)
    for assignment, cases in EXPECTED.items():
        checks = config.assignment(assignment).checks
        # a check that another requires fails together with it: alone means with its dependants only
        dependants = {c.name: {d.name for d in checks if c.name in d.requires} for c in checks}
        alone = {name for s in cases.values() if s != ALL
                 for name in s if s - {name} <= dependants[name]}
        names = [c.name for c in checks]
        # builds cannot fail alone: a model without parameters has nothing to backpropagate;
        # backward cannot either: the gradient check and training run backward() too;
        # n_classes cannot either: parameter_count also builds the model with 7 classes;
        # convolutional cannot either: structure counts the same layers
        missing = set(names) - alone - {"builds", "backward", "n_classes", "convolutional"}
        assert not missing, f"{assignment}: no fixture fails only {sorted(missing)}"
        for name in cases:
            assert (BROKEN / assignment / f"{name}.py").is_file()


@pytest.mark.parametrize("assignment,name", CASES, ids=[f"{a}-{n}" for a, n in CASES])
def test_fixture_fails_exactly(graded, fast_config, assignment, name):
    results, out = graded
    result = results[(assignment, name)]
    checks = load_config(fast_config).assignment(assignment).checks
    want = {c.name for c in checks} if EXPECTED[assignment][name] == ALL else EXPECTED[assignment][name]
    failed = {c.name for c in result.checks if not c.passed}
    messages = "\n".join(f"{c.name}: {c.message}" for c in result.checks if not c.passed)
    assert failed == want, messages
    lost = sum(c.points for c in checks if c.name in want)
    assert result.score == pytest.approx(result.max_score - lost)
    report = json.loads((out / assignment / name / "results.json").read_text())
    assert report["score"] == pytest.approx(result.score)
    for check in result.checks:
        if not check.passed:
            assert check.message.strip(), f"{check.name} failed without saying why"


def test_wrong_class_name_is_reported_as_such(graded):
    results, _ = graded
    for assignment, cls in (("task1_cnn", "Net"), ("lenet5", "LeNet5")):
        builds = next(c for c in results[(assignment, "wrong_class_name")].checks if c.name == "builds")
        assert f"defines no '{cls}'" in builds.message, builds.message


def test_messages_name_the_bug(graded):
    results, _ = graded

    def message(assignment, name, check):
        return next(c.message for c in results[(assignment, name)].checks if c.name == check)

    assert "log_softmax" in message("task1_cnn", "softmax_output", "log_probabilities")
    assert "in-place" in message("lenet5", "inplace_backward", "backward")
    assert "max_pool2d" in message("lenet5", "max_pooling", "tanh_and_average_pooling")
    assert "relu" in message("lenet5", "relu", "tanh_and_average_pooling")
    assert "conv1_bias" in message("lenet5", "unused_bias", "gradient_flow")
    assert "fc3" in message("task1_cnn", "unused_layer", "gradient_flow")


def test_script_style_is_graded_quickly(graded):
    results, _ = graded
    result = results[("task1_cnn", "script_style")]
    assert any("not run" in note for note in result.notes), result.notes
    assert result.seconds < 240


def test_a_logistic_regression_earns_at_most_half_of_the_cnn_assignment(graded):
    result = graded[0][("task1_cnn", "logistic_regression")]
    assert result.score <= result.max_score / 2
    training = next(c for c in result.checks if c.name == "training")
    assert training.message.startswith("not counted: this check needs 'convolutional'"), training.message
