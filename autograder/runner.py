"""Grade one submission: plan the questions, ask them in a sandbox, judge the answers.

The runner never trusts the child with a verdict. It collects each probe's
answer (or the reason there is none), then every check's judge decides from
those raw answers in this process. A check whose questions were never
answered fails with the reason; no check passes without having run.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .checks import KINDS, JudgeContext, Probe
from .checks.base import LOAD, TRAIN, explain_failure, materialize
from .config import Assignment, Config
from .data import cache_dir
from .results import CheckResult, SubmissionResult
from .sandbox import Answer, Sandbox, SandboxOptions
from .notebook import ModuleFile, NotebookError
from .submission import find_submission


@dataclass(frozen=True)
class GradingSetup:
    """What every submission of one batch shares."""

    config: Config
    assignment: Assignment
    device: str
    seed: int
    threads: int
    data_file: Path | None = None          # training data for the child (no test labels)
    test_labels: torch.Tensor | None = None
    data_dir: Path | None = None           # where the dataset was found (hidden from the child)


def needs_data(assignment: Assignment) -> bool:
    return any(KINDS[c.kind].needs_data for c in assignment.checks)


def _plan(assignment: Assignment) -> tuple[Probe, list[tuple], list[Probe]]:
    """The load question, each check with its probes, and the unique probes in asking order."""
    names: set[str] = set()
    per_check, unique = [], {}
    for check in assignment.checks:
        kind = KINDS[check.kind]
        names.update(kind.required_names(check, assignment))
        probes = kind.probes(check, assignment)
        per_check.append((check, kind, probes))
        for probe in probes:
            unique.setdefault(probe.key, probe)
    # Quick questions first, so a slow or stuck training run cannot hide them.
    ordered = sorted(unique.values(), key=lambda p: p.limit == TRAIN)
    load = Probe("load", {"names": sorted(names)}, f"loading {assignment.file}", limit=LOAD)
    return load, per_check, ordered


def _failed_result(setup: GradingSetup, name: str, source: str, reason: str, started: float) -> SubmissionResult:
    checks = [CheckResult(c.name, c.description, c.points, False, reason, c.visibility)
              for c in setup.assignment.checks]
    return SubmissionResult(setup.assignment.id, name, source, checks, status=reason,
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


def _hidden_folders(setup: GradingSetup, path: Path | str) -> tuple:
    """Folders the child must not see: the kit, the data, where submissions and reports live."""
    folders = [setup.config.root, Path.cwd(), Path(path).resolve().parent, cache_dir()]
    for value in (setup.data_dir, os.environ.get("AUTOGRADER_DATA"), setup.config.kit.get("data_dir")):
        if value:
            folders.append(setup.config.root / value if not Path(value).is_absolute() else Path(value))
    return tuple(folders)


def grade_submission(setup: GradingSetup, path: Path | str) -> SubmissionResult:
    """Grade one handed-in file or folder; never raises for a bad submission."""
    started = time.monotonic()
    assignment = setup.assignment
    submission = find_submission(path, assignment.file)
    if submission.path is None:
        return _failed_result(setup, submission.name, str(path), submission.problem, started)

    load, per_check, ordered = _plan(assignment)
    limits = assignment.limits
    options = SandboxOptions(device=setup.device, seed=setup.seed, threads=setup.threads,
                             memory_gib=limits.memory_gib, output_kib=limits.output_kib,
                             processes=limits.processes, disk_mib=limits.disk_mib,
                             answer_mib=limits.answer_mib, answer_elements=limits.answer_elements,
                             hidden=_hidden_folders(setup, path), uid=setup.config.kit["sandbox_uid"])
    answers: dict[str, Answer] = {}
    module = ModuleFile(submission.path, assignment.file)   # a notebook becomes a .py in a temporary folder
    try:
        module.open()
    except NotebookError as exc:
        return _failed_result(setup, submission.name, str(path), exc.message, started)
    notes: list[str] = list(module.notes)
    with module, Sandbox(module.path, options, data_file=setup.data_file) as box:
        loaded = box.ask("load", load.args, timeout=limits.load_seconds, label=load.label)
        if loaded.ok:
            skipped = loaded.value["skipped"]
            if skipped:
                lines = ", ".join(str(line) for line, _ in skipped[:8]) + (", ..." if len(skipped) > 8 else "")
                where = "line" if len(skipped) == 1 else "lines"
                notes.append(f"{len(skipped)} top-level statement(s) that are not definitions were not run "
                             f"({where} {lines}): grading uses only imports, functions, classes and constants")
            for module in loaded.value["missing_modules"]:
                notes.append(f"module '{module}' is not installed on the grader; using it fails")
            for probe in ordered:
                answers[probe.key] = box.ask(probe.op, materialize(probe.args),
                                             timeout=getattr(limits, probe.limit), label=probe.label)
        status = box.dead_reason or "graded"
        output = box.output.text()
        peak_rss = box.peak_rss
        isolation = box.isolation.record()

    context = JudgeContext(test_labels=setup.test_labels)
    results, check_seconds, check_details = [], {}, {}
    for check, kind, probes in per_check:
        judge_started = time.monotonic()
        if not loaded.ok:
            passed, message = False, explain_failure(loaded, load)
            if not loaded.fatal:
                message = f"{assignment.file} could not be loaded: {message}"
        else:
            try:
                verdict = kind.verdict(check, assignment, probes, [answers[p.key] for p in probes], context)
                passed, message = verdict.passed, verdict.message
                if verdict.details:
                    check_details[check.name] = verdict.details
            except Exception as exc:  # a judge that breaks must never pass a check
                passed, message = False, f"the grader could not judge this check ({type(exc).__name__}: {exc})"
        seconds = sum(answers[p.key].seconds for p in probes if p.key in answers)
        seconds += time.monotonic() - judge_started
        check_seconds[check.name] = round(seconds, 3)
        results.append(CheckResult(check.name, check.description, check.points, passed, message,
                                   check.visibility, seconds))

    extra = _extra(setup, check_seconds)
    extra["peak_memory_mib"] = round(peak_rss / 2**20, 1)
    extra["check_details"] = check_details
    extra["isolation"] = isolation
    return SubmissionResult(assignment.id, submission.name, str(path), results, status=status,
                            seconds=time.monotonic() - started, output=output, notes=notes, extra=extra)
