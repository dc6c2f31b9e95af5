"""Every sandbox with a live process, so that an interrupted batch can stop them all at once.

Ctrl-C or SIGTERM calls ``LIVE.interrupt_all``: each live process is killed, its pending
question ends with the reason, and no new sandbox starts until ``resume``.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator, Protocol


class GradingInterrupted(Exception):
    """Grading was stopped from outside (Ctrl-C, SIGTERM): no new sandbox starts."""


class Stoppable(Protocol):
    def stop(self, reason: str) -> None: ...


class LiveSandboxes:
    """The registry of live sandboxes (cold ones and warm children alike)."""

    def __init__(self) -> None:
        self._live: set[Stoppable] = set()
        self._lock = threading.Lock()
        self._stopping = ""

    @contextmanager
    def starting(self, box: Stoppable) -> Iterator[None]:
        """Hold the registry while ``box`` starts its process, then add it: an interrupt that comes
        meanwhile waits for the start and stops that process too. GradingInterrupted once grading
        is stopping."""
        with self._lock:
            self.check_not_stopping()
            yield
            self._live.add(box)

    def add(self, box: Stoppable) -> None:
        with self._lock:
            self._live.add(box)

    def discard(self, box: Stoppable) -> None:
        with self._lock:
            self._live.discard(box)

    def check_not_stopping(self) -> None:
        """GradingInterrupted when grading is being stopped (before starting anything new)."""
        if self._stopping:
            raise GradingInterrupted(self._stopping)

    def interrupt_all(self, reason: str) -> None:
        """Kill every live process now and refuse new ones; their questions end with ``reason``."""
        with self._lock:
            self._stopping = reason
            boxes = list(self._live)
        for box in boxes:
            box.stop(reason)

    def stopping(self) -> str:
        """Why grading is being stopped (Ctrl-C, SIGTERM), or "" while it goes on."""
        return self._stopping

    def resume(self) -> None:
        """Allow sandboxes again after ``interrupt_all`` (for a later batch in the same process)."""
        self._stopping = ""


LIVE = LiveSandboxes()
interrupt_all, stopping, resume = LIVE.interrupt_all, LIVE.stopping, LIVE.resume
