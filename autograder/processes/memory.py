"""The memory of a sandbox's processes, read from /proc: each process's own pages (resident
memory minus what it shares with its parent's image), summed over the process tree."""

from __future__ import annotations

import os
import threading
import time


class _ProcessTable:
    """Every process's children and process group, read from /proc, and the memory of the
    processes a poll asks about.

    A scan reads one file per process on the machine; with several grading
    threads polling their children, one scan serves every poll within
    ``max_age`` seconds of it, and so does each process's memory, read the
    first time a poll needs it after that scan.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.read_at = -1.0
        self.children: dict[int, list[int]] = {}
        self.groups: dict[int, int] = {}
        self.memory: dict[int, int] = {}

    def scan(self) -> None:
        children, groups = {}, {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                # fields[1] is the parent, fields[2] the process group
                pid, parent = int(entry), int(fields[1])
                groups[pid] = int(fields[2])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(pid)
        self.children, self.groups, self.memory = children, groups, {}
        self.read_at = time.monotonic()

    def _memory_of(self, pid: int) -> int:
        if pid not in self.memory:
            self.memory[pid] = own_memory_bytes(pid)
        return self.memory[pid]

    def tree_rss(self, root_pid: int, max_age: float) -> int:
        with self.lock:
            if time.monotonic() - self.read_at > max_age or self.read_at < 0:
                self.scan()
            tree = {pid for pid, group in self.groups.items() if group == root_pid}
            pending = [root_pid]
            while pending:
                pid = pending.pop()
                if pid in tree and pid != root_pid:
                    continue
                tree.add(pid)
                pending.extend(self.children.get(pid, []))
            return sum(self._memory_of(pid) for pid in tree)


def own_memory_bytes(pid: int) -> int:
    """A process's resident memory of its own: anonymous pages (heap, tensors) and shared memory
    (tmpfs, memfd), not the pages of the files it maps. Those are torch's and Python's libraries,
    shared by every process on the machine: counted, a child that imported torch itself would carry
    about 0.3 GiB more than one forked warm. 0 for a process gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            text = f.read()
    except OSError:
        return 0
    total = 0
    for line in text.splitlines():
        if line.startswith((b"RssAnon:", b"RssShmem:")):
            total += int(line.split()[1]) * 1024        # kB
    return total


_PROCESSES = _ProcessTable()


def process_tree_rss_bytes(root_pid: int, max_age: float = 0.0) -> int:
    """Resident memory of a process, everything it started, and its process group (each process's
    own memory: see own_memory_bytes), from a reading of /proc at most ``max_age`` seconds old
    (0: read now).

    Descendants are found by parent pid, so a child that starts a new session
    (bubblewrap does; so may a submission) is still counted.
    """
    return _PROCESSES.tree_rss(root_pid, max_age)
