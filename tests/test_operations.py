"""Every operation declared in wire/operations.py has a handler taking exactly its arguments."""

from __future__ import annotations

import inspect

import pytest

from autograder.child.main import register_answers
from autograder.child.probes import PROBES
from autograder.executor.measure import HANDLERS
from autograder.wire.operations import EXECUTOR, WORKER

register_answers()


def arguments(handler) -> tuple[str, ...]:
    return tuple(list(inspect.signature(handler).parameters)[1:])      # without the state


@pytest.mark.parametrize("name", sorted(WORKER))
def test_worker_operation_has_a_handler_with_its_arguments(name):
    assert name in PROBES, f"no worker handler for '{name}'"
    assert arguments(PROBES[name]) == WORKER[name]


@pytest.mark.parametrize("name", sorted(EXECUTOR))
def test_executor_operation_has_a_handler_with_its_arguments(name):
    assert name in HANDLERS, f"no executor handler for '{name}'"
    assert arguments(HANDLERS[name]) == EXECUTOR[name]


def test_no_handler_is_left_undeclared():
    assert set(PROBES) == set(WORKER) and set(HANDLERS) == set(EXECUTOR)
    assert not set(WORKER) & set(EXECUTOR), "one name, one side"


def test_every_probe_a_check_asks_for_is_declared():
    from autograder.checks import KINDS
    from autograder.checks import load_config

    config = load_config()
    for assignment in config.assignments.values():
        for check in assignment.checks:
            for probe in KINDS[check.kind].probes(check, assignment):
                assert probe.op in WORKER or probe.op in EXECUTOR, (assignment.id, check.name, probe.op)
                declared = WORKER.get(probe.op) or EXECUTOR[probe.op]
                assert set(probe.args) <= set(declared), (assignment.id, check.name, set(probe.args) - set(declared))
