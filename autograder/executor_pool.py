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

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .sandbox import Sandbox, SandboxOptions

FORGET_SECONDS = 30.0       # freeing the previous submission's models takes well under a second


class ExecutorPool:
    def __init__(self, data_file: Path | None) -> None:
        self.data_file = data_file
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[Sandbox] = set()
        self.started = 0            # executors started (for tests and benchmarks)

    @contextmanager
    def lease(self, options: SandboxOptions) -> Iterator[Sandbox]:
        """This thread's executor, started now if it has none that is still healthy."""
        box: Sandbox | None = getattr(self._local, "box", None)
        if box is None or box.dead_reason or box.options != options:
            if box is not None:
                self._retire(box)
            box = Sandbox(None, options, data_file=self.data_file).__enter__()
            with self._lock:
                self._open.add(box)
                self.started += 1
            self._local.box = box
        try:
            yield box
        except BaseException:
            self._retire(box)
            raise
        if not box.dead_reason and not box.ask("forget", {}, timeout=FORGET_SECONDS,
                                               label="clearing the executor for the next submission").ok:
            self._retire(box)
        elif box.dead_reason:
            self._retire(box)

    def _retire(self, box: Sandbox) -> None:
        if getattr(self._local, "box", None) is box:
            self._local.box = None
        with self._lock:
            self._open.discard(box)
        box.close()

    def close(self) -> None:
        with self._lock:
            boxes, self._open = list(self._open), set()
        for box in boxes:
            box.close()
