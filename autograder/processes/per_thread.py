"""One long-lived process per grading thread, kept from one submission to the next.

Used by the warm executors (``executors.py``) and the zygotes
(``zygotes.py``): each grading thread finds its own in ``current()``,
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


class StartedAhead(Generic[T]):
    """Processes started before a batch's first submission needs them (see prestart.py), each under
    the key a grading thread must ask with to take it; those no thread takes are closed with the batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[tuple[object, T]] = []

    def count(self, key: object) -> int:
        with self._lock:
            return sum(1 for k, _ in self._waiting if k == key)

    def add(self, key: object, item: T) -> None:
        with self._lock:
            self._waiting.append((key, item))

    def take(self, key: object) -> T | None:
        with self._lock:
            for i, (k, item) in enumerate(self._waiting):
                if k == key:
                    del self._waiting[i]
                    return item
        return None

    def close(self) -> None:
        with self._lock:
            waiting, self._waiting = self._waiting, []
        for _, item in waiting:
            item.close()
