"""By hand is an allow-list: a library op doing the work loses exactly the checks it tried to steal.

Each file in tests/by_hand/ redefines one or two functions (or a class) of a reference solution
so that a torch op outside the old forbid-lists does the work, with the right values and
gradients: a convolution as a transposed 3-D convolution, average pooling as adaptive 3-D
pooling, max pooling as index_select and adaptive 1-D max pooling, a training-mode batch norm
as group_norm or layer_norm, cross-entropy (and its gradient) as F.cross_entropy. The test
appends it to the reference solution, so every other check keeps its reference answer, and
grades the lot in one batch with the kit's own grading.toml, the reference last: the grader's
warm processes carry nothing from one submission to the next.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from autograder.checks.base import AllowedOps, by_hand_verdict
from autograder.commands import grade_submissions
from autograder.checks import load_config
from autograder.errors import ConfigError

from conftest import ROOT, write_config
from grading_cases import assert_loses_exactly, message_of

BY_HAND = Path(__file__).resolve().parent / "by_hand"

# assignment -> bypass file -> (the checks it must lose, the op their messages name)
BYPASSES = {
    "conv_arithmetic": {
        "conv_transpose3d": ({"conv1d_book_example", "conv1d_gradients", "conv1d_padding_stride",
                              "conv2d_matches_torch", "conv2d_padding_stride", "conv2d_gradients"}, "conv_transpose3d"),
        "adaptive_avg_pool3d": ({"avg_pool_lab_example", "avg_pool_matches_torch"}, "adaptive_avg_pool3d"),
        "adaptive_max_pool1d": ({"max_pool_lab_example", "max_pool_matches_torch", "max_pool_overlapping",
                                 "max_pool_gradient"},
                                "adaptive_max_pool1d"),
    },
    "dropout_batchnorm": {
        "group_norm": ({"batchnorm_train", "batchnorm_eval"}, "group_norm"),
        "layer_norm": ({"batchnorm_train", "batchnorm_eval"}, "layer_norm"),
    },
    "softmax_cross_entropy": {
        "cross_entropy": ({"cross_entropy_matches_torch", "cross_entropy_large_logits", "cross_entropy_gradient"},
                          "cross_entropy_loss"),
    },
}
REFERENCE = "reference"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(assignment, bypass file or 'reference') -> its result; each assignment graded once, in one batch."""
    config = load_config(ROOT / "grading.toml")
    results = {}

    def result(assignment: str, name: str):
        if (assignment, name) not in results:
            file = config.assignment(assignment).file
            reference = (ROOT / "solutions" / assignment / file).read_text(encoding="utf-8")
            names = [*BYPASSES[assignment], REFERENCE]
            paths = []
            for case in names:
                text = reference
                if case != REFERENCE:
                    text += "\n\n" + (BY_HAND / f"{case}.py").read_text(encoding="utf-8")
                path = tmp_path_factory.mktemp(case) / file
                path.write_text(text, encoding="utf-8")
                paths.append(path)
            batch = grade_submissions(assignment_id=assignment, submissions=paths, jobs=2,
                                      out_dir=tmp_path_factory.mktemp(f"{assignment}-graded"),
                                      config_path=ROOT / "grading.toml")
            results.update({(assignment, case): r for case, r in zip(names, batch)})
        return results[(assignment, name)]
    return result


CASES = [(assignment, name) for assignment, files in BYPASSES.items() for name in files]


@pytest.mark.parametrize("assignment, name", CASES)
def test_a_library_op_doing_the_work_loses_exactly_the_checks_it_stole(graded, assignment, name):
    result = graded(assignment, name)
    lost, op = BYPASSES[assignment][name]
    assert_loses_exactly(result, lost)
    for check in lost:
        message = message_of(result, check)
        # the first failure carries the full message, the others refer to it by name
        assert f"uses aten.{op} (line " in message or "same cause as" in message, message
    first = next(c.message for c in result.checks if c.name in lost)
    assert f"uses aten.{op} (line " in first and "by hand" in first, first


@pytest.mark.parametrize("assignment", sorted(BYPASSES))
def test_the_reference_graded_after_the_bypasses_keeps_full_marks(graded, assignment):
    result = graded(assignment, REFERENCE)
    assert result.score == result.max_score, {c.name: c.message for c in result.checks if not c.passed}


@pytest.mark.parametrize("assignment, check", [("softmax_cross_entropy", "cross_entropy_gradient"),
                                               ("conv_arithmetic", "conv1d_gradients")])
def test_gradient_checks_of_by_hand_functions_are_computed_by_the_grader(graded, assignment, check):
    """The value and the gradients come from the compiled graph the grader ran, not from the child."""
    result = graded(assignment, REFERENCE)
    assert result.extra["executed_by"][check] == "grader"
    assert {c.name: c.passed for c in result.checks}[check]


def test_the_message_names_the_op_its_line_and_what_is_allowed(graded):
    message = message_of(graded("conv_arithmetic", "adaptive_max_pool1d"), "max_pool_lab_example")
    assert message.startswith("max_pool2d() uses aten.adaptive_max_pool1d (line "), message
    # index_select only gathers: it is allowed, and not named
    assert "aten.index_select" not in message
    assert "reduce (sum, mean, amax" in message and "index (select, slice" in message


# ----------------------------------------------------------------- the rule itself, without grading

def _allowed(*written: str) -> AllowedOps:
    from autograder.checks.base import allowed_ops
    return allowed_ops(written, {"arith": ["add", "mul"], "sums": ["sum"]})


def test_only_listed_ops_and_the_tracers_bookkeeping_pass():
    allowed = _allowed("arith", "sums", "amax")
    ops = [["add", 3], ["sym_size", None], ["_assert_tensor_metadata", None], ["operator.getitem", None],
           ["grad.disable", 4], ["amax", 5], ["sum", 6]]
    assert by_hand_verdict(allowed, ops, "f()") is None
    verdict = by_hand_verdict(allowed, ops + [["conv_transpose3d", 9], ["conv_transpose3d", 7], ["flip", None]],
                              "f()")
    assert not verdict.passed
    assert verdict.message.startswith("f() uses aten.conv_transpose3d (line 7, 9), aten.flip, which this "
                                      "exercise does not allow"), verdict.message
    assert "arith (add, mul); sums (sum); amax" in verdict.message


def test_an_empty_allow_list_allows_everything():
    assert by_hand_verdict(AllowedOps(), [["conv2d", 3]], "f()") is None


class _AsModule(torch.nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function(x)


KERNEL = torch.tensor([1.0, 0.0, -1.0])


def _correlate(x):
    """The book's 1-D example, open slices included (x[:, 1:] is traced with the end 2**63 - 1)."""
    x = x[:, 1:] if x.shape[1] > 6 else x
    return torch.stack([(x[:, i:i + 3] * KERNEL).sum(1) for i in range(x.shape[1] - 2)], dim=1)


def _installed(function, shape):
    from autograder.executor.measure import ExecutorState
    from autograder.executor.models import install
    from autograder.wire.answers import model_key
    from autograder.child.compile import compile_function

    compiled = compile_function(_AsModule(function), shape[1:], [shape[0]], "test_by_hand.py", "correlate()")
    state, spec = ExecutorState(device="cpu", seed=0, data_file=None), {"function": "correlate"}
    install(state, model_key(spec), compiled)
    return state, spec


def test_the_grader_differentiates_the_compiled_graph_and_accumulates_over_calls():
    from autograder.executor.models import call_graph

    state, spec = _installed(_correlate, [1, 7])
    x = torch.tensor([[9.0, 1, 0, 2, -1, 1, 2]])
    once = call_graph(state, spec, x, backward=True, calls=1)
    assert once["result"].tolist() == [[-1.0, 1.0, 1.0, -3.0]]
    assert once["grad"].tolist() == [[0.0, 1, 1, 0, 0, -1, -1]]
    twice = call_graph(state, spec, x, backward=True, calls=2)
    assert twice["grad"].tolist() == [[0.0, 2, 2, 0, 0, -2, -2]]       # as x.grad after two backward passes
    assert {name for name, _ in once["ops"]} >= {"slice", "mul", "sum", "stack"}
    assert call_graph(state, spec, x)["grad"] is None


def test_a_compiled_function_cut_from_autograd_is_told_so_by_the_grader():
    from autograder.executor.measure import MeasureFailure
    from autograder.executor.models import call_graph

    state, spec = _installed(lambda x: _correlate(x).detach(), [1, 6])
    with pytest.raises(MeasureFailure, match=r"^correlate\(\.\.\.\) returned a tensor without a gradient history"):
        call_graph(state, spec, torch.tensor([[1.0, 0, 2, -1, 1, 2]]), backward=True, calls=1)


def _config_error(tmp_path, old: str, new: str) -> str:
    text = (ROOT / "grading.toml").read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, text.replace(old, new, 1)))
    return str(err.value)


def test_the_retired_forbidden_ops_key_names_the_fix(tmp_path):
    old = 'allowed_ops = ["elementwise", "compare", "index", "shape", "reduce"]   # by hand: windows'
    message = _config_error(tmp_path, old, 'forbidden_ops = ["max_pool2d"]   # by hand: windows')
    assert "unknown key 'assignments.conv_arithmetic.checks.max_pool_lab_example.forbidden_ops'" in message
    assert "replace forbidden_ops by allowed_ops" in message and "[kit.op_groups]" in message


def test_an_unknown_group_or_op_is_named_with_a_hint(tmp_path):
    old = 'allowed_ops = ["elementwise", "compare", "index", "shape", "reduce"]   # by hand: windows'
    message = _config_error(tmp_path, old, old.replace('"reduce"', '"reduction"'))
    assert "max_pool_lab_example" in message and "allowed_ops names 'reduction'" in message
    assert "did you mean 'reduce'?" in message


def test_a_group_listing_an_op_the_grader_does_not_run_is_refused(tmp_path):
    message = _config_error(tmp_path, 'matmul = ["matmul", ', 'matmul = ["matmull", ')
    assert "[kit.op_groups] 'matmul' lists 'matmull'" in message and "does not run" in message


def test_every_by_hand_check_of_the_kit_has_an_allow_list():
    """Every check of a function or module written by hand says what it allows, so none runs the
    student's code with any op (gradient checks included)."""
    by_hand = {"max_pool2d", "avg_pool2d", "conv1d", "conv2d", "softmax", "log_softmax", "cross_entropy",
               "MyDropout", "MyBatchNorm2d"}
    config = load_config(ROOT / "grading.toml")
    seen = 0
    for assignment in BYPASSES:
        for check in config.assignment(assignment).checks:
            if check.params.get("function", check.params.get("module")) in by_hand:
                assert check.params["allowed_ops"], (assignment, check.name)
                seen += 1
    assert seen == 24
