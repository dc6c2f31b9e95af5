"""One long-lived process per grading thread, kept from one submission to the next.

Used by the warm executors (``executor_pool.py``) and the zygotes
(``warm_start.py``): each grading thread finds its own in ``current()``,
``keep`` makes a new one its thread's, ``retire`` closes one that may not serve
again, and ``close`` ends every one at the end of the batch.
"""

from __future__ import annotations

import threading
from typing import Generic, Protocol, TypeVar


class Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=Closable)


class PerThread(Generic[T]):
    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[T] = []
        self.started = 0            # how many were started (for tests and benchmarks)

    def current(self) -> T | None:
        return getattr(self._local, "item", None)

    def keep(self, item: T) -> T:
        with self._lock:
            self._open.append(item)
            self.started += 1
        self._local.item = item
        return item

    def retire(self, item: T) -> None:
        if self.current() is item:
            self._local.item = None
        with self._lock:
            if item in self._open:
                self._open.remove(item)
        item.close()

    def close(self) -> None:
        with self._lock:
            items, self._open = self._open, []
        for item in items:
            item.close()
