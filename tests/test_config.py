"""grading.toml: defaults filled in, unknown keys and wrong types named, unknown kinds rejected."""

from __future__ import annotations

import pytest

from autograder.checks import KINDS
from autograder.settings.schema import COMMON_CHECK_KEYS, LIMIT_KEYS, TRAINING_KEYS
from autograder.checks import load_config
from autograder.errors import ConfigError

from conftest import ROOT, write_config

MINIMAL = """
[assignments.tiny]
title = "Tiny"
file = "tiny.py"
model = "Net"

[assignments.tiny.checks.builds]
"""


def test_real_config_loads_both_core_assignments():
    config = load_config(ROOT / "grading.toml")
    lenet = config.assignment("lenet5")
    assert lenet.max_score == 20
    assert [c.name for c in lenet.checks][:2] == ["builds", "output_shape"]
    training = next(c for c in lenet.checks if c.name == "training")
    assert training.kind == "test_accuracy" and training.params["min_test_accuracy"] == 0.95
    assert config.assignment("task1_cnn").max_score == 20


def test_defaults_are_filled_in(tmp_path):
    config = load_config(write_config(tmp_path, MINIMAL))
    tiny = config.assignment("tiny")
    assert tiny.limits.load_seconds == LIMIT_KEYS["load_seconds"].default
    assert config.kit.seed == 0 and config.kit.device == "auto"
    (check,) = tiny.checks
    assert check.kind == "builds" and check.points == 1.0 and check.visibility == "visible"
    assert check.description  # the kind's summary
    assert check.params == {"signature": ""}


def test_training_defaults_and_limit_override(tmp_path):
    text = MINIMAL + '[assignments.tiny.training]\nlr = 1\n[assignments.tiny.limits]\nstep_seconds = 5\n'
    tiny = load_config(write_config(tmp_path, text)).assignment("tiny")
    assert tiny.training.lr == 1.0 and isinstance(tiny.training.lr, float)
    assert tiny.training.batch_size == TRAINING_KEYS["batch_size"].default
    assert tiny.limits.step_seconds == 5.0 and tiny.limits.train_watchdog_seconds == 1800.0


def test_unknown_check_param_names_the_key_with_a_hint(tmp_path):
    text = (ROOT / "grading.toml").read_text().replace("min_test_accuracy = 0.95", "min_acuracy = 0.95")
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, text))
    message = str(err.value)
    assert "assignments.lenet5.checks.training.min_acuracy" in message
    assert "did you mean 'min_test_accuracy'" in message


def test_unknown_top_level_key(tmp_path):
    with pytest.raises(ConfigError, match="kit.sed.*did you mean 'seed'"):
        load_config(write_config(tmp_path, "[kit]\nsed = 1\n" + MINIMAL))


def test_wrong_type_is_named(tmp_path):
    text = MINIMAL + 'points = "two"\n'
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, text))
    assert "assignments.tiny.checks.builds.points" in str(err.value) and "'two'" in str(err.value)


def test_bool_is_not_a_number(tmp_path):
    with pytest.raises(ConfigError, match="seed"):
        load_config(write_config(tmp_path, "[kit]\nseed = true\n" + MINIMAL))


def test_unknown_check_kind(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, MINIMAL + 'kind = "output_shap"\n'))
    assert "unknown check kind 'output_shap'" in str(err.value)
    assert "did you mean 'output_shape'" in str(err.value)


def test_missing_required_key_and_bad_visibility(tmp_path):
    with pytest.raises(ConfigError, match="'assignments.tiny.file' is required"):
        load_config(write_config(tmp_path, MINIMAL.replace('file = "tiny.py"\n', "")))
    with pytest.raises(ConfigError, match="visibility"):
        load_config(write_config(tmp_path, MINIMAL + 'visibility = "secret"\n'))


def test_unknown_assignment_lists_the_known_ones(tmp_path):
    config = load_config(write_config(tmp_path, MINIMAL))
    with pytest.raises(ConfigError, match="unknown assignment 'lenet6'.*tiny"):
        config.assignment("lenet6")


def test_broken_toml_syntax(tmp_path):
    with pytest.raises(ConfigError):
        load_config(write_config(tmp_path, "[kit\n"))


def test_description_replaces_the_kinds_summary(tmp_path):
    text = MINIMAL + 'description = "Net() builds with its layers"\n'
    (check,) = load_config(write_config(tmp_path, text)).assignment("tiny").checks
    assert "description" in COMMON_CHECK_KEYS
    assert check.description == "Net() builds with its layers"


# Kinds that call a student's function: the kind's summary says too little, so each check says what it asks.
FUNCTION_MODULES = ("autograder.checks.functions", "autograder.checks.data_code", "autograder.checks.optimisation",
                    "autograder.checks.regression")


def test_every_function_check_has_its_own_description():
    config = load_config(ROOT / "grading.toml")
    generic = []
    for assignment in config.assignments.values():
        for check in assignment.checks:
            kind = KINDS[check.kind]
            if type(kind).__module__ in FUNCTION_MODULES and check.description == kind.summary:
                generic.append(f"{assignment.id}.{check.name}")
    assert not generic, f"give these checks a description in grading.toml: {generic}"


FORMULA_CHECK = """
[assignments.tiny]
title = "Tiny"
file = "tiny.py"

[assignments.tiny.checks.minimum]
kind = "minimizes_objective"
function = "minimize"
objective = "{objective}"
variables = ["x"]
start = {start}
"""


@pytest.mark.parametrize("objective, start, words", [
    ("(x - 2)**2 + open(x)", "[0.0]", "only the functions"),
    ("(x - z)**2", "[0.0]", "unknown name 'z'"),
    ("(x - 2)**2", "[0.0, 1.0]", "start has 2 numbers for 1 variables"),
], ids=["function", "name", "start"])
def test_a_check_kind_rejects_parameters_that_do_not_fit(tmp_path, objective, start, words):
    text = FORMULA_CHECK.format(objective=objective, start=start)
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, text))
    assert "assignments.tiny.checks.minimum" in str(err.value) and words in str(err.value)


def test_reference_must_be_a_trusted_library(tmp_path):
    text = MINIMAL.replace('model = "Net"\n', "") + 'kind = "function_value"\nfunction = "f"\nreference = "os.system"\n'
    with pytest.raises(ConfigError, match="must be a function of torch or sklearn"):
        load_config(write_config(tmp_path, text))


def test_default_descriptions_quote_the_numbers_in_grading_toml():
    lenet = load_config(ROOT / "grading.toml").assignment("lenet5")
    described = {check.name: check.description for check in lenet.checks}
    assert "61,706" in described["parameter_count"] and "85 per class" in described["parameter_count"]
    assert "95%" in described["training"] and "3,000 Adam steps" in described["training"]
    assert "pool 16x5x5" in described["layer_shapes"]
    assert "batches of 1, 7, 64" in described["output_shape"]


def test_a_changed_threshold_changes_the_description(tmp_path):
    text = MINIMAL + ('[assignments.tiny.checks.training]\nkind = "test_accuracy"\nmin_test_accuracy = 0.875\n'
                      '[assignments.tiny.training]\nmax_steps = 1234\noptimizer = "sgd"\n')
    training = load_config(write_config(tmp_path, text)).assignment("tiny").checks[-1]
    assert "87.5%" in training.description and "1,234 SGD steps" in training.description


def test_the_kit_type_and_the_kit_table_name_the_same_keys():
    from dataclasses import fields

    from autograder.settings.model import Kit
    from autograder.settings.schema import KIT_KEYS

    assert [f.name for f in fields(Kit)] == list(KIT_KEYS)


def test_the_recipe_type_and_the_training_table_name_the_same_keys():
    from dataclasses import fields

    from autograder.settings.model import Recipe
    from autograder.settings.schema import TRAINING_KEYS

    assert [f.name for f in fields(Recipe)] == list(TRAINING_KEYS)


def test_layer_order_keys_are_checked_on_load(tmp_path):
    shapes = MINIMAL.replace("[assignments.tiny.checks.builds]\n", "[assignments.tiny.checks.layer_shapes]\n")
    with pytest.raises(ConfigError, match="pool_window should be a whole number"):
        load_config(write_config(tmp_path, shapes + "pool_window = -2\n"))
    hidden = MINIMAL.replace("[assignments.tiny.checks.builds]\n", "[assignments.tiny.checks.hidden_layers]\n")
    with pytest.raises(ConfigError, match="activation_right_after needs an activation"):
        load_config(write_config(tmp_path, hidden + 'activation = ""\nactivation_right_after = true\n'))
    check = load_config(write_config(tmp_path, shapes + 'pool_window = 2\nlayers = ["pool 1x14x14"]\n')
                        ).assignment("tiny").checks[0]
    assert KINDS["layer_shapes"].describe(check, None).endswith("pool 1x14x14, each pooling over 2x2 windows")
