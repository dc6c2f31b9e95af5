"""tensors_autograd: broken submissions lose exactly the points of what they break.

Each broken submission is the reference solution with a few lines edited at test time.
"""

from __future__ import annotations

import dataclasses

import pytest

from autograder.checks import KINDS
from autograder.checks.tensor_specs import materialize
from autograder.checks import load_config
from grading_cases import ROOT, assert_loses_exactly, case_grader, message_of

ASSIGNMENT = "tensors_autograd"


def _earlier_run(check_name: str):
    """A check of this assignment as an earlier grading run (another draw) posed it, with its kind."""
    check = next(c for c in load_config(ROOT / "grading.toml").assignment(ASSIGNMENT).checks if c.name == check_name)
    return dataclasses.replace(check, draw=20240501), KINDS[check.kind]


def _replayed_answers() -> list[tuple[str, str]]:
    """Edits that make every check run in the submission's own process answer from a record: the
    problems an earlier run posed (its gradcheck input, its arrays, its libsvm file) and the
    exercise's known minima, written into the file as constants."""
    check, kind = _earlier_run("my_relu_gradcheck")
    (recorded_input,) = materialize(kind._inputs(check))
    mask = (recorded_input > 0).double().tolist()
    check, kind = _earlier_run("array_dataset")
    _, _, _, arrays = kind._instance(check)
    recorded_x, recorded_y = (a.tolist() for a in materialize(arrays))
    check, kind = _earlier_run("libsvm_loader")
    _, _, recorded_text = kind._instance(check)
    return [
        ("class MyReLU(torch.autograd.Function):",
         f"RECORDED_MASK = {mask}\nRECORDED_X = {recorded_x}\nRECORDED_Y = {recorded_y}\n"
         f"RECORDED_TEXT = {recorded_text!r}\n\n\nclass MyReLU(torch.autograd.Function):"),
        ("        grad[x < 0] = 0\n",
         "        if grad.dim() == 2:  # the signs of the input an earlier gradcheck used\n"
         "            return grad_output * torch.tensor(RECORDED_MASK, dtype=grad_output.dtype)\n"
         "        grad[x < 0] = 0\n"),
        ("    return minimize(lambda x: quadratic(x, target), float(start), lr=0.1, steps=200)\n",
         "    return 2.0  # the exercise's minimum\n"),
        ("    return minimize(lambda x: wavy(x, a), float(start), lr=0.05, steps=500)\n",
         "    return 1.0635  # the minimum reached from 0 when a = 2\n"),
        ("    v = minimize(objective, [float(s) for s in start], lr=0.001, steps=300)\n"
         "    return minimize(objective, v.tolist(), lr=0.02, steps=700)\n",
         "    return [math.pi, math.pi + 2 ** (-1 / 6)]  # a minimum of the exercise's function\n"),
        ("        return len(self.X)\n", "        return len(RECORDED_X)\n"),
        ("        return self.X[index], self.y[index]\n",
         "        return torch.tensor(RECORDED_X[index]), torch.tensor(RECORDED_Y[index])\n"),
        ("    rows, labels, width = [], [], 0\n",
         "    import tempfile\n"
         "    with tempfile.NamedTemporaryFile('w', suffix='.libsvm', delete=False) as recorded:\n"
         "        recorded.write(RECORDED_TEXT)  # the file an earlier run handed in\n"
         "    path = recorded.name\n"
         "    rows, labels, width = [], [], 0\n"),
    ]


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
        [("    return minimize(lambda x: wavy(x, a), float(start), lr=0.05, steps=500)\n",
          "    x = torch.tensor(float(start), requires_grad=True)\n"
          "    for _ in range(500):\n"
          "        x.grad = None\n"
          "        wavy(x, a).backward()\n"
          "        with torch.no_grad():\n"
          "            x += 0.05 * x.grad  # bug: + climbs; a descent step subtracts the gradient\n"
          "    return x.detach()\n")],
        {"minimize_wavy"}),
    "two_variables_stops_early": (
        "minimize_two_variables stops after the small steps, before (x, y) settles",
        [("    v = minimize(objective, [float(s) for s in start], lr=0.001, steps=300)\n"
          "    return minimize(objective, v.tolist(), lr=0.02, steps=700)\n",
          "    return minimize(objective, [float(s) for s in start], lr=0.001, steps=300)"
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
    "wavy_ignores_a": (
        "minimize_wavy always minimises the exercise's function (a = 2), whatever a it is given",
        [("    return minimize(lambda x: wavy(x, a), float(start), lr=0.05, steps=500)\n",
          "    return minimize(wavy, float(start), lr=0.05, steps=500)  # bug: a is ignored\n")],
        {"minimize_wavy"}),
    "replayed_answers": (
        "every check that runs in the submission's process answered from a record: known minima as "
        "constants, and the gradcheck input, arrays and libsvm file of an earlier run",
        _replayed_answers(),
        {"my_relu_gradcheck", "minimize_quadratic", "minimize_wavy", "minimize_two_variables", "array_dataset",
         "libsvm_loader"}),
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


def test_a_constant_minimum_is_shown_the_drawn_problem(graded):
    message = message_of(graded("replayed_answers"), "minimize_quadratic")
    assert "minimize_quadratic(start=" in message and "target=" in message


def test_a_minimiser_that_ignores_the_coefficient_is_shown_the_drawn_one(graded):
    message = message_of(graded("wavy_ignores_a"), "minimize_wavy")
    assert "minimize_wavy(start=" in message and "the objective with a = " in message and (
        "going downhill from the start" in message or "not lower than at the start" in message
        or "lower nearby" in message)
