"""A trained model is one network that learns: the same graph for every batch size and both modes,
within an information budget (executor/one_network.py).

The unit tests compile models in this process and hand them to the executor's ``CompiledModel``
with the rules a trained model gets. The batch tests grade the hostile files of
tests/one_network/ end to end, each followed in the same warm batch by the reference.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder.commands import grade_submissions
from autograder.checks import load_config
from autograder.executor.program import CompiledModel, GraphRefused
from autograder.executor.program import GraphLimits as Limits
from autograder.child.compile import compile_module

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).resolve().parent / "one_network"
SIZES = (1, 4, 7, 64, 500)
NETWORK = Limits(network=True, input_shape=(1, 28, 28), batch_sizes=SIZES)


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(f"case_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def install(module: nn.Module, filename: str, limits: Limits = NETWORK) -> CompiledModel:
    compiled = compile_module(module, list(limits.input_shape), list(limits.batch_sizes), ["train", "eval"], filename)
    return CompiledModel(compiled, "cpu", limits)


class BatchNormNet(nn.Module):
    """Batch norm and dropout: the two ops allowed to change with the mode."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 13 * 13, 10)
        self.bn1 = nn.BatchNorm1d(10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        x = F.dropout(torch.flatten(x, 1), 0.3, self.training)
        return self.bn1(self.fc(x))


@pytest.mark.parametrize("path, name", [
    (ROOT / "solutions/task1_cnn/task1_cnn.py", "Net"),
    (ROOT / "solutions/max_conv_net/max_conv_net.py", "MaxConvNet"),
    (ROOT / "tests/broken/task1_cnn/batch_mixing.py", "Net"),        # mixing is batch_independence's business
    (ROOT / "tests/broken/task1_cnn/dropout_always_on.py", "Net"),   # dropout that ignores the mode is one network
])
def test_honest_networks_are_accepted(path, name):
    model = install(load(path, name)(), path.name)
    assert set(model.graphs) == {"train", "eval"}


def test_per_size_graphs_of_one_network_are_accepted():
    """x.squeeze() treats a batch of 1 apart (the output shape check's business): traced per size
    or with a dynamic batch, it is one network."""
    class Squeezed(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 5)
            self.fc = nn.Linear(4 * 12 * 12, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv(x)), 2)
            return F.log_softmax(self.fc(torch.flatten(x, 1)), dim=1).squeeze()

    install(Squeezed(), "squeezed.py")
    install(load(ROOT / "tests/broken/lenet5/squeezed_output.py", "LeNet5")(10), "squeezed_output.py")


def test_batch_norm_and_dropout_may_change_with_the_mode_and_statistics_start_from_defaults():
    net = BatchNormNet()
    with torch.no_grad():
        net.bn.running_mean.fill_(5.0)                   # planted statistics carry nothing
        net.bn.running_var.fill_(9.0)
    model = install(net, "bn.py")
    stats = [b for _, b in model.store.named_buffers()]
    assert any(b.numel() == 4 and b.eq(0).all() for b in stats)
    assert any(b.numel() == 4 and b.eq(1).all() for b in stats)


@pytest.mark.parametrize("file, name, words", [
    ("mode_switch_buffers.py", "Net", r"different network in eval mode \(eval mode runs line 21 where training mode "
                                      r"runs line 22\); use self\.training only through dropout and batch norm"),
    ("mode_switch_layers.py", "Net", r"different network in eval mode \(eval mode runs line 19"),
    ("batch_branch.py", "Net", r"depends on the batch size at line 18: .*no if on x\.shape\[0\]"),
    ("lenet5_batch_branch.py", "LeNet5", r"depends on the batch size at line 18"),
    ("batch_count.py", "Net", r"repeated 64 times a different output .* different network depending on the batch"),
    ("constant_table.py", "Net", r"carries 7,8\d\d values besides its parameters \(7,806 in tensor constants.*"
                                 r"at most 256 \(\[limits\] max_carried_values\)"),
    ("planted_buffer.py", "Net", r"buffer 'prior' \(register_buffer\) that is not a batch-norm statistic"),
])
def test_each_attack_is_refused_naming_what_to_change(file, name, words):
    cls = load(HOSTILE / file, name)
    module = cls(10) if name == "LeNet5" else cls()
    with pytest.raises(GraphRefused, match=words):
        install(module, file)


def test_the_budget_counts_numbers_written_in_forward():
    class Literals(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(784, 10)

        def forward(self, x):
            x = torch.flatten(x, 1)
            for k in range(300):                         # 300 scalars, and the 1 of flatten
                x = x * (1.0 + k * 1e-6)
            return self.fc(x)

    with pytest.raises(GraphRefused, match=r"301 numbers written in forward\(\)"):
        install(Literals(), "literals.py")
    install(Literals(), "literals.py", Limits(**{**NETWORK.__dict__, "max_carried_values": 400}))


def test_a_graph_over_the_node_cap_is_refused():
    class Long(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(784, 10)

        def forward(self, x):
            x = torch.flatten(x, 1)
            for _ in range(60):
                x = torch.relu(x)
            return self.fc(x)

    with pytest.raises(GraphRefused, match=r"at most 50 for a network \(\[limits\] max_graph_nodes\)"):
        install(Long(), "long.py", Limits(**{**NETWORK.__dict__, "max_graph_nodes": 50}))


def test_hand_written_modules_keep_their_own_rules():
    """A by-hand layer (not trained by the grader) may differ by mode: that is what it implements."""
    class MyDropout(nn.Module):
        def forward(self, x):
            if self.training:
                return x * (torch.rand_like(x) > 0.5) * 2.0
            return x

    model = install(MyDropout(), "my_dropout.py", Limits(input_shape=(1, 28, 28), batch_sizes=SIZES))
    assert set(model.graphs) == {"train", "eval"}


# ----------------------------------------------------------------- graded end to end

def config_without(folder: Path, assignment: str, check: str | None) -> Path:
    text = (ROOT / "grading.toml").read_text(encoding="utf-8")
    if check:
        text = re.sub(rf"\[assignments\.{assignment}\.checks\.{check}\]\n(?:[^\[\n].*\n)*", "", text)
        assert f"{assignment}.checks.{check}]" not in text
    for sub in ("solutions", "assignments"):
        (folder / sub).symlink_to(ROOT / sub, target_is_directory=True)
    path = folder / "grading.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def task1_cnn(tmp_path_factory):
    """Every task1_cnn attack, then the reference, in one warm batch with the training check."""
    folder = tmp_path_factory.mktemp("one_network")
    files = [HOSTILE / f for f in ("mode_switch_buffers.py", "mode_switch_layers.py", "batch_branch.py",
                                   "batch_count.py", "constant_table.py", "planted_buffer.py")]
    files.append(ROOT / "solutions" / "task1_cnn" / "task1_cnn.py")
    results = grade_submissions(assignment_id="task1_cnn", submissions=files, out_dir=folder / "out",
                                config_path=config_without(folder, "task1_cnn", None), device="cpu", jobs=2)
    return {r.name: r for r in results}


ATTACKS = ["mode_switch_buffers", "mode_switch_layers", "batch_branch", "batch_count", "constant_table",
           "planted_buffer"]


@pytest.mark.parametrize("name", ATTACKS)
def test_a_task1_cnn_attack_earns_no_model_point_and_the_training_check_fails_in_words(task1_cnn, name):
    result = task1_cnn[name]
    assert result.score == 0, {c.name: c.message for c in result.checks if c.passed}
    training = next(c for c in result.checks if c.name == "training")
    assert not training.passed and "Traceback" not in training.message


def test_the_reference_graded_after_the_attacks_keeps_full_marks(task1_cnn):
    reference = task1_cnn["task1_cnn"]
    assert reference.score == reference.max_score, {c.name: c.message for c in reference.checks if not c.passed}


def test_lenet5_tanh_for_the_structure_batch_relu_for_training_earns_nothing(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lenet5_one_network")
    files = [HOSTILE / "lenet5_batch_branch.py", ROOT / "solutions" / "lenet5" / "lenet5.py"]
    config = config_without(folder, "lenet5", "training")
    copied = folder / "attack"
    copied.mkdir()
    (copied / "lenet5.py").write_bytes(files[0].read_bytes())
    results = grade_submissions(assignment_id="lenet5", submissions=[copied, files[1]], out_dir=folder / "out",
                                config_path=config, device="cpu", jobs=1)
    attack, reference = results
    assert attack.score == 0
    structure = next(c for c in attack.checks if c.name == "tanh_and_average_pooling")
    assert "depends on the batch size at line 18" in structure.message
    assert reference.score == reference.max_score == load_config(config).assignment("lenet5").max_score
