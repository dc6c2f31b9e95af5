"""What every grading run shares: the device, the batch's setup (seed, threads, the child's data),
and grading one submission so that a fault of the grader still gives it a result.

Used by the commands and by the course platforms' integrations alike.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from ..checks import KINDS
from ..errors import AutograderError
from ..processes.executors import ExecutorPool
from ..settings.model import Assignment, Config
from ..settings.plan import plan_run
from .datasets import TrainingData, data_key, test_data_folder, training_data
from ..processes.zygotes import ZygotePool, modules_to_preload
from .results import SubmissionResult, every_check_failed
from .grade import grade_submission
from .setup import GradingSetup, needs_data
from ..processes.live import GradingInterrupted, stopping
from ..processes.options import SandboxOptions
from ..processes.prestart import Prestarted


def confirm_device(choice: str) -> str:
    """The device a run planned with ``choice`` ('auto', 'cpu' or 'cuda') uses, asked of torch."""
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise AutograderError("--device cuda was asked for, but torch sees no CUDA device here: "
                              "use --device cpu or --device auto")
    return choice


@contextmanager
def grading_setup(*, config: Config, assignment: Assignment, data_dir: str | Path | None, device: str | None,
                  seed: int | None, jobs: int = 1,
                  datasets: dict[str, TrainingData] | None = None,
                  warm: bool = True, prestarted: Prestarted | None = None,
                  threads: int | None = None) -> Iterator[GradingSetup]:
    """Everything a batch shares: device, seed, threads, the child's training data, and the warm
    processes kept per grading thread (an executor and a zygote, see processes/executors.py and
    processes/zygotes.py); ``warm=False`` starts every process of every submission cold.
    ``prestarted``: the processes the command line started for this batch, with the run they were
    planned for (the batch owns them from here). ``threads``: each job's torch threads, where the
    caller knows its share of the cores better than this machine's count (a cluster's grading slot)."""
    if prestarted is not None and prestarted.plan.jobs == jobs:
        run = prestarted.plan
    else:
        run = plan_run(config, device=device, seed=seed, data_dir=data_dir, jobs=jobs)
    chosen_device, chosen_seed, source = confirm_device(run.device), run.seed, run.data_dir
    threads = threads or run.threads
    zygotes, started = prestarted.hand_over() if prestarted is not None else ([], [])
    children = (ZygotePool(modules_to_preload(config.solution_dir(assignment.id) / assignment.file), zygotes)
                if warm and config.kit.warm_start else None)
    executors = ExecutorPool(None, started) if warm else None
    for process in ([] if children is not None else zygotes) + ([] if executors is not None else started):
        process.close()
    try:
        if children is not None:    # the zygotes import torch and trace while the data loads
            children.start_ahead(SandboxOptions.for_submission(config, assignment, device=chosen_device,
                                                               seed=chosen_seed, threads=threads, data_dir=source),
                                 jobs)
        data_file, test_labels = None, None
        if needs_data(assignment):
            name = assignment.dataset
            held = test_data_folder(assignment.training, config.root)
            cache, key = (datasets if datasets is not None else {}), data_key(name, held)
            if key not in cache:
                cache[key] = training_data(name, source, allow_download=config.kit.allow_download,
                                           test_data=held)
            data_file, test_labels = cache[key].executor_file, cache[key].test_labels
        if executors is not None:
            executors.data_file = data_file
        for check in assignment.checks:       # the judges' libraries, imported outside their deadlines
            KINDS[check.kind].warm_up(check)
        yield GradingSetup(config=config, assignment=assignment, device=chosen_device,
                           seed=chosen_seed, threads=threads, data_file=data_file, test_labels=test_labels,
                           data_dir=source, executors=executors, children=children)
    finally:
        if executors is not None:
            executors.close()
        if children is not None:
            children.close()


def grade_safely(setup: GradingSetup, path: str | Path) -> SubmissionResult:
    """Grade one submission; a fault in the grader itself still yields a result, never a lost one.

    A fault that is not the submission's (the grader's executor dying, a process killed from
    outside, a bug of the grader) is graded once more. If the grader fails again, the result
    says "not graded: grader fault (...)" and carries no score; a child killed the same way twice
    is taken as what the submission itself did.
    """
    first = _grade_once(setup, path)
    cause = retry_reason(first)
    if cause is None or stopping():     # Ctrl-C or SIGTERM: what died was stopped by it
        return first
    second = _grade_once(setup, path)
    if retry_reason(second) is None:
        second.notes.insert(0, f"graded a second time: the first attempt ended through no fault of the "
                               f"submission ({cause})")
        return second
    if is_grader_fault(second.status):
        mark_not_graded(second, second.status)
    return second


def mark_not_graded(result: SubmissionResult, why: str) -> SubmissionResult:
    """A result the grader could not give, through no fault of the submission: no score (grades.csv
    leaves it empty), and the reason in its status."""
    result.status = f"{NOT_GRADED}: grader fault ({why})"
    result.extra["graded"] = False
    return result


NOT_GRADED = "not graded"
# A kill the kit did not send: SIGKILL or SIGTERM from outside (the kernel's out-of-memory killer,
# another program), in the words describe_exit uses.
_OUTSIDE_KILL = re.compile(r"^the submission's process crashed \((killed|terminated), signal (9|15)\)")


def is_grader_fault(status: str) -> bool:
    """The grader's own executor died, or the grader failed (a judge past its deadline included, see
    grade.py): the submission did nothing wrong."""
    return status.startswith(("the grader's executor", "the grader failed"))


def retry_reason(result: SubmissionResult) -> str | None:
    """Why grading ended through no fault of the submission's that the kit knows of, or None."""
    if is_grader_fault(result.status) or _OUTSIDE_KILL.match(result.status):
        return result.status
    return None


def _grade_once(setup: GradingSetup, path: str | Path) -> SubmissionResult:
    try:
        return grade_submission(setup, path)
    except GradingInterrupted:          # Ctrl-C: the batch stops, no result is made up
        raise
    except Exception as exc:  # a grader bug must not stop the batch
        reason = f"the grader failed on this submission ({type(exc).__name__}: {exc}); no check was passed"
        return every_check_failed(setup.assignment, Path(path).stem, str(path), reason)
