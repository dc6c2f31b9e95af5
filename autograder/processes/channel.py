"""The parent's side of a sandboxed process's pipes: questions go out on one, answers come
back on another, and what the process prints is collected on a third.

The parent's ends never block, so a process that stops reading or writing cannot hold the
parent (``Sandbox.ask`` moves whatever bytes the pipes take or hold, against a deadline).
A cold sandbox and a warm child forked by a zygote each own one channel.
"""

from __future__ import annotations

import os
import subprocess

from ..wire import protocol
from .output import OutputCollector


class Channel:
    """Question and answer pipes (parent's ends) and the collector of what the process prints."""

    def __init__(self, output_kib: int) -> None:
        request_read, self.request_write = os.pipe()
        self.answer_read, answer_write = os.pipe()
        output_read, output_write = os.pipe()
        self.theirs = [request_read, answer_write, output_write]     # handed to the process, then closed here
        self._output_read = output_read
        self.output: OutputCollector | None = None
        self._output_kib = output_kib
        self._closed = False        # each end is closed once: a descriptor number may be reused at once

    def abandon(self) -> None:
        """Close every end: the process was never started."""
        if self._closed:
            return
        self._closed = True
        for fd in (*self.theirs, self.request_write, self.answer_read, self._output_read):
            try:
                os.close(fd)
            except OSError:
                pass
        self.theirs = []

    def handed_over(self) -> None:
        """The process holds its ends now: close ours of them, stop blocking, start collecting output."""
        for fd in self.theirs:
            os.close(fd)
        self.theirs = []
        for fd in (self.request_write, self.answer_read):
            os.set_blocking(fd, False)
        self.output = OutputCollector(self._output_read, self._output_kib * 1024)
        self.output.start()

    def goodbye(self, process, seconds: float) -> None:
        """Ask a live process to leave and give it ``seconds``; one that stopped reading is not waited for."""
        try:
            bye = protocol.Outgoing({"op": "bye"})
            bye.write_some(self.request_write)
            if bye.done:
                process.wait(timeout=seconds)
        except (OSError, subprocess.TimeoutExpired):
            pass

    def close(self) -> None:
        """Close the parent's ends once the process is gone, and take in the last of its output."""
        if self._closed:
            return
        self._closed = True
        for fd in (self.request_write, self.answer_read):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.output is not None:
            self.output.join(timeout=2)
