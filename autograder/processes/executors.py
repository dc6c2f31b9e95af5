"""Warm executors: one per grading thread, kept from one submission to the next.

The executor runs only the grader's own code, on graphs it rebuilt from
allow-listed ops; no submission code ever runs in it. So a batch need not pay
for a fresh Python, torch, the training data and the optimizers' first use for
every submission: each grading thread leases its executor, and before it serves
the next submission the executor forgets every model it holds and puts torch's
global switches back (``forget``). An executor that died, timed out, or did not
confirm that it forgot is closed, and the submission gets a fresh one.

An executor may also be started ahead of the batch, before the parent has
loaded the training data (prestart.py): the first lease copies the data
into its folder and has it read (``load_data``).
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from .per_thread import PerThread, StartedAhead
from .options import SandboxOptions
from .sandbox import Sandbox

FORGET_SECONDS = 30.0       # freeing the previous submission's models takes well under a second
LOAD_SECONDS = 60.0         # reading the training data: about a tenth of a second for MNIST

class ExecutorPool(PerThread[Sandbox]):
    def __init__(self, data_file: Path | None, started: Sequence[Sandbox] = ()) -> None:
        """``started``: executors started ahead for this batch (prestart.py); the pool owns them now,
        and a thread takes one whose options are the ones it needs."""
        super().__init__()
        self.data_file = data_file
        self.waiting: StartedAhead[Sandbox] = StartedAhead()
        for box in started:
            self.waiting.add(box.options, box)

    def _ready(self, box: Sandbox) -> bool:
        """Give an executor started ahead its training data; False when it could not take it."""
        if box.data_file is not None or self.data_file is None:
            return True
        try:
            shutil.copyfile(self.data_file, box.data_path)
        except OSError:
            return False
        box.data_file = self.data_file
        return box.ask("load_data", {}, timeout=LOAD_SECONDS, label="loading the training data").ok

    def _fresh(self, options: SandboxOptions) -> Sandbox:
        """One started ahead for these options when it takes the data, else a new one."""
        box = self.waiting.take(options)
        if box is not None:
            self.keep(box)
            if self._ready(box):
                return box
            self.retire(box)
        return self.keep(Sandbox(None, options, data_file=self.data_file).start())

    @contextmanager
    def lease(self, options: SandboxOptions) -> Iterator[Sandbox]:
        """This thread's executor, cleared of the previous submission, or a fresh one."""
        box = self.current()
        if box is not None and (box.dead_reason or box.options != options or not box.ask(
                "forget", {}, timeout=FORGET_SECONDS, label="clearing the executor for the next submission").ok):
            self.retire(box)
            box = None
        if box is None:
            box = self._fresh(options)
        try:
            yield box
        except BaseException:
            self.retire(box)
            raise

    def close(self) -> None:
        super().close()
        self.waiting.close()
