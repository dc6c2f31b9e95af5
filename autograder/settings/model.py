"""The configuration's types: what grading.toml becomes once read and checked.

A leaf module (it imports nothing of the kit but its errors), so that the check kinds can
declare their keys and read assignments without importing the reader in ``loader.py``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError


ORDERS = ("asc", "desc")
# value -> (its usual order, what it is); the title is what Gradescope and report.html show.
LEADERBOARD_VALUES: dict[str, tuple[str, str]] = {
    "test_accuracy": ("desc", "the best test accuracy of the assignment's training runs, in %"),
    "parameters": ("asc", "trainable parameters of the model, as the grader measured its layers"),
    "steps": ("asc", "optimizer steps the training run took to reach its early-stop target (or its budget)"),
    "grading_seconds": ("asc", "seconds the grader took for the whole submission"),
}


@dataclass(frozen=True)
class Key:
    """One setting: its default value and what it means."""

    default: Any
    description: str
    # Set when the value must be given in grading.toml (no sensible default).
    required: bool = False
    # The only values the grader can run (of a list: of each item); empty: any value of the default's type.
    choices: tuple = ()


@dataclass(frozen=True)
class Limits:
    load_seconds: float
    step_seconds: float
    train_tflop: float
    train_watchdog_seconds: float
    memory_gib: float
    output_kib: int
    processes: int
    disk_mib: int
    answer_mib: int
    answer_elements: int
    judge_seconds: float
    max_carried_values: int
    max_graph_nodes: int
    allow_buffers: bool


@dataclass(frozen=True)
class CheckSpec:
    """One check as configured: its name, kind, points and kind-specific parameters."""

    name: str
    kind: str
    points: float
    visibility: str
    description: str
    params: dict[str, Any]
    requires: tuple[str, ...] = ()
    # Partial credit: the measured value at which points start (None: all or nothing); see checks/base.py.
    partial_credit_from: float | None = None
    # Extra credit: the points count in the score but not in the maximum.
    extra_credit: bool = False
    # This grading run's draw for the checks that pose a fresh problem each run (checks/instances.py):
    # the grading seed mixed with the submission's bytes; None outside a grading run.
    draw: int | None = None


@dataclass(frozen=True)
class Recipe:
    """[assignments.<id>.training]: how the grader trains the assignment's model (each field is
    described in settings/schema.py's TRAINING_KEYS, where its default lives)."""

    dataset: str
    optimizer: str
    lr: float
    momentum: float
    batch_size: int
    test_batch_size: int
    max_steps: int
    eval_every: int
    validation_size: int
    stop_at_validation_accuracy: float
    normalize_mean: float
    normalize_std: float
    test_data: str

    def as_dict(self) -> dict[str, Any]:
        """The recipe as a training question carries it to the executor."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Assignment:
    id: str
    title: str
    file: str
    model: str
    model_args: list[Any]
    input_shape: list[int]
    num_classes: int
    training: Recipe | None      # None: the grader trains nothing for this assignment
    limits: Limits
    checks: list[CheckSpec]
    # What the leaderboard ranks on, in order: (value, "asc" | "desc") pairs (config.LEADERBOARD_VALUES).
    leaderboard: tuple[tuple[str, str], ...] = ()

    @property
    def dataset(self) -> str:
        """The dataset the assignment's checks read (MNIST unless its recipe names another)."""
        return self.training.dataset if self.training is not None else "mnist"

    def recipe(self) -> dict[str, Any]:
        """The training recipe as plain data (empty without one), for a question to carry."""
        return self.training.as_dict() if self.training is not None else {}

    @property
    def max_score(self) -> float:
        """The regular maximum: extra credit is on top of it."""
        return sum(c.points for c in self.checks if not c.extra_credit)

    @property
    def extra_credit_points(self) -> float:
        return sum(c.points for c in self.checks if c.extra_credit)


@dataclass(frozen=True)
class Kit:
    """[kit]: how the kit runs, for every assignment (each field is described in settings/schema.py's
    KIT_KEYS, where its default lives)."""

    data_dir: str
    seed: int
    feedback_output_kib: int
    bulk_unpacked_mib: float
    bulk_max_files: int
    bulk_duplicates: str
    device: str
    allow_download: bool
    warm_start: bool
    sandbox_uid: int
    max_constant_elements: int
    cluster_retries: int
    cluster_cpus_per_submission: float
    cluster_gpus_per_submission: float
    op_groups: dict[str, list]


@dataclass(frozen=True)
class Config:
    path: Path
    root: Path
    kit: Kit
    limits: Limits
    assignments: dict[str, Assignment] = field(default_factory=dict)

    def assignment(self, assignment_id: str) -> Assignment:
        try:
            return self.assignments[assignment_id]
        except KeyError:
            known = ", ".join(self.assignments) or "none"
            raise ConfigError(
                f"unknown assignment '{assignment_id}' (known: {known}); "
                "`autograder list` shows them"
            ) from None

    def assignment_dir(self, assignment_id: str) -> Path:
        return self.root / "assignments" / assignment_id

    def solution_dir(self, assignment_id: str) -> Path:
        return self.root / "solutions" / assignment_id
