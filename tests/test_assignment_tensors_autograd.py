"""tensors_autograd: broken submissions lose exactly the points of what they break.

Each broken submission is the reference solution with a few lines edited at test time.
"""

from __future__ import annotations

import pytest

from grading_cases import assert_loses_exactly, case_grader, message_of

ASSIGNMENT = "tensors_autograd"

# case -> (what is broken, the (old, new) edits of the reference solution that break it,
#          the checks it must fail; every other check must pass)
CASES = {
    "relu_backward_passes_all": (
        "MyReLU.backward lets the gradient through where the input was negative",
        [("grad[x < 0] = 0", "# bug: the gradient passes through where the input was negative")],
        {"my_relu_values", "shifted_relu_product", "gradients_accumulate", "my_relu_gradcheck"}),
    "libsvm_zero_based": (
        "load_libsvm reads the 1-based indices as 0-based",
        [("row[int(index) - 1] = float(value)\n                width = max(width, int(index))\n",
          "row[int(index)] = float(value)  # bug: indices taken as 0-based\n"
          "                width = max(width, int(index) + 1)\n")],
        {"libsvm_loader"}),
    "wavy_gradient_ascent": (
        "minimize_wavy steps along the gradient (uphill), not against it",
        [("    return minimize(wavy, float(start), lr=0.05, steps=500)\n",
          "    x = torch.tensor(float(start), requires_grad=True)\n"
          "    for _ in range(500):\n"
          "        x.grad = None\n"
          "        wavy(x).backward()\n"
          "        with torch.no_grad():\n"
          "            x += 0.05 * x.grad  # bug: + climbs; a descent step subtracts the gradient\n"
          "    return x.detach()\n")],
        {"minimize_wavy"}),
    "two_variables_stops_early": (
        "minimize_two_variables stops after the small steps, before (x, y) settles",
        [("    v = minimize(two_variables, [0.2, 10.0], lr=0.001, steps=300)\n"
          "    return minimize(two_variables, v.tolist(), lr=0.02, steps=700)\n",
          "    return minimize(two_variables, [0.2, 10.0], lr=0.001, steps=300)"
          "  # bug: stops long before it settles\n")],
        {"minimize_two_variables"}),
    "vjp_autograd_grad": (
        "vjp returns torch.autograd.grad's product and leaves x.grad empty",
        [("    y.backward(v)\n    return x.grad.clone()",
          "    (product,) = torch.autograd.grad(y, x, v)\n    return product")],
        {"vjp_backward_v"}),
    "vjp_ignores_v": (
        "vjp backpropagates y.sum(): the product with v = [1, 1, 1] whatever v is",
        [("    y.backward(v)\n", "    y.sum().backward()\n")],
        {"vjp_weighted"}),
    "vjp_graph_freed": (
        "two_vjps does not keep the graph for its second backward pass",
        [("y.backward(v1, retain_graph=True)", "y.backward(v1)")],
        {"two_vjps_retain_graph"}),
    "vjp_no_copy": (
        "two_vjps keeps x.grad itself, which zero_() then empties",
        [("first = x.grad.clone()", "first = x.grad")],
        {"two_vjps_retain_graph"}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return case_grader(ASSIGNMENT, CASES, tmp_path_factory)


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(graded, name):
    assert_loses_exactly(graded(name), CASES[name][2])


def test_wrong_backward_message_names_the_fix(graded):
    message = message_of(graded("relu_backward_passes_all"), "my_relu_gradcheck")
    assert "gradcheck" in message and "negative" in message


def test_uphill_minimiser_is_told_it_went_uphill(graded):
    message = message_of(graded("wavy_gradient_ascent"), "minimize_wavy")
    assert "not lower than at the start" in message and "against the gradient" in message


def test_unsettled_minimiser_is_shown_a_lower_neighbour(graded):
    message = message_of(graded("two_variables_stops_early"), "minimize_two_variables")
    assert "lower nearby" in message and "not a minimum yet" in message


def test_freed_graph_message_says_retain_graph(graded):
    assert "retain_graph" in message_of(graded("vjp_graph_freed"), "two_vjps_retain_graph")
