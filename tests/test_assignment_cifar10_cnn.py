"""cifar10_cnn: broken submissions lose exactly the points of what they break.

Each broken submission is the reference solution with a few lines edited at test time.
"""

from __future__ import annotations

import pytest

from grading_cases import assert_loses_exactly, case_grader

ASSIGNMENT = "cifar10_cnn"

# case -> (what is broken, the (old, new) edits of the reference solution that break it,
#          the checks it must fail; every other check must pass)
CASES = {
    "avg_pool": (
        "average pooling instead of max pooling",
        [("self.pool = nn.MaxPool2d(2, 2)", "self.pool = nn.AvgPool2d(2, 2)")],
        {"relu_and_max_pooling", "dropout_variant_layers"}),     # NetDropout inherits the pooling
    "one_pixel_pooling": (
        "pooling over 1x1 windows with stride 2: the table's shapes, but each block keeps one pixel, not its maximum",
        [("self.pool = nn.MaxPool2d(2, 2)", "self.pool = nn.MaxPool2d(1, 2)")],
        {"layer_shapes"}),
    "dropout_variant_tanh": (
        "NetDropout uses tanh after fc2 where Net uses ReLU",
        [("        x = F.relu(self.fc2(x))\n        return self.fc3(x)\n\n\ndef main",
          "        x = torch.tanh(self.fc2(x))\n        return self.fc3(x)\n\n\ndef main")],
        {"dropout_variant_layers", "dropout_variant_relus"}),
    "relu_before_fc2": (
        "Net applies the ReLU before fc2 instead of after it: fc2's output has no activation",
        [("        x = F.relu(self.fc1(self.features(x)))\n        x = F.relu(self.fc2(x))",
          "        x = F.relu(self.fc1(self.features(x)))\n        x = self.fc2(F.relu(x))")],
        {"relu_after_each_layer"}),
    "no_dropout": (
        "NetDropout never calls its dropout",
        [("x = self.dropout(F.relu(self.fc1(self.features(x))))", "x = F.relu(self.fc1(self.features(x)))")],
        {"dropout_variant", "dropout_variant_relus"}),
    "dropout_cuts_gradient": (
        "NetDropout detaches after its dropout: no gradient reaches fc1 or the convolutions",
        [("x = self.dropout(F.relu(self.fc1(self.features(x))))",
          "x = self.dropout(F.relu(self.fc1(self.features(x)))).detach()")],
        {"dropout_gradient_flow"}),
    "fc1_100": (
        "Net's first fully connected layer has 100 outputs, not 120",
        [("self.fc1 = nn.Linear(16 * 5 * 5, 120)\n        self.fc2 = nn.Linear(120, 84)",
          "self.fc1 = nn.Linear(16 * 5 * 5, 100)\n        self.fc2 = nn.Linear(100, 84)"),
         # NetDropout keeps the 120 outputs, in a Net of its own
         ("class NetDropout(Net):", "class NetDropout(nn.Module):"),
         ("        super().__init__()\n        self.dropout = nn.Dropout(p=0.3)",
          "        super().__init__()\n"
          "        self.net = Net()\n"
          "        self.net.fc1 = nn.Linear(400, 120)\n"
          "        self.net.fc2 = nn.Linear(120, 84)\n"
          "        self.dropout = nn.Dropout(p=0.3)"),
         ("x = self.dropout(F.relu(self.fc1(self.features(x))))\n"
          "        x = F.relu(self.fc2(x))\n"
          "        return self.fc3(x)",
          "x = self.dropout(F.relu(self.net.fc1(self.net.features(x))))\n"
          "        x = F.relu(self.net.fc2(x))\n"
          "        return self.net.fc3(x)")],
        {"parameter_count", "layer_shapes"}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return case_grader(ASSIGNMENT, CASES, tmp_path_factory)


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(graded, name):
    assert_loses_exactly(graded(name), CASES[name][2])
