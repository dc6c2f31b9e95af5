"""Every operation declared in wire/operations.py has a handler taking exactly its arguments."""

from __future__ import annotations

import inspect

import pytest

from autograder.child.main import register_answers
from autograder.child.answers import ANSWERS
from autograder.executor.measure import HANDLERS
from autograder.wire.operations import EXECUTOR, WORKER

register_answers()


def arguments(handler) -> tuple[str, ...]:
    return tuple(list(inspect.signature(handler).parameters)[1:])      # without the state


@pytest.mark.parametrize("name", sorted(WORKER))
def test_worker_operation_has_a_handler_with_its_arguments(name):
    assert name in ANSWERS, f"no worker handler for '{name}'"
    assert arguments(ANSWERS[name]) == WORKER[name]


@pytest.mark.parametrize("name", sorted(EXECUTOR))
def test_executor_operation_has_a_handler_with_its_arguments(name):
    assert name in HANDLERS, f"no executor handler for '{name}'"
    assert arguments(HANDLERS[name]) == EXECUTOR[name]


def test_no_handler_is_left_undeclared():
    assert set(ANSWERS) == set(WORKER) and set(HANDLERS) == set(EXECUTOR)
    assert not set(WORKER) & set(EXECUTOR), "one name, one side"


def test_every_question_a_check_asks_for_is_declared():
    from autograder.checks import KINDS
    from autograder.checks import load_config

    config = load_config()
    for assignment in config.assignments.values():
        for check in assignment.checks:
            for question in KINDS[check.kind].questions(check, assignment):
                assert question.op in WORKER or question.op in EXECUTOR, (assignment.id, check.name, question.op)
                declared = WORKER.get(question.op) or EXECUTOR[question.op]
                assert set(question.args) <= set(declared), (assignment.id, check.name, set(question.args) - set(declared))
