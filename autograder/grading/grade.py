"""Grade one submission: intake → plan → session → judge → result.

Two processes answer: the submission's child, which loads the file, compiles
each model into an op graph and runs what cannot be compiled; and the
grader's own executor, which rebuilds those graphs from allow-listed ops and
makes every model measurement itself (shapes, layers, gradients, modes, the
training run). The parent judges the raw answers; it alone holds the test
labels. A check whose questions were never answered fails with the reason;
no check passes without having run. ``extra_data.executed_by`` records, per
check, whether the grader or the submission's process computed its facts.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import torch

from ..checks import JudgeContext
from ..checks.instances import submission_draw
from ..intake.notebook import ModuleFile, NotebookError
from ..intake.submission import find_submission
from ..wire.answers import Answer
from . import leaderboard
from .facts import page_facts
from .judge import judge_all
from .plan import plan_submission
from .results import SubmissionResult, every_check_failed
from .root_cause import apply_root_cause, root_cause_note
from .session import Session
from .setup import GradingSetup


def grade_submission(setup: GradingSetup, path: Path | str, *, companions: Path | None = None) -> SubmissionResult:
    """Grade one handed-in file or folder; never raises for a bad submission. ``companions``: the folder
    of the files handed in beside it (trained weights), where that is not ``path``'s own."""
    started = time.monotonic()
    assignment = setup.assignment
    submission = find_submission(path, assignment.file)
    if submission.path is None:
        return _failed_result(setup, submission.name, str(path), submission.problem, started)
    plan = plan_submission(assignment, submission_draw(setup.seed, submission.path), submission.path.name)
    module = ModuleFile(submission.path, assignment.file)   # a notebook becomes a .py in a temporary folder
    try:
        module.open()
    except NotebookError as exc:
        return _failed_result(setup, submission.name, str(path), exc.message, started)
    answers: dict[str, Answer] = {}
    with module, Session(setup, module.path, path, needs_executor=bool(plan.compiles),
                         companions=companions) as session:
        loaded = session.load(plan.load)
        if loaded.ok:
            session.compile_all(plan)
            answers = {question.key: session.ask(question) for question in plan.ordered}
        record = session.record()
    output = session.output()     # after the child has exited and flushed what it printed

    context = JudgeContext(test_labels=setup.test_labels, data_dir=setup.data_dir)
    judged = judge_all(plan, loaded, answers, context, assignment, submission.path.name)
    notes = list(module.notes) + (load_notes(loaded.value) if loaded.ok else [])
    cause = apply_root_cause(judged.results, requires={check.name: check.requires for check in assignment.checks})
    if cause is not None:
        notes.insert(0, root_cause_note(cause))
    extra = {**_extra(setup, judged.check_seconds), "peak_memory_mib": round(record.peak_rss / 2**20, 1),
             "check_details": judged.check_details, "executed_by": judged.executed_by,
             **page_facts(plan.per_check, answers, context, judged.check_details),
             **({"root_cause": cause} if cause is not None else {}),
             "isolation": record.isolation, "submitted_file": submission.path.name}
    seconds = time.monotonic() - started
    if assignment.leaderboard:
        extra["leaderboard"] = leaderboard.entries(assignment.leaderboard, extra, seconds)
    status = record.status
    if judged.timed_out and status == "graded":     # the grader's fault, not the submission's: graded again
        status = (f"the grader failed to judge {', '.join(judged.timed_out)} within [limits] judge_seconds "
                  f"({assignment.limits.judge_seconds:g} s)")
    return SubmissionResult(assignment.id, submission.name, str(path), judged.results, status=status,
                            seconds=seconds, output=output, notes=notes, extra=extra)


def load_notes(loaded: dict) -> list[str]:
    """What loading skipped or could not import, said once per submission."""
    notes = []
    skipped = loaded["skipped"]
    if skipped:
        lines = ", ".join(str(line) for line, _ in skipped[:8]) + (", ..." if len(skipped) > 8 else "")
        where = "line" if len(skipped) == 1 else "lines"
        notes.append(f"{len(skipped)} top-level statement(s) that are not definitions were not run "
                     f"({where} {lines}): grading uses only imports, functions, classes and constants")
    for name in loaded["missing_modules"]:
        notes.append(f"module '{name}' is not installed on the grader; using it fails")
    return notes


def _failed_result(setup: GradingSetup, name: str, source: str, reason: str, started: float) -> SubmissionResult:
    return every_check_failed(setup.assignment, name, source, reason,
                              seconds=time.monotonic() - started, extra=_extra(setup, {}))


def _extra(setup: GradingSetup, check_seconds: dict) -> dict:
    return {
        "assignment": setup.assignment.id,
        "seed": setup.seed,
        "device": setup.device,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "check_seconds": check_seconds,
    }
