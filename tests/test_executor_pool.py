"""Warm executors: one per grading thread serves a whole batch, and each submission meets it as new.

The executor runs only the grader's code, so a batch keeps it from one
submission to the next (processes/executors.py). Between two submissions it forgets
every model and resets torch's global switches; one that died is replaced.
These tests grade the forged submissions and then the reference through one
warm executor, and compare every verdict with executors started afresh.
"""

from __future__ import annotations

import torch

from autograder.grading.batch import grading_setup
from autograder.checks import load_config
from autograder.executor.measure import ExecutorState
from autograder.executor.models import forget, install
from autograder.processes.executors import ExecutorPool
from autograder.grading.grade import grade_submission
from autograder.processes.options import SandboxOptions
from autograder.child.compile import compile_module

from test_executor import SmallCNN
from test_grader_executes import FORGED, REFERENCE, config_without_training


def verdicts(result) -> list[tuple]:
    return [(c.name, c.passed, c.message) for c in result.checks]


def test_one_warm_executor_grades_a_batch_exactly_as_fresh_ones_do(tmp_path):
    config = load_config(config_without_training(tmp_path))
    assignment = config.assignment("task1_cnn")
    files = sorted(FORGED.glob("*.py")) + [REFERENCE]      # the reference comes after every attack
    with grading_setup(config=config, assignment=assignment, data_dir=None, device="cpu", seed=0) as warm:
        warm_results = [grade_submission(warm, path) for path in files]
        assert warm.executors.started == 1
    with grading_setup(config=config, assignment=assignment, data_dir=None, device="cpu", seed=0,
                       warm=False) as cold:
        cold_results = [grade_submission(cold, path) for path in files]
    for warm_result, cold_result in zip(warm_results, cold_results):
        assert verdicts(warm_result) == verdicts(cold_result), warm_result.name
    assert warm_results[-1].score == warm_results[-1].max_score


def test_forget_drops_every_model_and_puts_torchs_switches_back():
    torch.manual_seed(0)
    state = ExecutorState(device="cpu", seed=0, data_file=None, threads=torch.get_num_threads())
    install(state, "small", compile_module(SmallCNN(), [1, 8, 8], [4], ["train", "eval"], "small.py"))
    torch.set_grad_enabled(False)           # as a graph that stopped between its grad-off and grad-on ops
    try:
        forget(state)
        assert state.models == {}
        assert torch.is_grad_enabled()
    finally:
        torch.set_grad_enabled(True)


def test_an_executor_that_died_is_replaced_for_the_next_submission():
    pool = ExecutorPool(data_file=None)
    options = SandboxOptions(program="executor")
    try:
        with pool.lease(options) as first:
            first.stop("killed for the test")
        with pool.lease(options) as second:
            assert second is not first and not second.dead_reason
            assert second.ask("forget", {}, timeout=60, label="asking").ok
        with pool.lease(options) as third:
            assert third is second                     # a healthy one is kept
        assert pool.started == 2
    finally:
        pool.close()
