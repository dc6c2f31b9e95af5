"""The options of one sandbox: its limits from grading.toml, the device, seed and threads of
the run, the folders it must not see and the program it runs. No torch here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..settings.model import Assignment, Config
from ..settings.places import hidden_folders
from ..wire import protocol


@dataclass
class SandboxOptions:
    device: str = "cpu"
    seed: int = 0
    threads: int = 0
    memory_gib: float = 6.0
    output_kib: int = 64
    hidden: tuple = ()          # folders the child must not see (kit, data, the submission's own folder)
    uid: int = 0                # user the child runs as when the grader is root (0: stay root)
    program: str = "worker"     # "worker": a submission's child; "executor": the grader's own graph executor
    processes: int = 256        # processes and threads at once (pids cgroup, where writable)
    disk_mib: int = 512         # each writable folder of the child (bubblewrap's tmpfs)
    answer_mib: int = 128       # one answer on the wire
    answer_elements: int = 16 * 2**20   # elements of one tensor in an answer
    preload: tuple = ()         # modules a warm start's zygote imports before its first fork
    trace_ahead: bool = True    # the zygote traces a throwaway module first (False: it will fork one child)

    @classmethod
    def for_submission(cls, config: Config, assignment: Assignment, *, device: str, seed: int, threads: int,
                       data_dir: Path | None, path: Path | str | None = None) -> "SandboxOptions":
        """The sandbox of the child for submission ``path`` under the assignment's ``[limits]``; with
        ``path`` None, of a process that holds no submission yet (the executor, a zygote). The batch,
        its runner and the command line's early start all take their options from here (no torch)."""
        limits = assignment.limits
        return cls(device=device, seed=seed, threads=threads, memory_gib=limits.memory_gib,
                   output_kib=limits.output_kib, processes=limits.processes, disk_mib=limits.disk_mib,
                   answer_mib=limits.answer_mib, answer_elements=limits.answer_elements,
                   hidden=hidden_folders(config, data_dir, path), uid=config.kit.sandbox_uid)

    def bounds(self) -> protocol.Bounds:
        return protocol.Bounds(max_bytes=self.answer_mib * 2**20, max_elements=self.answer_elements)
