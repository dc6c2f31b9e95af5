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

from ..settings.loader import Assignment, Config
from .datasets import TrainingData, data_key, test_data_folder, training_data
from ..settings.places import resolve_data_dir
from ..errors import AutograderError
from ..processes.executors import ExecutorPool
from ..settings.plan import default_jobs, threads_per_job, usable_cores  # noqa: F401 - part of this module's interface
from ..processes.zygotes import ZygotePool, modules_to_preload
from .results import SubmissionResult, every_check_failed
from .grade import GradingSetup, grade_submission, needs_data
from ..processes import sandbox as sandbox_module
from ..processes.sandbox import GradingInterrupted, SandboxOptions


def resolve_device(option: str | None, config: Config) -> str:
    choice = option or config.kit["device"]
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise AutograderError("--device cuda was asked for, but torch sees no CUDA device here: "
                              "use --device cpu or --device auto")
    if choice not in ("cpu", "cuda"):
        raise AutograderError(f"unknown device '{choice}': use auto, cpu or cuda")
    return choice


@contextmanager
def grading_setup(*, config: Config, assignment: Assignment, data_dir: str | Path | None, device: str | None,
                  seed: int | None, jobs: int = 1,
                  datasets: dict[str, TrainingData] | None = None,
                  warm: bool = True) -> Iterator[GradingSetup]:
    """Everything a batch shares: device, seed, threads, the child's training data, and the warm
    processes kept per grading thread (an executor and a zygote, see executor_pool.py and
    warm_start.py); ``warm=False`` starts every process of every submission cold."""
    chosen_device = resolve_device(device, config)
    threads = threads_per_job(jobs)
    chosen_seed = config.kit["seed"] if seed is None else seed
    # one rule for the data folder, whichever check reads it (MNIST for training, CIFAR-10's images)
    source = resolve_data_dir(option=data_dir, config_value=config.kit["data_dir"], config_root=config.root)
    children = (ZygotePool(modules_to_preload(config.solution_dir(assignment.id) / assignment.file))
                if warm and config.kit["warm_start"] else None)
    if children is not None:    # the zygotes import torch and trace while the data loads
        children.start_ahead(SandboxOptions.for_submission(config, assignment, device=chosen_device,
                                                           seed=chosen_seed, threads=threads, data_dir=source), jobs)
    try:
        data_file, test_labels = None, None
        if needs_data(assignment):
            name = assignment.training.get("dataset", "mnist")
            held = test_data_folder(assignment.training, config.root)
            cache, key = (datasets if datasets is not None else {}), data_key(name, held)
            if key not in cache:
                cache[key] = training_data(name, source, allow_download=config.kit["allow_download"],
                                           test_data=held)
            data_file, test_labels = cache[key].executor_file, cache[key].test_labels
        executors = ExecutorPool(data_file) if warm else None
        try:
            yield GradingSetup(config=config, assignment=assignment, device=chosen_device,
                               seed=chosen_seed, threads=threads, data_file=data_file, test_labels=test_labels,
                               data_dir=source, executors=executors, children=children)
        finally:
            if executors is not None:
                executors.close()
    finally:
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
    if cause is None or sandbox_module.stopping():     # Ctrl-C or SIGTERM: what died was stopped by it
        return first
    second = _grade_once(setup, path)
    if retry_reason(second) is None:
        second.notes.insert(0, f"graded a second time: the first attempt ended through no fault of the "
                               f"submission ({cause})")
        return second
    if is_grader_fault(second.status):
        second.status = f"{NOT_GRADED}: grader fault ({second.status})"
        second.extra["graded"] = False
    return second


NOT_GRADED = "not graded"
# A kill the kit did not send: SIGKILL or SIGTERM from outside (the kernel's out-of-memory killer,
# another program), in the words describe_exit uses.
_OUTSIDE_KILL = re.compile(r"^the submission's process crashed \((killed|terminated), signal (9|15)\)")


def is_grader_fault(status: str) -> bool:
    """The grader's own executor died, or the grader failed: the submission did nothing wrong."""
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
