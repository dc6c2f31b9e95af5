"""Warm start for submissions' processes: the parent's side of ``child/zygote.py``.

Each grading thread keeps one zygote: a sandbox like any submission's (same
filesystem view, namespaces, unprivileged user, cgroups) whose process has
imported torch and traced a throwaway module, and runs no submission code. For
each submission the thread hands it the file and three fresh pipes; the
zygote forks a child that answers the same questions, under the same
deadlines and bounds, as a freshly started child would (``WarmChild``), in
a user and IPC namespace and with a session keyring of its own. When
the child has ended the zygote kills whatever it left, empties every writable
folder and removes System V objects, and says whether all of that worked. A
zygote that did not (or died, or timed out) is closed, and the next
submission gets a fresh one. Where bubblewrap is not in force the kit starts
every submission cold.
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import os
import re
import select
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from .cleanup import describe_exit
from .isolation import hidden_in_view
from .live import LIVE
from .memory import process_tree_rss_bytes
from .options import SandboxOptions
from .channel import Channel
from .per_thread import PerThread, StartedAhead
from .sandbox import CLOSE_SECONDS, Sandbox
from ..wire.control import SWEEP_SECONDS, receive, send

START_SECONDS = 120.0       # importing torch, torchvision and the tracer, and tracing a small module
FORK_SECONDS = 20.0


def modules_to_preload(solution: Path) -> tuple[str, ...]:
    """The modules the reference solution imports at top level: the zygote imports them once, so a
    submission that imports the same pays nothing for them (and one that does not, nothing extra)."""
    try:
        tree = ast.parse(solution.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return ()
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return tuple(dict.fromkeys(name for name in names
                               if name != "__future__" and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name)))


def key_of(options: SandboxOptions) -> SandboxOptions:
    """What must match for a zygote to serve a submission. Of the folders to hide, only those inside a
    folder every sandbox sees count (bubblewrap shows none of the others), so a zygote started
    before the first submission, or for another submission's folder, serves the next one too."""
    return dataclasses.replace(options, hidden=hidden_in_view(options.hidden), preload=(), trace_ahead=True)


class ZygoteFailed(Exception):
    """The warm process could not start or hand over a child; the submission starts cold."""


def _receive_within(control: socket.socket, seconds: float) -> dict | None:
    """The zygote's next message, or None when none came within ``seconds`` or it is gone."""
    ready, _, _ = select.select([control], [], [], max(seconds, 0.0))
    if not ready:
        return None
    control.settimeout(5.0)         # the rest of a message that has begun is a few bytes away
    try:
        message, fds = receive(control)
    except (OSError, ValueError):
        return None
    for fd in fds:
        os.close(fd)
    return message if isinstance(message, dict) else None


class Zygote:
    """One grading thread's warm sandbox: started at once, waited for when first needed."""

    def __init__(self, options: SandboxOptions) -> None:
        self.key = key_of(options)
        self.broken, self.ready = False, False
        self.box = Sandbox(None, dataclasses.replace(options, program="zygote")).start()
        if not self.box.isolation.allows_warm_start:
            self.close()
            raise ZygoteFailed("warm start needs bubblewrap's sandbox")

    def wait_ready(self) -> None:
        """Return once the zygote has imported and traced; ZygoteFailed (and closed) if it does not."""
        if self.ready:
            return
        message = _receive_within(self.box.control, START_SECONDS) or {}
        if message.get("ready") is not True:
            reason = str(message.get("reason") or self.box.dead_reason or "it did not get ready")[:300]
            self.close()
            raise ZygoteFailed(reason)
        # The zygote's own memory is charged to the cgroup its children share: room for it on top
        self.box.isolation.widen_memory_limit()
        self.ready = True

    @property
    def healthy(self) -> bool:
        return not self.broken and not self.box.dead_reason and self.box.process.poll() is None

    def close(self) -> None:
        self.broken = True
        self.box.close()


class _ForkedProcess:
    """What the sandbox's code asks of a child process, for a child the zygote forked."""

    def __init__(self, zygote: Zygote) -> None:
        self.zygote = zygote
        self.pid = zygote.box.process.pid       # memory is measured over the zygote's whole tree
        self.returncode: int | None = None
        self.problem = ""

    def _read(self, seconds: float) -> None:
        message = _receive_within(self.zygote.box.control, seconds)
        if message is not None and "exited" in message:
            code = message["exited"]
            self.returncode = code if isinstance(code, int) and not isinstance(code, bool) else 1
            self.problem = str(message.get("problem", ""))[:200]

    def poll(self) -> int | None:
        if self.returncode is None:
            self._read(0)
        if self.returncode is None and self.zygote.box.process.poll() is not None:
            self.returncode, self.problem = -9, "the warm process ended"
        return self.returncode

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired("forked child", timeout)
            self._read(min(0.1, max(deadline - time.monotonic(), 0)))
        return self.returncode


@dataclasses.dataclass(eq=False)
class WarmChild(Sandbox):
    """A submission's child forked from a zygote; asked, timed and bounded like any Sandbox."""

    zygote: Zygote | None = None
    clean: bool = dataclasses.field(default=False, init=False)

    def start(self) -> "WarmChild":
        """Hand the zygote the submission and the child's pipes; ZygoteFailed if it forks no child."""
        LIVE.check_not_stopping()
        zygote = self.zygote
        self.folder, self.isolation, self.peak_rss = zygote.box.folder, zygote.box.isolation, 0
        self.rss_offset = process_tree_rss_bytes(zygote.box.process.pid)    # the zygote's own memory
        channel = Channel(self.options.output_kib)
        try:
            source = base64.b64encode(self.submission.read_bytes()).decode("ascii")
            send(zygote.box.control, {"op": "fork", "name": self.submission.name, "source": source}, channel.theirs)
        except OSError as exc:
            channel.abandon()
            raise ZygoteFailed(f"the warm process took no submission ({exc})") from None
        channel.handed_over()
        self.channel = channel
        forked = _receive_within(zygote.box.control, FORK_SECONDS)
        self.process = _ForkedProcess(zygote)
        if not forked or "forked" not in forked:
            self.close()
            raise ZygoteFailed("the warm process did not fork")
        LIVE.add(self)
        return self

    def _exit_words(self) -> str:
        return describe_exit(self.process.poll())

    def _kill(self) -> None:
        """A child that must die takes its zygote with it (the sandbox is no longer known clean)."""
        self.zygote.broken = True
        self.zygote.box.stop(self.dead_reason or "stopped")

    def close(self) -> None:
        process = self.process
        if process is not None and process.poll() is None and not self.dead_reason:
            self.channel.goodbye(process, CLOSE_SECONDS + SWEEP_SECONDS)
        self.clean = (process is not None and process.returncode is not None and not process.problem
                      and not self.dead_reason and self.zygote.healthy)
        LIVE.discard(self)
        if self.channel is not None:
            self.channel.close()

    def isolation_record(self) -> dict:
        record = super().isolation_record()
        record["warm_start"] = ("forked from a warm process of this grading thread, which ran no submission code; "
                                "every process, file and System V object of the previous submission was removed "
                                "first")
        record["ipc_namespace"] = ("yes: its own, made right after the fork and before any submission code "
                                   "(System V objects and message queues die with the child)")
        return record


def start_zygotes(options: SandboxOptions, count: int) -> list[Zygote]:
    """Up to ``count`` zygotes for ``options`` (preload included), started now and not waited for;
    no more once one fails."""
    started: list[Zygote] = []
    for _ in range(count):
        try:
            started.append(Zygote(options))
        except ZygoteFailed:
            break
    return started


class ZygotePool(PerThread[Zygote]):
    """One zygote per grading thread; ``lease`` gives a submission its child, warm when it can."""

    def __init__(self, preload: tuple[str, ...] = (), started: Sequence[Zygote] = ()) -> None:
        """``started``: zygotes started ahead for this batch (prestart.py); the pool owns them now."""
        super().__init__()
        self.preload = preload
        self.unavailable = ""       # why warm start is off for this batch ('' while it is on)
        # zygotes started ahead of the first submission: each serves a thread whose submissions it
        # shows what their own sandbox would (the same key)
        self.waiting: StartedAhead[Zygote] = StartedAhead()
        for zygote in started:
            self.waiting.add(zygote.key, zygote)

    def _zygote(self, options: SandboxOptions) -> Zygote | None:
        key = key_of(options)
        zygote = self.current()
        if zygote is not None and zygote.healthy and zygote.key == key:
            return zygote
        if zygote is not None:
            self.retire(zygote)
        if self.unavailable:
            return None
        try:
            zygote = self.waiting.take(key) or Zygote(dataclasses.replace(options, preload=self.preload))
            self.keep(zygote)
            zygote.wait_ready()
            return zygote
        except ZygoteFailed as exc:     # the rest of the batch starts cold rather than retry each time
            self.unavailable = str(exc)
            return None

    def start_ahead(self, options: SandboxOptions, count: int) -> None:
        """Start zygotes now, without waiting for them, until ``count`` wait for ``options``."""
        options = dataclasses.replace(options, preload=self.preload)
        for zygote in start_zygotes(options, count - self.waiting.count(key_of(options))):
            self.waiting.add(zygote.key, zygote)

    def close(self) -> None:
        super().close()
        self.waiting.close()

    @contextmanager
    def lease(self, submission: Path, options: SandboxOptions) -> Iterator[Sandbox]:
        zygote = self._zygote(options)
        child: WarmChild | None = None
        if zygote is not None:
            try:
                child = WarmChild(submission, options, zygote=zygote).start()
            except ZygoteFailed:
                self.retire(zygote)
        if child is None:           # cold, as without warm start
            with Sandbox(submission, options) as box:
                yield box
            return
        try:
            yield child
        except BaseException:
            child.dead_reason = child.dead_reason or "grading was interrupted"
            raise
        finally:
            child.close()
            if not child.clean:     # a zygote not known clean serves no other submission
                self.retire(zygote)
