"""The audit: do an assignment's checks catch the mistakes students make?

For each assignment: make mutants of the reference solution with the operators
of ``mutations/`` (inside what the checks grade), grade the reference and every
mutant in one warm batch exactly as ``autograder grade`` grades submissions, then

- a mutant that lost at least one point is **killed**: some check gave it fewer points than it gave
  the reference (partial and extra credit count check by check);
- a mutant with full marks **survived**, unless it is **equivalent**: it answers
  every question the checks ask exactly as the reference does (measured by
  ``audit_equivalence.py``, never guessed), so no check could have told them
  apart. Only survivors are measured: a mutant that lost points was told apart
  by the checks already;
- a mutant the grader could not grade (a fault of the grader's, retried once)
  is **not graded**.

The mutation score is killed / (killed + survived). The reference must earn
full marks in the same batch, or the audit stops: against a reference that
loses points, every mutant would look killed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import mutations
from ..settings.model import Assignment, Config
from ..checks import load_config
from ..errors import AutograderError
from .mutations import Mutant

KILLED, SURVIVED, EQUIVALENT, NOT_GRADED = "killed", "survived", "equivalent", "not graded"
STATUSES = (KILLED, SURVIVED, EQUIVALENT, NOT_GRADED)


@dataclass
class MutantOutcome:
    mutant: Mutant
    status: str
    score: float
    max_score: float
    failed_checks: list[str]
    passed_checks: list[str]
    equivalence: str = ""          # what set it apart from the reference, or why it is equivalent; "" not measured
    note: str = ""                 # why it was not graded, or why equivalence could not be measured


@dataclass
class AssignmentAudit:
    assignment: str
    title: str
    seed: int
    made: int                      # mutants the operators made, before --max-mutants
    outcomes: list[MutantOutcome] = field(default_factory=list)
    seconds: float = 0.0
    noise: list[str] = field(default_factory=list)   # answers that differ between two runs of the reference

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def score(self) -> float | None:
        """Killed mutants over non-equivalent graded ones (None when there are none)."""
        killed, survived = self.count(KILLED), self.count(SURVIVED)
        return killed / (killed + survived) if killed + survived else None

    def by_operator(self) -> dict[str, Counter]:
        table: dict[str, Counter] = {}
        for outcome in self.outcomes:
            table.setdefault(outcome.mutant.operator, Counter())[outcome.status] += 1
        return table


def graded_names(assignment: Assignment) -> tuple[list[str], list[str]]:
    """The names the assignment's checks grade, and those graded "by hand" (a check with allowed_ops)."""
    from ..checks import KINDS

    names = {assignment.model} if assignment.model else set()
    by_hand: set[str] = set()
    for check in assignment.checks:
        found = {name.split(".")[0] for name in KINDS[check.kind].required_names(check, assignment)}
        names |= found
        if check.params.get("allowed_ops"):
            by_hand |= found
    return sorted(names), sorted(by_hand)


def make_mutants(config: Config, assignment: Assignment, *, max_mutants: int | None, seed: int,
                 operators: Sequence[str] | None = None) -> tuple[list[Mutant], int]:
    """The mutants to grade (sampled evenly over the operators when there are more than ``max_mutants``),
    and how many the operators made in all."""
    reference = config.solution_dir(assignment.id) / assignment.file
    names, by_hand = graded_names(assignment)
    try:
        made = mutations.mutants_of(reference.read_text(encoding="utf-8"), names, by_hand,
                                    filename=assignment.file, operators=operators)
    except ValueError as exc:
        raise AutograderError(str(exc)) from None
    return mutations.sample(made, max_mutants, seed), len(made)


def _write_mutants(folder: Path, assignment: Assignment, mutants: Sequence[Mutant],
                   weights: Path | None = None) -> list[Path]:
    """Each mutant's file, under a folder of its own; for a trained-weights assignment, the folder is
    the submission: the mutant's model file beside a copy of the reference's weights."""
    paths = []
    for mutant in mutants:
        path = folder / mutant.id / assignment.file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(mutant.source, encoding="utf-8")
        if weights is not None:
            shutil.copyfile(weights, path.parent / weights.name)
        paths.append(path.parent if weights is not None else path)
    return paths


def measure_equivalence(*, config: Config, assignment: Assignment, mutants: Sequence[tuple[str, Path]], seed: int,
                        data_dir: Path | None, work: Path, seconds_per_file: float = 120.0) -> tuple[dict, list[str]]:
    """id -> (equivalent or None when not measured, words) for each mutant, and the reference's noise."""
    if not mutants:
        return {}, []
    request = {"config": str(config.path), "assignment": assignment.id, "seed": seed,
               "reference": str((config.solution_dir(assignment.id) / assignment.file).resolve()),
               "mutants": [[mutant_id, str(Path(path).resolve())] for mutant_id, path in mutants],
               "data_dir": str(data_dir) if data_dir else None, "seconds_per_file": seconds_per_file}
    request_file, result_file = work / "equivalence-request.json", work / "equivalence.jsonl"
    request_file.write_text(json.dumps(request), encoding="utf-8")
    result_file.unlink(missing_ok=True)
    problem = ""
    try:
        done = subprocess.run([sys.executable, "-m", "autograder.audit.equivalence", str(request_file), str(result_file)],
                              capture_output=True, text=True, timeout=60 + seconds_per_file * (len(mutants) + 2))
        if done.returncode not in (0, 1):
            problem = f"the measuring process ended with status {done.returncode}: {done.stderr.strip()[-300:]}"
    except subprocess.TimeoutExpired:
        problem = "the measuring process ran out of time"
    verdicts: dict[str, tuple[bool | None, str]] = {}
    noise: list[str] = []
    lines = result_file.read_text(encoding="utf-8").splitlines() if result_file.exists() else []
    for line in lines:
        item = json.loads(line)
        if "error" in item:
            problem = item["error"]
        elif item.get("reference"):
            noise = list(item.get("noise", []))
        else:
            verdicts[item["id"]] = (bool(item["equivalent"]),
                                    "every answer to the checks' questions equals the reference's"
                                    if item["equivalent"] else item["difference"])
    for mutant_id, _ in mutants:
        verdicts.setdefault(mutant_id, (None, f"equivalence not measured: {problem or 'no answer'}"))
    return verdicts, noise


def _outcome(mutant: Mutant, result, reference) -> MutantOutcome:
    """Killed when some check gave the mutant fewer points than the reference (partial and extra credit
    included: a bonus earned elsewhere does not make up for a point lost)."""
    from ..grading.batch import NOT_GRADED as BATCH_NOT_GRADED

    earned = {c.name: c.points for c in reference.checks}
    lost = [c.name for c in result.checks if c.points < earned.get(c.name, c.max_points) - 1e-9]
    kept = [c.name for c in result.checks if c.name not in lost]
    if result.status.startswith(BATCH_NOT_GRADED):
        return MutantOutcome(mutant, NOT_GRADED, result.score, result.max_score, lost, kept, note=result.status)
    return MutantOutcome(mutant, KILLED if lost else SURVIVED, result.score, result.max_score, lost, kept)


class _Pool(ThreadPoolExecutor):
    """The batch's threads. Leaving it on an exception (Ctrl-C) stops every child at once and cancels
    the mutants not started, as ``autograder grade`` does."""

    def __exit__(self, exc_type, exc_value, traceback):
        if exc_type is not None:
            from ..processes.live import interrupt_all, resume

            interrupt_all("the audit was interrupted")
            self.shutdown(wait=True, cancel_futures=True)
            resume()
        return super().__exit__(exc_type, exc_value, traceback)


def audit_mutants(*, config: Config, assignment: Assignment, mutants: Sequence[Mutant], made: int, folder: Path,
                  data_dir: str | Path | None = None, device: str | None = None, seed: int, jobs: int | None = None,
                  progress: Progress | None = None) -> AssignmentAudit:
    """Grade the reference and ``mutants`` in one warm batch (files under ``folder``), then measure the
    survivors for equivalence."""
    from ..grading.batch import grade_safely, grading_setup
    from ..grading.reference_weights import reference_submission, weights_file
    from ..settings.plan import default_jobs
    from ..settings.plan import data_folder

    started = time.monotonic()
    audit = AssignmentAudit(assignment.id, assignment.title, seed, made)
    reference = config.solution_dir(assignment.id) / assignment.file
    jobs = jobs or default_jobs(len(mutants) + 1)
    task = progress.add_task(f"auditing {assignment.id}", total=len(mutants) + 1) if progress is not None else None
    results: dict[int, object] = {}
    with grading_setup(config=config, assignment=assignment, data_dir=data_dir, device=device, seed=seed,
                       jobs=jobs) as setup:
        # A trained-weights assignment grades a folder: the model's file and its weights. Every mutant
        # is handed in with the reference's weights, as a student who changed the file after training.
        say = progress.console.print if progress is not None else None
        handed_in = reference_submission(assignment, reference, setup.data_dir, say=say)
        name = weights_file(assignment)
        weights = handed_in / name if name is not None else None
        paths = [handed_in, *_write_mutants(folder, assignment, mutants, weights)]
        with _Pool(max_workers=max(jobs, 1)) as pool:
            futures = {pool.submit(grade_safely, setup, path): index for index, path in enumerate(paths)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if progress is not None:
                    progress.advance(task)
    graded_reference = results[0]
    if getattr(graded_reference, "regular_score", graded_reference.score) < graded_reference.max_score:
        lost = ", ".join(c.name for c in graded_reference.checks if not c.passed)
        raise AutograderError(
            f"the reference solution of {assignment.id} scores {graded_reference.score:g}/"
            f"{graded_reference.max_score:g} in the audit's batch (failed: {lost or graded_reference.status}); "
            f"an audit needs a reference with full marks: run `autograder verify {assignment.id}` and fix it first")
    audit.outcomes = [_outcome(mutant, results[index + 1], graded_reference) for index, mutant in enumerate(mutants)]
    survivors = [(o.mutant.id, folder / o.mutant.id / assignment.file)
                 for o in audit.outcomes if o.status == SURVIVED]
    if survivors:
        if progress is not None:
            progress.update(task, description=f"auditing {assignment.id}: measuring {len(survivors)} survivor(s)")
        source = data_folder(config, data_dir)
        verdicts, audit.noise = measure_equivalence(config=config, assignment=assignment, mutants=survivors,
                                                    seed=seed, data_dir=source, work=folder)
        for outcome in audit.outcomes:
            if outcome.mutant.id in verdicts:
                equivalent, words = verdicts[outcome.mutant.id]
                if equivalent is None:
                    outcome.note = words
                else:
                    outcome.equivalence = words
                    outcome.status = EQUIVALENT if equivalent else SURVIVED
    if progress is not None:
        progress.update(task, description=f"audited {assignment.id}")
    audit.seconds = time.monotonic() - started
    return audit


def audit_assignments(*, assignment_ids: Sequence[str], out_dir: str | Path | None = None,
                      config_path: str | Path | None = None, data_dir: str | Path | None = None,
                      device: str | None = None, seed: int | None = None, jobs: int | None = None,
                      max_mutants: int | None = None, operators: Sequence[str] | None = None,
                      console: Console | None = None) -> list[AssignmentAudit]:
    """Audit each assignment's checks with mutants of its reference solution; with ``out_dir``, the
    mutants are kept (DIR/mutants/<assignment>/<mutant>/<file>). The caller writes the reports."""
    if not assignment_ids:
        raise AutograderError("name at least one assignment to audit (`autograder list` shows them)")
    if max_mutants is not None and max_mutants < 1:
        raise AutograderError("--max-mutants must be at least 1")
    config = load_config(config_path)
    assignments = [config.assignment(assignment_id) for assignment_id in assignment_ids]
    chosen_seed = config.kit.seed if seed is None else seed
    planned = [(a, *make_mutants(config, a, max_mutants=max_mutants, seed=chosen_seed, operators=operators))
               for a in assignments]
    out = Path(out_dir) if out_dir is not None else None
    scratch = None if out is not None else Path(tempfile.mkdtemp(prefix="autograder-audit-"))
    audits: list[AssignmentAudit] = []
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console or Console(stderr=True), disable=console is None)
    try:
        with progress:
            for assignment, mutants, made in planned:
                folder = (out / "mutants" / assignment.id) if out is not None else scratch / assignment.id
                if folder.exists():
                    shutil.rmtree(folder)       # mutants of an earlier audit must not mix with these
                folder.mkdir(parents=True)
                audits.append(audit_mutants(config=config, assignment=assignment, mutants=mutants, made=made,
                                            folder=folder, data_dir=data_dir, device=device, seed=chosen_seed,
                                            jobs=jobs, progress=progress))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return audits
