"""One child process per submission: a fresh folder, limits, and a question channel.

The parent copies the submission, the worker package and the training tensors
(never test labels) into a new folder, starts ``python -I`` there with a
scrubbed environment, and asks it questions over a pipe. Each question has a
time limit; resident memory of the child's processes is watched while it
works. When the child times out, crashes or exceeds a limit, it is killed with
its whole process group and every later question is answered with the reason.

Where the platform allows, ``isolation.py`` adds operating-system measures
(network, PID and mount namespaces, dropped capabilities, a memory cgroup);
the sandbox records which were in force.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .isolation import Isolation
from .worker import protocol

PACKAGE_ROOT = Path(__file__).resolve().parent
# What a sandbox folder holds of the kit: a package named SANDBOX_PACKAGE with the
# subpackages a program needs, laid out as in the kit so relative imports work.
# The submission's child runs the worker; the grader's own executor runs the
# executor, which imports the graph format and protocol from the worker.
SANDBOX_PACKAGE = "grader"
PROGRAMS = {"worker": ["worker"], "executor": ["worker", "executor"]}


def bootstrap(program: str) -> str:
    return ("import sys; sys.path.insert(0, sys.argv[1]); del sys.argv[1]; "
            f"from {SANDBOX_PACKAGE}.{program}.main import main; raise SystemExit(main(sys.argv[1:]))")


POLL_SECONDS = 0.05
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SIGNAL_NAMES = {
    signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "abort", signal.SIGKILL: "killed",
    signal.SIGBUS: "bus error", signal.SIGFPE: "floating-point exception", signal.SIGILL: "illegal instruction",
    signal.SIGTERM: "terminated",
}


@dataclass
class Answer:
    """What came back for one question."""

    ok: bool
    value: Any = None
    error: dict | None = None       # the child's description of an exception
    fatal: str = ""                 # set when the child could not answer at all
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return not self.ok


@dataclass
class SandboxOptions:
    device: str = "cpu"
    seed: int = 0
    threads: int = 0
    memory_gib: float = 6.0
    output_kib: int = 64
    hidden: tuple = ()          # folders the child must not see (kit, data, the submission's own folder)
    uid: int = 0                # user the child runs as when the grader is root (0: stay root)
    program: str = "worker"     # "worker": a submission's child; "executor": the grader's own graph executor


class OutputCollector(threading.Thread):
    """Reads the child's stdout and stderr, keeping only the first ``limit`` bytes."""

    def __init__(self, fd: int, limit: int) -> None:
        super().__init__(daemon=True)
        self.fd, self.limit = fd, limit
        self.kept = bytearray()
        self.dropped = 0

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            room = self.limit - len(self.kept)
            self.kept += chunk[:max(room, 0)]
            self.dropped += max(len(chunk) - max(room, 0), 0)
        os.close(self.fd)

    def text(self) -> str:
        text = self.kept.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[... {self.dropped} more bytes of output dropped]"
        return text


def group_rss_bytes(pgid: int) -> int:
    """Resident memory of every process in a process group."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            # fields[2] is the process group, fields[21] the resident pages
            if int(fields[2]) == pgid:
                total += int(fields[21]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            continue
    return total


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "stopped answering"
    if returncode < 0:
        name = SIGNAL_NAMES.get(-returncode, f"signal {-returncode}")
        return f"crashed ({name}, signal {-returncode})"
    if returncode in (97, 98):
        return f"could not be isolated (status {returncode}; the grader's sandbox setup failed)"
    return f"exited with status {returncode} (os._exit or a crash in compiled code)"


def label_of(reason: str) -> str:
    """The 'while ...' part of a reason."""
    return reason.split(" while ", 1)[1] if " while " in reason else "grading"


@dataclass
class Sandbox:
    """A child process holding one submission. Use as a context manager."""

    submission: Path | None     # None for the executor, which runs no submission code
    options: SandboxOptions
    data_file: Path | None = None
    folder: Path = field(init=False)
    dead_reason: str = field(default="", init=False)
    process: subprocess.Popen | None = field(default=None, init=False)

    def __enter__(self) -> "Sandbox":
        self.folder = Path(tempfile.mkdtemp(prefix="autograder-"))
        self._prepare_folder()
        self.isolation = Isolation(self.folder, self.options.memory_gib, list(self.options.hidden),
                                   uid=self.options.uid or None)
        try:
            if self.isolation.user is not None:
                self._hand_folder_to(self.isolation.user)
            self._start()
        except BaseException:
            self.isolation.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
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
        if self.data_file is not None:
            shutil.copyfile(self.data_file, self.folder / "data.pt")
        (self.folder / "tmp").mkdir()

    def _hand_folder_to(self, uid: int) -> None:
        """Make the sandbox folder the unprivileged child's own (it must write there)."""
        os.chown(self.folder, uid, uid)
        for parent, folders, files in os.walk(self.folder):
            for name in folders + files:
                os.chown(os.path.join(parent, name), uid, uid, follow_symlinks=False)

    def _environment(self) -> dict[str, str]:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.folder),
            "TMPDIR": str(self.folder / "tmp"),
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
        request_read, self._request_write = os.pipe()
        self._answer_read, answer_write = os.pipe()
        output_read, output_write = os.pipe()
        command = [
            sys.executable, "-I", "-c", bootstrap(self.options.program), str(self.folder),
            "--requests", str(request_read), "--answers", str(answer_write),
            "--device", self.options.device, "--seed", str(self.options.seed),
            "--threads", str(self.options.threads),
        ]
        if self.submission is not None:
            command += ["--submission", str(self.folder / "submission" / self.submission.name)]
        if self.data_file is not None:
            command += ["--data", str(self.folder / "data.pt")]
        self.process = subprocess.Popen(
            self.isolation.wrap(command), cwd=self.folder, env=self._environment(),
            stdin=subprocess.DEVNULL, stdout=output_write, stderr=output_write,
            pass_fds=(request_read, answer_write), start_new_session=True,
        )
        for fd in (request_read, answer_write, output_write):
            os.close(fd)
        self.output = OutputCollector(output_read, self.options.output_kib * 1024)
        self.output.start()
        self.peak_rss = 0

    # ------------------------------------------------------------ questions

    def ask(self, op: str, args: dict, *, timeout: float, label: str) -> Answer:
        """Send one question; wait at most ``timeout`` seconds for its answer."""
        if self.dead_reason:
            return Answer(ok=False, fatal=f"not run: {self.dead_reason}")
        started = time.monotonic()
        try:
            protocol.write_message(self._request_write, {"op": op, "args": args})
        except OSError:
            return self._die(f"the submission's process {describe_exit(self.process.poll())} "
                             f"before {label}", started)
        deadline = started + timeout
        limit_bytes = self.options.memory_gib * 2**30
        while True:
            now = time.monotonic()
            if now >= deadline:
                return self._die(f"timed out after {timeout:g} s while {label}", started)
            ready, _, _ = select.select([self._answer_read], [], [], min(POLL_SECONDS, deadline - now))
            if ready:
                break
            rss = group_rss_bytes(self.process.pid)
            self.peak_rss = max(self.peak_rss, rss)
            if rss > limit_bytes:
                return self._die(f"memory limit ({self.options.memory_gib:g} GiB) exceeded while {label}", started)
            if self.process.poll() is not None:
                # The answer may still be in the pipe; look once more before giving up.
                ready, _, _ = select.select([self._answer_read], [], [], 0)
                if ready:
                    break
                return self._die(f"the submission's process {describe_exit(self.process.returncode)} "
                                 f"while {label}", started)
        try:
            reply = protocol.read_message(self._answer_read)
        except protocol.ProtocolError as exc:
            return self._die(f"the submission broke the grader's channel while {label} ({exc})", started)
        if reply is None:
            self.process.wait(timeout=5)
            return self._die(f"the submission's process {describe_exit(self.process.returncode)} "
                             f"while {label}", started)
        if not isinstance(reply, dict) or "ok" not in reply:
            return self._die(f"the submission broke the grader's channel while {label}", started)
        return Answer(ok=bool(reply["ok"]), value=reply.get("value"), error=reply.get("error"),
                      seconds=time.monotonic() - started)

    def _die(self, reason: str, started: float) -> Answer:
        if self.isolation.memory_exceeded() and "memory limit" not in reason:
            reason = f"memory limit ({self.options.memory_gib:g} GiB) exceeded while {label_of(reason)}"
        self.dead_reason = reason
        self._kill()
        return Answer(ok=False, fatal=reason, seconds=time.monotonic() - started)

    # ------------------------------------------------------------ teardown

    def _kill(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None and not self.dead_reason:
            try:
                protocol.write_message(self._request_write, {"op": "bye"})
                self.process.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()
        for fd in (self._request_write, self._answer_read):
            try:
                os.close(fd)
            except OSError:
                pass
        self.isolation.close()
        self.output.join(timeout=2)
        shutil.rmtree(self.folder, ignore_errors=True)
