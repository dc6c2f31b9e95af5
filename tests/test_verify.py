"""Every reference solution earns full marks and every stub zero."""

from __future__ import annotations

import pytest

from autograder.commands import verify_kit

TRAINED = ["task1_cnn", "lenet5", "max_conv_net"]      # the assignments with a training check


def test_core_solutions_full_marks_and_stubs_zero(fast_config):
    outcomes = verify_kit(config_path=fast_config, device="cpu", assignment_ids=TRAINED)
    assert {(o.assignment, o.role) for o in outcomes} == {(a, r) for a in TRAINED for r in ("solution", "stub")}
    for o in outcomes:
        r = o.result
        assert o.ok, f"{o.assignment} {o.role}: {r.score}/{r.max_score}: " + "; ".join(
            f"{c.name}: {c.message}" for c in r.checks if not c.passed)
        if o.role == "stub":
            assert r.score == 0 and r.max_score > 0
            # a stub fails because it is not implemented, and says so
            assert any("not implemented" in c.message.lower() for c in r.checks)


@pytest.mark.slow
def test_core_solutions_with_the_real_recipe(real_config):
    outcomes = verify_kit(config_path=real_config, device="cpu", assignment_ids=TRAINED)
    assert all(o.ok for o in outcomes), [(o.assignment, o.role, o.result.score) for o in outcomes]


def test_every_check_says_who_computed_it_and_model_checks_are_the_graders(fast_config):
    """results.json's extra_data.executed_by names every check; every model check is the grader's."""
    from autograder.checks import load_config

    grader_kinds = {"builds", "output_shape", "output_kind", "batch_independence", "parameter_count",
                    "layer_shapes", "uses_ops", "hidden_layers", "backward", "gradient_flow", "dropout_active",
                    "eval_deterministic", "test_accuracy", "overfit_batch", "beats_linear_fit",
                    "matches_torch_module", "dropout_module", "train_eval_modes"}
    config = load_config(fast_config)
    ids = ["task1_cnn", "dropout_batchnorm", "conv_arithmetic", "linear_mlp"]
    for outcome in verify_kit(config_path=fast_config, device="cpu", assignment_ids=ids):
        if outcome.role != "solution":
            continue
        checks = config.assignment(outcome.assignment).checks
        by = outcome.result.extra["executed_by"]
        assert set(by) == {c.name for c in checks}
        for check in checks:
            by_hand = check.kind == "function_value" and check.params["allowed_ops"]
            want = "grader" if check.kind in grader_kinds or by_hand else "submission"
            assert by[check.name] == want, (outcome.assignment, check.name, by[check.name])
