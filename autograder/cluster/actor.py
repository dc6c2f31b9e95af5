"""One grading slot on a cluster node: what a local grading thread is, kept alive between submissions.

The driver (cluster/driver.py) starts one ``GradingSlot`` per core share (or GPU share) of the
cluster as a Ray actor. Each unpacks the course's files into a folder of its own, sets up a batch
of one job (``grading_setup``: its warm zygote and executor, the node's data from the node-local
cache), and then grades the submissions it is handed as bytes, with the same sandbox, limits and
isolation record as a grading thread here. Nothing of Ray is imported here: the driver wraps the
class.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from ..checks import load_config
from ..grading.batch import grade_safely, grading_setup
from ..grading.results import SubmissionResult, every_check_failed
from ..processes.live import interrupt_all
from .bundle import Bundle


class GradingSlot:
    """One node's grading slot. Ray may run each call on another thread of the actor (``stop`` must run
    beside ``grade``); grading always runs on one thread of the slot's own, since the warm zygote and
    executor are kept per grading thread."""

    def __init__(self, course: Bundle, assignment_id: str, *, data_dir: str | None, fallback_data_dir: str,
                 device: str | None, seed: int | None, threads: int):
        self.folder = Path(tempfile.mkdtemp(prefix="autograder-slot-"))
        self._grader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grading-slot")
        self._stack = ExitStack()
        self._count = 0
        try:
            course.write_into(self.folder / "course")
            config = load_config(self.folder / "course" / "grading.toml")
            # --data-dir as given; else this node's own AUTOGRADER_DATA; else the folder the driver uses
            data = data_dir or os.environ.get("AUTOGRADER_DATA") or fallback_data_dir
            self.setup = self._stack.enter_context(grading_setup(
                config=config, assignment=config.assignment(assignment_id), data_dir=data, device=device,
                seed=seed, jobs=1, threads=threads))
        except BaseException:
            self.close()
            raise

    def where(self) -> str:
        """This slot's node and process, for the driver's messages."""
        return f"{os.uname().nodename} (process {os.getpid()})"

    def grade(self, submission: Bundle, name: str) -> SubmissionResult:
        """Grade one submission handed in as ``submission``, whose top entry is ``name``."""
        return self._grader.submit(self._grade, submission, name).result()

    def _grade(self, submission: Bundle, name: str) -> SubmissionResult:
        self._count += 1
        folder = self.folder / "submissions" / str(self._count)
        try:
            try:
                submission.write_into(folder)
            except (OSError, ValueError) as exc:
                return every_check_failed(self.setup.assignment, Path(name).stem, name,
                                          f"the submission could not be unpacked on the grading node ({exc})")
            return grade_safely(self.setup, folder / name)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def stop(self) -> None:
        """Ctrl-C on the driver: stop the submission being graded at once."""
        interrupt_all("grading was interrupted")

    def close(self) -> None:
        try:
            self._grader.submit(self._stack.close).result()     # the grading thread's processes
        finally:
            self._grader.shutdown(wait=False)
            shutil.rmtree(self.folder, ignore_errors=True)
