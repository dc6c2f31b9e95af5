"""What every submission of one batch shares (``GradingSetup``), and the sandbox options of its
processes, made from it in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..checks import KINDS
from ..processes.executors import ExecutorPool
from ..processes.options import SandboxOptions
from ..processes.zygotes import ZygotePool
from ..settings.model import Assignment, Config


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
    executors: ExecutorPool | None = None  # warm executors kept between submissions; None: one per submission
    children: ZygotePool | None = None     # warm starts for submissions' processes; None: each starts cold


def needs_data(assignment: Assignment) -> bool:
    return any(KINDS[c.kind].needs_data for c in assignment.checks)


def child_options(setup: GradingSetup, path: Path | str | None) -> SandboxOptions:
    """The sandbox of a submission's child (``path``), or of the executor (None)."""
    return SandboxOptions.for_submission(setup.config, setup.assignment, device=setup.device, seed=setup.seed,
                                         threads=setup.threads, data_dir=setup.data_dir, path=path)
