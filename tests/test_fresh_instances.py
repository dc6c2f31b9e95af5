"""Checks that run in the submission's own process pose a fresh problem each run.

The draw mixes the grading seed with the submission's bytes; the judges compare with the
parent's own answer to the drawn problem. These tests plan and judge in this process
(no sandbox): the reference solution's minimisers are called directly on the drawn calls.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math

import pytest
import torch

from autograder.checks import KINDS
from autograder.checks.instances import submission_draw
from autograder.checks.tensor_specs import materialize
from autograder.checks import load_config
from autograder.settings.model import CheckSpec
from autograder.wire.answers import Answer
from grading_cases import ROOT

CONFIG = load_config(ROOT / "grading.toml")
CHILD_RUN_KINDS = {"autograd_gradcheck", "minimizes_objective", "dataset_protocol", "svmlight_matches_sklearn",
                   "recovers_coefficients", "training_function"}


def _check(assignment_id: str, name: str, draw: int | None) -> CheckSpec:
    check = next(c for c in CONFIG.assignment(assignment_id).checks if c.name == name)
    return dataclasses.replace(check, draw=draw)


def _solution(assignment_id: str):
    path = ROOT / "solutions" / assignment_id / CONFIG.assignment(assignment_id).file
    spec = importlib.util.spec_from_file_location(f"reference_{assignment_id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _verdict(check: CheckSpec, assignment_id: str, answer_for):
    """Plan ``check``, answer each question with answer_for(question args), judge."""
    kind, assignment = KINDS[check.kind], CONFIG.assignment(assignment_id)
    questions = kind.questions(check, assignment)
    answers = [Answer(ok=True, value=answer_for(materialize(question.args))) for question in questions]
    return kind.verdict(check, assignment, questions, answers, None)


def test_the_draw_follows_the_seed_and_every_byte_of_the_file(tmp_path):
    path = tmp_path / "submission.py"
    path.write_bytes(b"def f():\n    return 1\n")
    first = submission_draw(0, path)
    assert submission_draw(0, path) == first                   # the same file and seed: the same problems
    assert submission_draw(1, path) != first
    path.write_bytes(b"def f():\n    return 2\n")
    assert submission_draw(0, path) != first


CHILD_RUN_CHECKS = [(a.id, c.name) for a in CONFIG.assignments.values() for c in a.checks
                    if c.kind in CHILD_RUN_KINDS]


def test_every_kind_run_in_the_submissions_process_is_covered():
    assert {_check(a, n, None).kind for a, n in CHILD_RUN_CHECKS} == CHILD_RUN_KINDS


@pytest.mark.parametrize("assignment_id, name", CHILD_RUN_CHECKS)
def test_each_draw_poses_its_own_problem(assignment_id, name):
    assignment = CONFIG.assignment(assignment_id)

    def keys(draw):
        check = _check(assignment_id, name, draw)
        return [question.key for question in KINDS[check.kind].questions(check, assignment)]

    assert keys(11) == keys(11)
    assert keys(11) != keys(12) and keys(12) != keys(13)


def _reference_call(module):
    def answer(args):
        result = getattr(module, args["function"])(*args["args"], **args["kwargs"])
        return {"result": result, "grads": [], "args_after": []}
    return answer


# The exercise's answers, which every earlier run of the fixed problems accepted.
KNOWN_MINIMA = {"minimize_quadratic": 2.0, "minimize_wavy": 1.0635,
                "minimize_two_variables": [math.pi, math.pi + 2 ** (-1 / 6)]}


@pytest.mark.parametrize("name, draws", [("minimize_quadratic", 10), ("minimize_wavy", 10),
                                         ("minimize_two_variables", 3)])
def test_the_reference_solves_each_drawn_problem_and_a_known_minimum_none(name, draws):
    module = _solution("tensors_autograd")
    for draw in range(draws):
        check = _check("tensors_autograd", name, draw)
        verdict = _verdict(check, "tensors_autograd", _reference_call(module))
        assert verdict.passed, (draw, verdict.message)
        constant = _verdict(check, "tensors_autograd",
                            lambda args: {"result": KNOWN_MINIMA[name], "grads": [], "args_after": []})
        assert not constant.passed, (draw, constant.message)


def test_another_local_minimum_than_the_one_downhill_from_the_start_fails():
    # π/2 is a cusp of sqrt(|cos x|), a local minimum of wavy for every a, but never the one
    # the start's basin holds: it passes the neighbour test and fails the grader's own descent.
    messages = []
    for draw in range(10):
        verdict = _verdict(_check("tensors_autograd", "minimize_wavy", draw), "tensors_autograd",
                           lambda args: {"result": math.pi / 2, "grads": [], "args_after": []})
        assert not verdict.passed
        messages.append(verdict.message)
    assert any("going downhill from the start" in m and "ends at x = " in m for m in messages), messages


def test_recovered_coefficients_are_those_of_this_runs_data():
    def slopes_of(coefficients):
        def answer(args):
            d = len(coefficients)
            bias = 0.5
            return {"outputs": torch.cat([torch.tensor([bias]), bias + coefficients]).reshape(d + 1, 1),
                    "model_type": "LM"}
        return answer

    kind = KINDS["recovers_coefficients"]
    now, earlier = _check("linear_mlp", "fit_linear_coefficients", 5), _check("linear_mlp", "fit_linear_coefficients", 6)
    _, _, true = kind._data(now)
    _, _, recorded = kind._data(earlier)
    assert _verdict(now, "linear_mlp", slopes_of(true)).passed
    replayed = _verdict(now, "linear_mlp", slopes_of(recorded))
    assert not replayed.passed and "the data were made with" in replayed.message


def test_drawn_shapes_keep_equal_sizes_equal():
    kind = KINDS["autograd_gradcheck"]
    check = CheckSpec("mm", "autograd_gradcheck", 1, "visible", "", draw=3,
                      params={**{k: key.default for k, key in kind.params.items()}, "function": "mm",
                              "input_shapes": [[3, 4], [4, 3]], "size_range": [2, 9]})
    shapes = []
    for draw in range(20):
        inputs = kind._inputs(dataclasses.replace(check, draw=draw))
        (a, b), (c, d) = (spec["shape"] for spec in inputs)
        assert b == c and a == d and all(2 <= s <= 9 for s in (a, b))
        shapes.append((a, b))
    assert len(set(shapes)) > 5


def test_a_drawn_dataset_reads_back_the_first_last_and_drawn_items():
    kind = KINDS["dataset_protocol"]
    for draw in range(10):
        samples, features, indices, _ = kind._instance(_check("tensors_autograd", "array_dataset", draw))
        assert 8 <= samples <= 24 and 2 <= features <= 6
        assert indices[:2] == [0, samples - 1] and len(indices) == 4 and all(0 <= i < samples for i in indices)
