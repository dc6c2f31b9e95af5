"""max_conv_net: broken submissions lose exactly the points of what they break.

Each broken submission is the reference solution with a few lines edited at test time. All are
graded in one batch with the test configuration (a shorter training run), on the data set the
suite uses (MNIST when it is there, the suite's own MNIST-format digits otherwise).
"""

from __future__ import annotations

import pytest

from autograder.commands import grade_submissions

from grading_cases import solution_with_edits

ASSIGNMENT = "max_conv_net"
POOL1 = "x = F.max_pool2d(self.conv1(x), 2)"
POOL2 = "x = F.max_pool2d(self.conv2(x), 2)"

# case -> (what is broken, the (old, new) edits of the reference solution that break it,
#          the checks it must fail; every other check must pass)
CASES = {
    "relu_added": (
        "a ReLU after the first convolution: MaxConvNet has no activation function",
        [(POOL1, "x = F.max_pool2d(F.relu(self.conv1(x)), 2)")],
        {"max_pooling_only"}),
    "average_pooling": (
        "average pooling: the network becomes linear (about 91% on MNIST, under the real threshold, "
        "above the test configuration's)",
        [(POOL1, "x = F.avg_pool2d(self.conv1(x), 2)"), (POOL2, "x = F.avg_pool2d(self.conv2(x), 2)")],
        {"max_pooling_only"}),
    "conv2_without_padding": (
        "the second convolution without padding: 15 x 4 x 4 features, 3,535 parameters",
        [("nn.Conv2d(6, 15, 3, padding=1)", "nn.Conv2d(6, 15, 3)"),
         ("nn.Linear(15 * 5 * 5, 10)", "nn.Linear(15 * 4 * 4, 10)")],
        {"parameter_count", "layer_shapes"}),
    "pool_before_conv2": (
        "both poolings before the second convolution: the parameter count of the table, not its shapes",
        [(POOL1, "x = F.max_pool2d(F.max_pool2d(self.conv1(x), 2), 2)"), (POOL2, "x = self.conv2(x)")],
        {"layer_shapes"}),
    "one_pixel_pooling": (
        "pooling over 1x1 windows with stride 2: the table's shapes, but no maximum is taken",
        [(POOL1, "x = F.max_pool2d(self.conv1(x), 1, 2)")],
        {"layer_shapes"}),
    "frozen_first_layer": (
        "the first convolution's output is detached: conv1 never learns",
        [(POOL1, "x = F.max_pool2d(self.conv1(x).detach(), 2)")],
        {"gradient_flow"}),
    "ignores_input": (
        "a leftover debugging line replaces the images with ones",
        [(POOL1, "x = F.max_pool2d(self.conv1(torch.ones_like(x)), 2)")],
        {"training"}),
    "wrong_output_size": (
        "the output layer gives 9 classes",
        [("nn.Linear(15 * 5 * 5, 10)", "nn.Linear(15 * 5 * 5, 9)")],
        # output_shape cannot fail alone: 376 parameters fewer, and the label 9 has no output to
        # train or backpropagate against
        {"output_shape", "parameter_count", "layer_shapes", "gradient_flow", "training"}),
}


@pytest.fixture(scope="module")
def graded(fast_config, tmp_path_factory):
    paths = [solution_with_edits(ASSIGNMENT, CASES[name][1], tmp_path_factory.mktemp(name)) for name in CASES]
    results = grade_submissions(assignment_id=ASSIGNMENT, submissions=[p.parent for p in paths],
                                out_dir=tmp_path_factory.mktemp("graded"), config_path=fast_config,
                                device="cpu", jobs=2)
    case_of = {path.parent.name: name for path, name in zip(paths, CASES)}   # folder "relu_added0" -> case
    return {case_of[result.name]: result for result in results}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(graded, name):
    result = graded[name]
    failed = {c.name for c in result.checks if not c.passed}
    assert failed == CASES[name][2], {c.name: c.message for c in result.checks if not c.passed}
    lost = sum(c.max_points for c in result.checks if c.name in CASES[name][2])
    assert result.score == result.max_score - lost
    for check in result.checks:
        if not check.passed:
            assert check.message and "Traceback" not in check.message


def test_relu_is_named(graded):
    message = {c.name: c.message for c in graded["relu_added"].checks}["max_pooling_only"]
    assert "relu" in message and "only non-linearity is max pooling" in message
