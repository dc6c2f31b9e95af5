"""Start a batch's warm processes before the parent imports torch, and hand them to that batch.

Importing torch takes the parent about a second, and so does each zygote's and
executor's own import. ``autograder grade`` and ``autograder check`` therefore
read grading.toml's limits (not its checks, which need torch), plan the run,
start the zygotes the batch will use, and only then load the rest of the kit:
the imports run side by side. ``start_processes`` returns a ``Prestarted``
handle; the command line passes it to the batch, which takes its processes
(a zygote only where it shows a submission what the batch's own would) and
closes what it does not use. The command line closes the handle in any case.

For an assignment with a training run and one job, the executor starts once
the parent has imported torch (``start_deferred``), not beside it: the
zygote's warm-up and then the child's compile form the one chain nothing can
run beside, and with three imports at once on two cores that chain gets two
thirds of a core instead of a whole one.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import AutograderError
from ..settings.loader import load_config
from ..settings.plan import RunPlan, plan_run
from .options import SandboxOptions
from .sandbox import Sandbox
from .zygotes import Zygote, modules_to_preload, start_zygotes


@dataclass
class Prestarted:
    """Processes started for one batch before torch was imported, with the run they were planned for."""

    plan: RunPlan
    zygotes: list[Zygote] = field(default_factory=list)
    executors: list[Sandbox] = field(default_factory=list)
    deferred: SandboxOptions | None = None      # an executor to start once torch is loaded
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start_deferred(self) -> None:
        """Start the executor put off until the parent has imported torch."""
        with self._lock:
            options, self.deferred = self.deferred, None
        if options is not None:
            box = Sandbox(None, options, data_later=True).start()
            with self._lock:
                self.executors.append(box)

    def hand_over(self) -> tuple[list[Zygote], list[Sandbox]]:
        """The processes, for a batch to own from now on (each is handed over once)."""
        with self._lock:
            zygotes, executors = self.zygotes, self.executors
            self.zygotes, self.executors, self.deferred = [], [], None
        return zygotes, executors

    def close(self) -> None:
        """Close whatever no batch took (after a config error, say)."""
        zygotes, executors = self.hand_over()
        for process in [*zygotes, *executors]:
            process.close()


def start_processes(*, assignment_id: str, config_path: str | Path | None, data_dir: str | Path | None,
                    device: str | None, seed: int | None, jobs: int | None,
                    submissions: Sequence[str | Path]) -> Prestarted | None:
    """Start the processes a batch of ``submissions`` will take, when their options are clear without torch.
    Any problem (a bad config, a course platform's .zip whose size is unknown) just skips this: the
    batch reports it, or starts its zygotes itself."""
    if not submissions or any(str(path).lower().endswith(".zip") for path in submissions):
        return None
    try:
        config = load_config(config_path)
        assignment = config.assignment(assignment_id)
        run = plan_run(config, device=device, seed=seed, data_dir=data_dir, jobs=jobs, submissions=len(submissions))
    except AutograderError:
        return None
    device_now = run.device_without_torch()
    if not config.kit.warm_start or device_now is None:
        return None
    run = dataclasses.replace(run, device=device_now)
    options = SandboxOptions.for_submission(config, assignment, device=run.device, seed=run.seed,
                                            threads=run.threads, data_dir=run.data_dir)
    preload = modules_to_preload(config.solution_dir(assignment.id) / assignment.file)
    # a zygote that will fork a single child skips the throwaway trace (worth it from the second child on)
    zygotes = start_zygotes(dataclasses.replace(options, preload=preload, trace_ahead=len(submissions) > run.jobs),
                            run.jobs)
    # several jobs: each executor starts as its thread begins
    deferred = dataclasses.replace(options, program="executor") if assignment.training and run.jobs == 1 else None
    return Prestarted(run, zygotes, deferred=deferred)
