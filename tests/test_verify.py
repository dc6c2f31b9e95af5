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
