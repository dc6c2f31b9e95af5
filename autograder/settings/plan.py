"""What one command's grading runs with, decided once and before torch is imported: the device
asked for, the seed, how many submissions are graded at once, each one's torch threads, and the
data folder. ``processes/prestart.py`` starts warm processes from it; ``grading/batch.py`` sets a
batch up from it. No torch here: whether CUDA really works is confirmed by the grading side.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import AutograderError
from .schema import DEVICES
from .model import Config
from .places import resolve_data_dir



def usable_cores() -> int:
    """The cores this process may run on (a container or taskset may allow fewer than the machine has)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_jobs(submissions: int) -> int:
    """Submissions graded at once when --jobs is not given: one per usable core, never more than
    there are submissions (so that a single submission gets every core for its threads)."""
    return max(1, min(usable_cores(), submissions))


def threads_per_job(jobs: int) -> int:
    """Each job's share of the cores, for its torch threads."""
    return max(1, usable_cores() // max(jobs, 1))


def chosen_device(option: str | None, config: Config) -> str:
    """--device, else grading.toml's kit.device: 'auto', 'cpu' or 'cuda' (not yet checked against torch)."""
    choice = option or config.kit.device
    if choice not in DEVICES:
        raise AutograderError(f"unknown device '{choice}': use auto, cpu or cuda")
    return choice


@dataclass(frozen=True)
class RunPlan:
    """One command's run: every submission of its batch is graded with these."""

    device: str         # 'auto', 'cpu' or 'cuda', as asked; grading/batch.py confirms it with torch
    seed: int
    jobs: int
    threads: int        # torch threads of each job
    data_dir: Path

    def device_without_torch(self) -> str | None:
        """The device grading will use, where that is clear without torch (None: it is not)."""
        if self.device == "auto":
            return None if glob.glob("/dev/nvidia*") else "cpu"
        return self.device


def plan_run(config: Config, *, device: str | None = None, seed: int | None = None,
             data_dir: str | Path | None = None, jobs: int | None = None, submissions: int = 1) -> RunPlan:
    """The run a command's options and grading.toml ask for (``submissions``: how many the batch grades)."""
    jobs = jobs or default_jobs(submissions)
    return RunPlan(device=chosen_device(device, config), seed=config.kit.seed if seed is None else seed,
                   jobs=jobs, threads=threads_per_job(jobs), data_dir=data_folder(config, data_dir))


def data_folder(config: Config, option: str | Path | None = None) -> Path:
    """The data folder: --data-dir, else $AUTOGRADER_DATA, else kit.data_dir, else ./data."""
    return resolve_data_dir(option=option, config_value=config.kit.data_dir, config_root=config.root)
