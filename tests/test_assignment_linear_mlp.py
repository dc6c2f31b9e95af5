"""linear_mlp: broken submissions lose exactly the points of what they break.

Each broken submission is the reference solution with a few lines edited at test time.
"""

from __future__ import annotations

import pytest

from grading_cases import assert_loses_exactly, case_grader, message_of

ASSIGNMENT = "linear_mlp"


def _recorded_coefficients() -> list[float]:
    """The coefficients of the data earlier versions of the kit always handed fit_linear (random_state 0)."""
    from sklearn.datasets import make_regression

    _, _, coef = make_regression(n_samples=100, n_features=10, n_informative=3, noise=0.0, coef=True,
                                 random_state=0)
    return coef.tolist()


# case -> (what is broken, the (old, new) edits of the reference solution that break it,
#          the checks it must fail; every other check must pass)
CASES = {
    "no_zero_grad": (
        "gd_step never zeroes the gradients",
        [("    for p in (w, b):\n        if p.grad is not None:\n            p.grad.zero_()\n",
          "    # bug: gradients are never zeroed\n")],
        {"gd_step_zeroes_gradients"}),
    "lm_without_bias": (
        "LM has no bias",
        [("self.linear = nn.Linear(n_inputs, 1)\n",
          "self.linear = nn.Linear(n_inputs, 1, bias=False)  # bug: no bias\n")],
        {"parameter_count"}),
    "fit_target_broadcast": (
        "fit_linear compares predictions (N, 1) with targets (N,), so the loss broadcasts to (N, N) "
        "and the model learns only the mean of y",
        [("targets = y.view(-1, 1)                              # (N,) -> (N, 1), the shape of the predictions",
          "targets = y                                          # bug: (N,), while the predictions are (N, 1)")],
        {"fit_linear_coefficients"}),
    "mlp_without_relu": (
        "MLP has no ReLU between its layers, so it is one linear map",
        [("self.layers = nn.Sequential(nn.Linear(n_inputs, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(),\n"
          "                                    nn.Linear(32, 1))",
          "self.layers = nn.Sequential(nn.Linear(n_inputs, 64), nn.Linear(64, 32), nn.Linear(32, 1))"
          "  # bug: no ReLU")],
        {"mlp_layers", "mlp_beats_linear"}),
    # collapse_linear_weight cannot fail alone: the bias check compares the weight too
    "collapse_transposed": (
        "collapse_linear multiplies the weights in the wrong order (W1^T W2^T, the transpose of W2 W1)",
        [("return w2 @ w1, w2 @ b1 + b2", "return w1.t() @ w2.t(), w2 @ b1 + b2")],
        {"collapse_linear_weight", "collapse_linear_bias"}),
    "collapse_drops_first_bias": (
        "collapse_linear keeps only the second layer's bias",
        [("return w2 @ w1, w2 @ b1 + b2", "return w2 @ w1, b2")],
        {"collapse_linear_bias"}),
    "fit_replays_coefficients": (
        "fit_linear trains nothing and returns LM with the coefficients of an earlier run's data written in",
        [("    optimizer = torch.optim.SGD(model.parameters(), lr=lr)\n"
          "    targets = y.view(-1, 1)",
          f"    with torch.no_grad():  # an earlier run's answer\n"
          f"        model.linear.weight.copy_(torch.tensor([{_recorded_coefficients()}]))\n"
          f"        model.linear.bias.zero_()\n"
          f"    return model\n"
          f"    optimizer = torch.optim.SGD(model.parameters(), lr=lr)\n"
          f"    targets = y.view(-1, 1)")],
        {"fit_linear_coefficients"}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return case_grader(ASSIGNMENT, CASES, tmp_path_factory)


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(graded, name):
    assert_loses_exactly(graded(name), CASES[name][2])


def test_missing_zero_grad_message_names_the_fix(graded):
    message = message_of(graded("no_zero_grad"), "gd_step_zeroes_gradients")
    assert "zero w.grad" in message and "argument 1" in message


def test_wrong_coefficients_message_names_feature_and_fix(graded):
    message = message_of(graded("fit_target_broadcast"), "fit_linear_coefficients")
    assert "coefficient of feature" in message and "made with" in message and "(N, N)" in message


def test_linear_mlp_message_compares_with_the_linear_fit(graded):
    message = message_of(graded("mlp_without_relu"), "mlp_beats_linear")
    assert "best linear fit" in message and "ReLU" in message
