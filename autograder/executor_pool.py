"""Warm executors: one per grading thread, kept from one submission to the next.

The executor runs only the grader's own code, on graphs it rebuilt from
allow-listed ops; no submission code ever runs in it. So a batch need not pay
for a fresh Python, torch, the training data and the optimizers' first use for
every submission: each grading thread leases its executor, and between two
submissions the executor forgets every model it holds and puts torch's global
switches back (``forget``). An executor that died, timed out, or did not
confirm that it forgot is closed, and the next submission gets a fresh one.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .per_thread import PerThread
from .sandbox import Sandbox, SandboxOptions

FORGET_SECONDS = 30.0       # freeing the previous submission's models takes well under a second


class ExecutorPool(PerThread[Sandbox]):
    def __init__(self, data_file: Path | None) -> None:
        super().__init__()
        self.data_file = data_file

    @contextmanager
    def lease(self, options: SandboxOptions) -> Iterator[Sandbox]:
        """This thread's executor, started now if it has none that is still healthy."""
        box = self.current()
        if box is None or box.dead_reason or box.options != options:
            if box is not None:
                self.retire(box)
            box = self.keep(Sandbox(None, options, data_file=self.data_file).__enter__())
        try:
            yield box
        except BaseException:
            self.retire(box)
            raise
        # a dead executor answers no question, so it is retired here too
        if not box.ask("forget", {}, timeout=FORGET_SECONDS, label="clearing the executor for the next submission").ok:
            self.retire(box)
