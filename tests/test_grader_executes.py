"""Submissions that try to forge the facts a score rests on, graded end to end.

Each file in tests/forged/ attacks the old boundary, where the child measured
its own model: it replaces the handlers of its process, runs decoy layers,
branches on values, hides NaN, or calls ops the grader does not run. Every
model check is now computed by the grader's executor on the compiled graph, so
none of these earns a point it should not. The training check is left out of
this batch to keep it quick; the executor's own tests cover what it trains.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autograder.commands import grade_submissions

ROOT = Path(__file__).resolve().parents[1]
FORGED = Path(__file__).resolve().parent / "forged"
REFERENCE = ROOT / "solutions" / "task1_cnn" / "task1_cnn.py"
MODEL_CHECKS = ["builds", "output_shape", "log_probabilities", "batch_independence", "convolutional", "structure",
                "backward", "gradient_flow", "dropout_active", "eval_deterministic"]


def config_without_training(folder: Path) -> Path:
    text = (ROOT / "grading.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[assignments\.task1_cnn\.checks\.(training|accuracy_bonus)\]\n(?:[^\[\n].*\n)*", "", text)
    assert "task1_cnn.checks.training]" not in text
    for sub in ("solutions", "assignments"):
        (folder / sub).symlink_to(ROOT / sub, target_is_directory=True)
    path = folder / "grading.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forged")
    config = config_without_training(folder)
    files = [REFERENCE] + sorted(FORGED.glob("*.py"))
    results = grade_submissions(assignment_id="task1_cnn", submissions=files, out_dir=folder / "out",
                                config_path=config, device="cpu", jobs=2)
    return {r.name: r for r in results}


def passed(result) -> set[str]:
    return {c.name for c in result.checks if c.passed}


def message(result, check: str) -> str:
    return next(c.message for c in result.checks if c.name == check)


def test_the_reference_passes_every_model_check_and_the_grader_computed_each(graded):
    reference = graded["task1_cnn"]
    assert passed(reference) == set(MODEL_CHECKS)
    assert reference.extra["executed_by"] == {name: "grader" for name in MODEL_CHECKS}


def test_replacing_the_processs_handlers_earns_only_what_its_real_graph_earns(graded):
    result = graded["replace_handlers"]
    assert re.search(r"replaced [1-9]\d* handlers", result.output), result.output   # the attack ran
    # a one-weight model is a valid module of the right shape, and nothing more
    assert passed(result) <= {"builds", "output_shape", "log_probabilities", "batch_independence", "backward",
                              "eval_deterministic"}
    for check in ("convolutional", "structure", "gradient_flow", "dropout_active"):
        assert check not in passed(result)


def test_decoy_layers_thrown_away_do_not_count_as_structure_or_dropout(graded):
    result = graded["decoy_layers"]
    assert "structure" not in passed(result) and "convolutional" not in passed(result)
    assert "dropout_active" not in passed(result)
    assert "0 convolution" in message(result, "structure")
    # the logistic regression it really is still gets the checks any model gets
    assert {"builds", "output_shape", "log_probabilities"} <= passed(result)


def test_branching_on_a_tensor_value_fails_the_model_checks_naming_the_line(graded):
    result = graded["value_branch"]
    assert passed(result) == set()
    text = message(result, "output_shape")
    assert "values of a tensor" in text and "line 14" in text, text


def test_nan_outputs_in_training_mode_are_a_different_network_and_fail_every_model_check(graded):
    """NaN multiplied in only when self.training holds: the eval graph is not the train graph, so the
    one-network rule refuses the model before dropout_active (which also fails on non-finite outputs)."""
    result = graded["nan_dropout"]
    assert passed(result) == set()
    text = message(result, "dropout_active")
    assert "different network in eval mode" in text and "line 21" in text, text


def test_an_op_outside_the_allow_list_is_named_and_nothing_runs(graded):
    result = graded["forbidden_op"]
    assert passed(result) == set()
    assert "aten.linalg_qr" in message(result, "output_shape") and "line 14" in message(result, "output_shape")
