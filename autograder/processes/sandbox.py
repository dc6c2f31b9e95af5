"""One child process per submission: a fresh folder, limits, and a question channel.

The parent copies the submission, the kit's wire/ and child/ packages (or wire/ and executor/
for the grader's own executor) and the training tensors
(never test labels) into a new folder, starts ``python -I`` there with a
scrubbed environment, and asks it questions over a pipe. The parent never
blocks on the child: each question is written and its answer read without
blocking, against the question's deadline, and the answer is checked against
bounds before anyone uses it. Memory of the child's processes is watched
while it works. When the child times out, crashes, breaks the channel or
exceeds a limit, it is killed with everything it started and every later
question is answered with the reason.

``isolation/`` adds the operating-system measures the machine allows
(bubblewrap or namespaces, cgroups, an unprivileged user, death with the
grader, a system call filter); the sandbox records which were in force.
``live.py`` keeps every live sandbox, so that Ctrl-C of a batch stops them all at once.
"""

from __future__ import annotations

import errno
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..wire import confine, protocol
from ..wire.answers import Answer
from .cleanup import SIGNAL_NAMES, describe_exit, label_of, remove_tree  # noqa: F401 - describe_exit: warm children word exits alike
from .isolation import Isolation
from .live import LIVE, GradingInterrupted  # noqa: F401 - GradingInterrupted: raised by starts
from .memory import process_tree_rss_bytes
from .options import SandboxOptions
from .channel import Channel
from .output import OutputCollector

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# What a sandbox folder holds of the kit: a package named SANDBOX_PACKAGE with the
# subpackages a program needs, laid out as in the kit so relative imports work.
# Both far sides carry wire/ (what the three processes agree on); the child adds
# child/, the grader's own executor adds executor/, and neither carries the other.
SANDBOX_PACKAGE = "grader"
PROGRAMS = {"worker": ["wire", "child"], "executor": ["wire", "executor"], "zygote": ["wire", "child"]}
ENTRY = {"worker": "child.main", "executor": "executor.main", "zygote": "child.zygote"}


def bootstrap(program: str) -> str:
    """The child's ``-c`` code: it confines itself (wire/confine.py) before importing anything else of
    the kit, then runs the program."""
    return ("import sys; sys.path.insert(0, sys.argv[1]); "
            f"from {SANDBOX_PACKAGE}.wire.confine import start; start(sys.argv.pop(1), {program!r}); "
            f"from {SANDBOX_PACKAGE}.{ENTRY[program]} import main; raise SystemExit(main(sys.argv[1:]))")


POLL_SECONDS = 0.05
CLOSE_SECONDS = 2.0         # a child told "bye" gets this long to leave before it is killed


@dataclass(eq=False)
class Sandbox:
    """A child process holding one submission: ``start()`` it (or use it as a context manager),
    ``ask`` it questions, ``close()`` it."""

    submission: Path | None     # None for the executor, which runs no submission code
    options: SandboxOptions
    data_file: Path | None = None
    data_later: bool = False    # an executor started before the data was loaded: it comes with load_data
    folder: Path = field(init=False)
    dead_reason: str = field(default="", init=False)
    process: subprocess.Popen | None = field(default=None, init=False)
    # When memory is next read from /proc (a scan of every process): every POLL_SECONDS while the
    # child works, across questions, so that a run of quick questions does not scan once each
    next_poll: float = field(default=0.0, init=False)
    peak_rss: int = field(default=0, init=False)
    rss_offset: int = field(default=0, init=False)    # memory of processes not the submission's (a warm start's)
    isolation: Isolation | None = field(default=None, init=False)
    channel: Channel | None = field(default=None, init=False)
    control: socket.socket | None = field(default=None, init=False)     # a zygote's control socket

    @property
    def output(self) -> OutputCollector | None:
        """What the process printed (complete once it has exited)."""
        return self.channel.output if self.channel is not None else None

    @property
    def data_path(self) -> Path:
        """Where the training data lies in the sandbox folder (the executor's only)."""
        return self.folder / "data" / "data.pt"

    def __enter__(self) -> "Sandbox":
        return self.start()

    def start(self) -> "Sandbox":
        """Make the folder, apply the isolation and start the process; everything is undone on failure."""
        LIVE.check_not_stopping()
        self.folder = Path(tempfile.mkdtemp(prefix="autograder-"))
        try:
            self._prepare_folder()
            self.isolation = Isolation(self.folder, self.options.memory_gib, list(self.options.hidden),
                                       uid=self.options.uid or None, processes=self.options.processes,
                                       disk_mib=self.options.disk_mib, device=self.options.device)
        except BaseException:
            remove_tree(self.folder)
            raise
        try:
            confinement = self.isolation.confinement()
            if confinement is not None:      # read by the child as it starts (wire/confine.py)
                (self.folder / confine.SETTINGS).write_text(json.dumps(confinement), encoding="utf-8")
            self.isolation.prepare_folder()      # the unprivileged child's own where it writes on the host
            with LIVE.starting(self):
                self._start()
        except BaseException:
            if self.channel is not None:
                self.channel.close()
            self.isolation.close()
            remove_tree(self.folder)
            raise
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if exc_type is not None and not self.dead_reason:
            # leaving on an error or Ctrl-C: no goodbye, the child is ended at once
            self.dead_reason = "grading was interrupted"
        self.close()

    # ------------------------------------------------------------ setup

    def _prepare_folder(self) -> None:
        if self.submission is not None:
            (self.folder / "submission").mkdir()
            shutil.copyfile(self.submission, self.folder / "submission" / self.submission.name)
        package = self.folder / SANDBOX_PACKAGE
        package.mkdir()
        (package / "__init__.py").write_text("")
        for name in PROGRAMS[self.options.program]:
            shutil.copytree(PACKAGE_ROOT / name, package / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if self.data_file is not None or self.data_later:
            # a folder of its own: bubblewrap binds it, so a file put there later is seen too (load_data)
            (self.folder / "data").mkdir()
            if self.data_file is not None:
                shutil.copyfile(self.data_file, self.data_path)
        (self.folder / "tmp").mkdir()

    def _environment(self) -> dict[str, str]:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.folder),
            "TMPDIR": str(self.folder / "tmp"),
            "USER": "sandbox",
            "LOGNAME": "sandbox",
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": str(self.options.seed),
            "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
        }
        if self.options.threads:
            env["OMP_NUM_THREADS"] = str(self.options.threads)
        for name in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
            if name in os.environ:
                env[name] = os.environ[name]
        return env

    def _start(self) -> None:
        self.channel = Channel(self.options.output_kib)
        request_read, answer_write, output_write = self.channel.theirs
        command = [
            sys.executable, "-I", "-c", bootstrap(self.options.program), str(self.folder),
            "--requests", str(request_read), "--answers", str(answer_write),
            "--device", self.options.device, "--seed", str(self.options.seed),
            "--threads", str(self.options.threads),
        ]
        if self.submission is not None:
            command += ["--submission", str(self.folder / "submission" / self.submission.name)]
        if self.data_file is not None or self.data_later:
            command += ["--data", str(self.data_path)]
        passed, control_end = [request_read, answer_write], None
        if self.options.program == "zygote":     # the socket that hands it each submission's pipes
            self.control, control_socket = socket.socketpair()
            control_end = control_socket.detach()
            passed.append(control_end)
            command += ["--control", str(control_end)]
            command += ["--preload", ",".join(self.options.preload)]
            if not self.options.trace_ahead:
                command += ["--no-trace"]
        try:
            self.process = subprocess.Popen(
                self.isolation.wrap(command), cwd=self.folder, env=self._environment(),
                stdin=subprocess.DEVNULL, stdout=output_write, stderr=output_write,
                pass_fds=tuple(passed), start_new_session=True,
            )
        finally:
            if control_end is not None:
                os.close(control_end)
            if self.process is None:
                self.channel.abandon()
        # The parent's ends never block: a child that stops reading or writing cannot hold it.
        self.channel.handed_over()

    # ------------------------------------------------------------ questions

    def ask(self, op: str, args: dict, *, timeout: float, label: str) -> Answer:
        """Send one question; wait at most ``timeout`` seconds for its answer, never blocking longer."""
        if self.dead_reason:
            return Answer(ok=False, fatal=f"not run: {self.dead_reason}")
        started = time.monotonic()
        deadline = started + timeout
        outgoing = protocol.Outgoing({"op": op, "args": args})
        incoming = protocol.Incoming(self.options.bounds())
        limit_bytes = self.options.memory_gib * 2**30
        try:
            while True:
                if not outgoing.done:
                    outgoing.write_some(self.channel.request_write)
                incoming.read_some(self.channel.answer_read)
                if incoming.complete:
                    break
                if self.dead_reason:        # stopped from another thread
                    return Answer(ok=False, fatal=self.dead_reason, seconds=time.monotonic() - started)
                if incoming.closed:
                    self._wait_briefly()
                    return self._die(f"{self.who()} {self._exit_words()} "
                                     f"while {label}", started)
                now = time.monotonic()
                if now >= deadline:
                    if self.options.program == "executor":      # runs the grader's code only: its fault
                        return self._die(f"the grader's executor timed out after {timeout:g} s while {label} "
                                         "(the grader's own watchdog)", started)
                    return self._die(f"timed out after {timeout:g} s while {label}", started)
                if now >= self.next_poll:
                    self.next_poll = now + POLL_SECONDS
                    rss = process_tree_rss_bytes(self.process.pid, max_age=POLL_SECONDS) - self.rss_offset
                    self.peak_rss = max(self.peak_rss, rss)
                    if rss > limit_bytes:
                        return self._die(f"memory limit ({self.options.memory_gib:g} GiB) exceeded "
                                         f"while {label}", started)
                    if self.process.poll() is not None:
                        # The answer may still be in the pipe: read what is there before giving up.
                        incoming.read_some(self.channel.answer_read)
                        if incoming.complete:
                            break
                        return self._die(f"{self.who()} {self._exit_words()} "
                                         f"while {label}", started)
                writing = [self.channel.request_write] if not outgoing.done else []
                select.select([self.channel.answer_read], writing, [], max(0.0, min(POLL_SECONDS, deadline - now)))
            reply = incoming.value()
        except protocol.ProtocolError as exc:
            return self._die(f"the submission broke the grader's channel while {label} ({exc})", started)
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.EBADF, errno.ECONNRESET):
                raise
            self._wait_briefly()
            return self._die(f"{self.who()} {self._exit_words()} "
                             f"before {label}", started)
        if not isinstance(reply, dict) or "ok" not in reply:
            return self._die(f"the submission broke the grader's channel while {label}", started)
        error = reply.get("error")
        return Answer(ok=bool(reply["ok"]), value=reply.get("value"),
                      error=error if isinstance(error, dict) or error is None else {"message": str(error)},
                      seconds=time.monotonic() - started)

    def isolation_record(self) -> dict:
        """Which measures were in force, in words, for results.json."""
        return self.isolation.record()

    def who(self) -> str:
        """The process in words: a submission's child, or the grader's own executor."""
        return "the grader's executor" if self.options.program == "executor" else "the submission's process"

    def _exit_words(self) -> str:
        """How the child ended, in words (bubblewrap reports death by signal N as status 128 + N)."""
        return describe_exit(self.isolation.exit_status(self.process.poll()))

    def _wait_briefly(self) -> None:
        """Give a child that closed its channel a moment to exit, so its status can be named."""
        try:
            self.process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass

    def _die(self, reason: str, started: float) -> Answer:
        if self.isolation.memory_exceeded() and "memory limit" not in reason:
            reason = f"memory limit ({self.options.memory_gib:g} GiB) exceeded while {label_of(reason)}"
        elif self.isolation.processes_exceeded() and ("exited" in reason or "crashed" in reason):
            reason += f" (it reached the limit of {self.options.processes} processes and threads)"
        self.dead_reason = self.dead_reason or reason
        self._kill()
        return Answer(ok=False, fatal=self.dead_reason, seconds=time.monotonic() - started)

    def stop(self, reason: str) -> None:
        """End the child from another thread; its current and later questions fail with ``reason``."""
        self.dead_reason = self.dead_reason or reason
        self._kill()

    # ------------------------------------------------------------ teardown

    def _kill(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.isolation.kill_all()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None and not self.dead_reason:
            self.channel.goodbye(self.process, CLOSE_SECONDS)
        self._kill()
        LIVE.discard(self)
        if self.channel is not None:
            self.channel.close()
        self.isolation.close()
        if self.control is not None:
            self.control.close()
        remove_tree(self.folder)
