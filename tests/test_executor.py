"""The grader's executor on its own: graphs compiled in this process, rebuilt and run by the executor.

No sandbox here: these tests feed ``CompiledModel`` the plain data a child
would send (made with the child's own compile code) and hand-edited, hostile
versions of it.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.wire.allowlist import ALLOWED, resolve
from autograder.executor.program import CompiledModel, GraphRefused
from autograder.executor.program import GraphLimits as Limits
from autograder.child.compile import CompileFailure, compile_function, compile_module


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)             # (N, 1, 8, 8) -> (N, 4, 6, 6)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)     # (N, 4, 3, 3)
        x = F.dropout(torch.flatten(x, 1), 0.5, self.training)
        return F.log_softmax(self.fc(x), dim=1)


def compiled(module: nn.Module, batch_sizes=(4,)) -> dict:
    torch.manual_seed(0)
    return compile_module(module, [1, 8, 8], list(batch_sizes), ["train", "eval"], "test_executor.py")


def test_rebuilt_graph_matches_the_eager_module_in_both_modes():
    torch.manual_seed(0)
    eager = SmallCNN()
    model = CompiledModel(compiled(eager), "cpu")
    x = torch.randn(7, 1, 8, 8)
    eager.eval(), model.eval()
    assert torch.allclose(eager(x), model(x), atol=1e-6)
    eager.train(), model.train()
    torch.manual_seed(3)
    want = eager(x)
    torch.manual_seed(3)
    assert torch.allclose(want, model(x), atol=1e-6)
    # the train-mode pass updated the grader's own running statistics, as batch norm does
    assert not torch.equal(model.store.b0, torch.zeros(4))


def test_trace_lists_aten_layers_with_shapes():
    model = CompiledModel(compiled(SmallCNN()), "cpu")
    model.train()
    names = [name for name, *_ in model.trace(torch.randn(2, 1, 8, 8))]
    for op in ("conv2d", "batch_norm", "relu", "max_pool2d", "flatten", "dropout", "linear", "log_softmax"):
        assert op in names
    calls = {name: (shape, weights, window) for name, shape, weights, window in model.trace(torch.randn(2, 1, 8, 8))}
    assert calls["conv2d"] == ([2, 4, 6, 6], 4 * 9 + 4, None) and calls["linear"] == ([2, 5], 36 * 5 + 5, None)
    assert calls["max_pool2d"][1:] == (0, [2, 2])          # no parameters; its window, for layer_shapes


def test_an_op_outside_the_allow_list_is_refused_with_its_name_and_line():
    data = compiled(SmallCNN())
    data["graphs"]["eval"][0]["nodes"][0]["op"] = "aten.linalg_svd.default"
    data["graphs"]["eval"][0]["nodes"][0]["line"] = 12
    with pytest.raises(GraphRefused, match=r"aten\.linalg_svd\.default \(line 12\), which the grader does not run"):
        CompiledModel(data, "cpu")


@pytest.mark.parametrize("op", ["builtins.eval", "os.system", "aten.conv2d", "torch.ops.aten.relu.default",
                                "aten.relu.default.extra", "aten.__class__.__init__"])
def test_names_that_are_not_allowed_ops_never_resolve(op):
    data = compiled(SmallCNN())
    data["graphs"]["train"][0]["nodes"][0]["op"] = op
    with pytest.raises(GraphRefused, match="which the grader does not run"):
        CompiledModel(data, "cpu")


def test_every_allowed_op_exists_in_this_torch():
    for name in sorted(ALLOWED):
        assert callable(resolve(name)), name


@pytest.mark.parametrize("edit, words", [
    (lambda g: g["nodes"][0]["args"].__setitem__(0, {"ref": 10_000}), "does not come before it"),
    (lambda g: g["nodes"][0]["args"].__setitem__(0, {"code": "print(1)"}), "unsupported kind"),
    (lambda g: g["nodes"][0]["args"].__setitem__(0, "x" * 10_000), "too long"),
    (lambda g: g.__setitem__("inputs", g["inputs"] + [{"kind": "input", "name": "y"}]), "exactly one tensor"),
    (lambda g: g.__setitem__("nodes", g["nodes"] * 3000), "more than"),
])
def test_malformed_graphs_are_refused_in_words(edit, words):
    data = compiled(SmallCNN())
    edit(data["graphs"]["eval"][0])
    with pytest.raises(GraphRefused, match=words):
        CompiledModel(data, "cpu")


def test_buffers_and_constants_are_bounded_in_total():
    class Carrier(SmallCNN):
        def __init__(self):
            super().__init__()
            self.register_buffer("labels", torch.arange(10_000) % 10)   # e.g. embedded test labels

        def forward(self, x):
            return super().forward(x) + self.labels[: x.shape[0], None] * 0

    with pytest.raises(GraphRefused, match="at most 4,096 in all"):
        CompiledModel(compiled(Carrier()), "cpu", Limits(max_constant_elements=4096))


def test_training_starts_from_default_init_not_from_planted_weights():
    planted = SmallCNN()
    with torch.no_grad():
        for p in planted.parameters():
            p.copy_(torch.randn_like(p) * 10)                        # far outside the default ranges
    model = CompiledModel(compiled(planted), "cpu")
    model.reset_to_default_init(seed=0)
    params = dict(model.named_student_parameters())
    assert params["bn.weight"].eq(1).all() and params["bn.bias"].eq(0).all()
    for name, fan_in in (("conv.weight", 9), ("conv.bias", 9), ("fc.weight", 36), ("fc.bias", 36)):
        assert params[name].abs().max() <= 1 / fan_in ** 0.5 + 1e-6, name
    assert model.store.b0.eq(0).all() and model.store.b1.eq(1).all()    # running mean and variance


def test_a_decoy_layer_whose_result_is_thrown_away_is_not_measured():
    class Decoy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.fc = nn.Linear(64, 5)

        def forward(self, x):
            _ = F.relu(self.conv(x))                     # computed, never used
            return F.log_softmax(self.fc(torch.flatten(x, 1)), dim=1)

    model = CompiledModel(compiled(Decoy()), "cpu")
    model.train()
    names = [name for name, *_ in model.trace(torch.randn(2, 1, 8, 8))]
    assert "conv2d" not in names and "relu" not in names and "linear" in names


def test_a_fixed_batch_size_is_traced_per_size_and_other_sizes_are_refused():
    class Fixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 5)

        def forward(self, x):
            return self.fc(x.view(4, -1))

    model = CompiledModel(compiled(Fixed(), batch_sizes=(4,)), "cpu")
    assert model(torch.randn(4, 1, 8, 8)).shape == (4, 5)
    with pytest.raises(GraphRefused, match=r"only works for batches of 4.*x\.view\(x\.size\(0\), -1\)"):
        model(torch.randn(7, 1, 8, 8))


def test_control_flow_on_tensor_values_is_named_with_its_line():
    class Branchy(SmallCNN):
        def forward(self, x):
            if x.sum() > 0:
                return super().forward(x)
            return super().forward(-x)

    with pytest.raises(CompileFailure, match=r"values of a tensor \(line \d+\)|Python number"):
        compiled(Branchy())


def test_no_grad_blocks_are_inlined_and_run_without_gradients():
    class RunningMean(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 5)
            self.register_buffer("mean", torch.zeros(64))

        def forward(self, x):
            x = torch.flatten(x, 1)
            if self.training:
                with torch.no_grad():
                    self.mean = 0.9 * self.mean + 0.1 * x.mean(0)
            return self.fc(x - self.mean)

    data = compiled(RunningMean())
    assert any(n["op"] == "grad.disable" for n in data["graphs"]["train"][0]["nodes"])
    model = CompiledModel(data, "cpu")
    model.train()
    out = model(torch.randn(4, 1, 8, 8))
    out.sum().backward()
    assert torch.is_grad_enabled()
    assert model.store.b0.abs().sum() > 0 and not model.store.b0.requires_grad


class AsModule(nn.Module):
    """A hand-written function of one tensor, wrapped as the child wraps it."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function(x)


KERNEL = torch.tensor([[1.0, -2.0], [0.5, 3.0]])


def pool_then_mix(x):
    """Slices, an in-place write, a captured tensor, a no_grad block and two outputs."""
    out = torch.zeros(x.shape[0], 2, 2)
    for i in range(2):
        for j in range(2):
            out[:, i, j] = x[:, 2 * i:2 * i + 2, 2 * j:2 * j + 2].amax(dim=(1, 2))
    with torch.no_grad():
        scale = out.abs().mean()
    return out @ KERNEL / scale, out.max(dim=2)


def test_a_hand_written_function_is_traced_with_its_constants_and_runs_the_same():
    data = compile_function(AsModule(pool_then_mix), [4, 4], [3], "test_executor.py")
    graph, = data["graphs"]["eval"]
    kinds = [item["kind"] for item in graph["inputs"]]
    assert kinds.count("input") == 1 and "constant" in kinds
    assert any(torch.equal(t, KERNEL) for t in data["constants"].values())
    assert [n["op"] for n in graph["nodes"]].count("grad.disable") == 1
    # every op names the line of this file it came from
    assert all(isinstance(n["line"], int) for n in graph["nodes"] if n["op"].startswith("aten."))
    model = CompiledModel(data, "cpu")
    model.eval()
    x = torch.randn(3, 4, 4)
    got, got_max, got_index = model(x)          # outputs come back flat, as from a model's graph
    want, (want_max, want_index) = pool_then_mix(x)
    assert torch.allclose(got, want) and torch.equal(got_max, want_max) and torch.equal(got_index, want_index)
    with pytest.raises(GraphRefused):
        model(torch.randn(5, 4, 4))      # traced at one shape only


def test_a_hand_written_function_that_reads_a_value_or_turns_gradients_on_is_refused_in_words():
    def reads(x):
        return x * 2 if x.sum() > 0 else x

    def turns_on(x):
        with torch.enable_grad():
            return x * 2

    with pytest.raises(CompileFailure, match=r"^reads\(\) decides something from the values of a tensor \(line \d+\)"):
        compile_function(AsModule(reads), [4], [2], "test_executor.py", "reads()")
    with pytest.raises(CompileFailure, match=r"^turns_on\(\) turns gradients on"):
        compile_function(AsModule(turns_on), [4], [2], "test_executor.py", "turns_on()")


def test_a_graph_asking_for_too_much_memory_is_answered_in_words():
    from autograder.wire.serve import describe

    error = RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                         "memory: you tried to allocate 40000000000 bytes. Error code 12 (Cannot allocate memory)")
    answer = describe(error)
    assert answer["failure"] and "more memory than the grader allows (37.3 GiB in one tensor)" in answer["message"]
    assert not describe(RuntimeError("shapes cannot be multiplied"))["failure"]


def test_restore_returns_every_tensor_to_its_installed_state():
    model = CompiledModel(compiled(SmallCNN()), "cpu")
    before = copy.deepcopy(model.initial_state)
    model.train()
    model(torch.randn(4, 1, 8, 8)).sum().backward()
    model.reset_to_default_init(seed=5)
    model.restore(model.initial_state)
    for name, tensor in model.snapshot().items():
        assert torch.equal(tensor, before[name]), name


class PartlyUsed(nn.Module):
    """Its second layer gets a gradient only on odd steps, so parameters count their steps apart."""

    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Linear(5, 3), nn.Linear(3, 3)
        self.frozen = nn.Parameter(torch.ones(3), requires_grad=False)

    def forward(self, x, use_second):
        x = torch.tanh(self.first(x)) * self.frozen
        return self.second(x) if use_second else x


@pytest.mark.parametrize("recipe, reference", [
    ({"optimizer": "adam", "lr": 0.01}, lambda params: torch.optim.Adam(params, lr=0.01, foreach=False)),
    ({"optimizer": "sgd", "lr": 0.05, "momentum": 0.5},
     lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.5, foreach=False)),
    ({"optimizer": "SGD", "lr": 0.05}, lambda params: torch.optim.SGD(params, lr=0.05, foreach=False)),
])
def test_the_executors_optimizers_follow_torch_optim_step_for_step(recipe, reference):
    from autograder.executor.optimizers import make_optimizer

    torch.manual_seed(0)
    ours, theirs = PartlyUsed(), PartlyUsed()
    theirs.load_state_dict(ours.state_dict())
    optimizers = [make_optimizer(ours, recipe), reference(list(theirs.parameters()))]
    x = torch.randn(8, 5)
    for step in range(30):
        for model, optimizer in zip((ours, theirs), optimizers):
            optimizer.zero_grad()
            (model(x, use_second=step % 2 == 1) ** 2).mean().backward()
            optimizer.step()
    assert not torch.equal(ours.second.weight, PartlyUsed().second.weight)
    for (name, mine), theirs_p in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(mine, theirs_p, rtol=1e-5, atol=1e-6, msg=name)


def test_an_optimizer_the_recipe_names_but_the_grader_lacks_is_refused_in_words():
    from autograder.executor.optimizers import TrainingFailure, make_optimizer

    with pytest.raises(TrainingFailure, match="unknown optimizer 'rmsprop' in the recipe"):
        make_optimizer(SmallCNN(), {"optimizer": "rmsprop", "lr": 0.1})


def test_the_executor_trains_without_importing_torch_dynamo(tmp_path):
    """torch.optim's first step imports torch._dynamo (about a second of CPU); the executor's own do not."""
    import subprocess
    import sys

    torch.save(compiled(SmallCNN()), tmp_path / "compiled.pt")
    script = f"""
import sys, torch
from autograder.executor.measure import HANDLERS, ExecutorState
from autograder.wire.answers import model_key
from autograder.executor.training import warm_up
warm_up("cpu")
state = ExecutorState(device="cpu", seed=0, data_file=None, threads=1)
HANDLERS["install"](state, key=model_key({{"name": "m"}}), compiled=torch.load({str(tmp_path / "compiled.pt")!r}, weights_only=True))
images, labels = torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])
answer = HANDLERS["overfit_batch"](state, model={{"name": "m"}}, images=images, labels=labels, lr=0.01,
                                   max_steps=5, check_every=5)
assert answer["steps"] == 5, answer
print("dynamo imported:", "torch._dynamo" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "dynamo imported: False" in done.stdout
