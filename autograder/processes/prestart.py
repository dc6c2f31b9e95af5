"""Start a batch's warm processes before the parent imports torch.

Importing torch takes the parent about a second, and so does each zygote's and
executor's own import (zygotes.py, executors.py). ``autograder grade``
and ``autograder check`` therefore read grading.toml's limits (not its checks,
which need torch), start the zygotes the batch will use, and only then load
the rest of the kit: the imports run side by side. The batch takes these
processes by key (the same sandbox options, computed by the same functions);
any it does not take are closed with the batch. Nothing here imports torch.

For an assignment with a training run, the executor is started once the
parent has imported torch (``start_deferred``), not beside it. The zygote's
warm-up and then the child's compile form the one chain that nothing can run
beside: with three imports at once on two cores the zygote got two thirds of
a core; with two, a whole one, and the executor (which is not needed before
the compile ends) still finishes its import first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

from ..errors import AutograderError
from ..settings.loader import load_config
from ..settings.plan import plan_run
from .options import SandboxOptions
from . import executors, zygotes
from .zygotes import modules_to_preload


def start_processes(*, assignment_id: str, config_path: str | Path | None, data_dir: str | Path | None,
                  device: str | None, seed: int | None, jobs: int | None,
                  submissions: Sequence[str | Path]) -> None:
    """Start the processes a batch of ``submissions`` will take, when their options are clear without torch.
    Any problem (a bad config, a course platform's .zip whose size is unknown) just skips this:
    the batch reports it, or starts its zygotes itself."""
    if not submissions or any(str(path).lower().endswith(".zip") for path in submissions):
        return
    try:
        config = load_config(config_path)
        assignment = config.assignment(assignment_id)
        run = plan_run(config, device=device, seed=seed, data_dir=data_dir, jobs=jobs, submissions=len(submissions))
    except AutograderError:
        return
    chosen_device = run.device_without_torch()
    if not config.kit.warm_start or chosen_device is None:
        return
    jobs = run.jobs
    options = SandboxOptions.for_submission(config, assignment, device=chosen_device, seed=run.seed,
                                            threads=run.threads, data_dir=run.data_dir)
    preload = modules_to_preload(config.solution_dir(assignment.id) / assignment.file)
    # a zygote that will fork a single child skips the throwaway trace (worth it from the second child on)
    zygotes.start_ahead(dataclasses.replace(options, preload=preload, trace_ahead=len(submissions) > jobs), jobs)
    if assignment.training and jobs == 1:       # several jobs: each executor starts as its thread begins
        DEFERRED.append(dataclasses.replace(options, program="executor"))


DEFERRED: list[SandboxOptions] = []     # executors to start once the parent has imported torch


def start_deferred() -> None:
    """Start the executors ``start_processes`` put off; called once the kit (and torch) is loaded."""
    while DEFERRED:
        executors.start_ahead(DEFERRED.pop())


def close_unused() -> None:
    """Close every process started ahead that no batch took (after a config error, say)."""
    DEFERRED.clear()
    zygotes.AHEAD.close()
    executors.AHEAD.close()
