"""One child process per submission: a fresh folder, limits, and a question channel.

The parent copies the submission, the worker package and the training tensors
(never test labels) into a new folder, starts ``python -I`` there with a
scrubbed environment, and asks it questions over a pipe. The parent never
blocks on the child: each question is written and its answer read without
blocking, against the question's deadline, and the answer is checked against
bounds before anyone uses it. Memory of the child's processes is watched
while it works. When the child times out, crashes, breaks the channel or
exceeds a limit, it is killed with everything it started and every later
question is answered with the reason.

``isolation.py`` adds the operating-system measures the machine allows
(bubblewrap or namespaces, cgroups, an unprivileged user, death with the
grader, a system call filter); the sandbox records which were in force.
``interrupt_all`` stops every live sandbox at once (Ctrl-C of a batch).
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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..settings.model import Assignment, Config
from ..settings.places import hidden_folders
from .isolation import Isolation
from ..wire import confine, protocol
from ..wire.answers import Answer

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
SIGNAL_NAMES = {
    signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "abort", signal.SIGKILL: "killed",
    signal.SIGBUS: "bus error", signal.SIGFPE: "floating-point exception", signal.SIGILL: "illegal instruction",
    signal.SIGTERM: "terminated",
}



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
    processes: int = 256        # processes and threads at once (pids cgroup, where writable)
    disk_mib: int = 512         # each writable folder of the child (bubblewrap's tmpfs)
    answer_mib: int = 128       # one answer on the wire
    answer_elements: int = 16 * 2**20   # elements of one tensor in an answer
    preload: tuple = ()         # modules a warm start's zygote imports before its first fork
    trace_ahead: bool = True    # the zygote traces a throwaway module first (False: it will fork one child)

    @classmethod
    def for_submission(cls, config: Config, assignment: Assignment, *, device: str, seed: int, threads: int,
                       data_dir: Path | None, path: Path | str | None = None) -> "SandboxOptions":
        """The sandbox of the child for submission ``path`` under the assignment's ``[limits]``; with
        ``path`` None, of a process that holds no submission yet (the executor, a zygote). The batch,
        its runner and the command line's early start all take their options from here (no torch)."""
        limits = assignment.limits
        return cls(device=device, seed=seed, threads=threads, memory_gib=limits.memory_gib,
                   output_kib=limits.output_kib, processes=limits.processes, disk_mib=limits.disk_mib,
                   answer_mib=limits.answer_mib, answer_elements=limits.answer_elements,
                   hidden=hidden_folders(config, data_dir, path), uid=config.kit["sandbox_uid"])

    def bounds(self) -> protocol.Bounds:
        return protocol.Bounds(max_bytes=self.answer_mib * 2**20, max_elements=self.answer_elements)


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


def remove_tree(path: Path) -> None:
    """Remove a folder the child could write to: no recursion, no path-length limit, no links followed.

    A submission can leave a chain of thousands of nested folders, which
    ``shutil.rmtree`` cannot remove (RecursionError) and whose paths are too
    long for the kernel. This walks down by directory handles and back up by
    "..", keeping only the names on the way.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    names: list[str] = []
    given_up: set[tuple[int, int, str]] = set()     # (folder, name) that could not be removed
    while True:
        here = os.fstat(fd)
        try:
            os.chmod(fd, 0o700)             # a folder the child made unreadable or unwritable
        except OSError:
            pass
        subfolder = None
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    if (here.st_dev, here.st_ino, entry.name) in given_up:
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            subfolder = subfolder or entry.name
                        else:
                            os.unlink(entry.name, dir_fd=fd)
                    except OSError:
                        given_up.add((here.st_dev, here.st_ino, entry.name))
        except OSError:
            pass
        if subfolder is not None:
            try:
                child = os.open(subfolder, flags, dir_fd=fd)
            except OSError:
                given_up.add((here.st_dev, here.st_ino, subfolder))
                continue
            os.close(fd)
            fd = child
            names.append(subfolder)
            continue
        if not names:
            os.close(fd)
            try:
                os.rmdir(path)
            except OSError:
                pass
            return
        parent = os.open("..", flags, dir_fd=fd)
        os.close(fd)
        fd = parent
        name = names.pop()
        try:
            os.rmdir(name, dir_fd=fd)
        except OSError:
            above = os.fstat(fd)
            given_up.add((above.st_dev, above.st_ino, name))


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


class GradingInterrupted(Exception):
    """Grading was stopped from outside (Ctrl-C, SIGTERM): no new sandbox starts."""


# Every sandbox with a live child, so that an interrupted batch can stop them all at once.
_live: set["Sandbox"] = set()
_live_lock = threading.Lock()
_stopping = ""


def interrupt_all(reason: str) -> None:
    """Kill every live child now and refuse new ones; their questions end with ``reason``."""
    global _stopping
    with _live_lock:
        _stopping = reason
        boxes = list(_live)
    for box in boxes:
        box.stop(reason)


def stopping() -> str:
    """Why grading is being stopped (Ctrl-C, SIGTERM), or "" while it goes on."""
    return _stopping


def resume() -> None:
    """Allow sandboxes again after ``interrupt_all`` (for a later batch in the same process)."""
    global _stopping
    _stopping = ""


@dataclass(eq=False)
class Sandbox:
    """A child process holding one submission. Use as a context manager."""

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

    @property
    def data_path(self) -> Path:
        """Where the training data lies in the sandbox folder (the executor's only)."""
        return self.folder / "data" / "data.pt"

    def __enter__(self) -> "Sandbox":
        if _stopping:
            raise GradingInterrupted(_stopping)
        self.folder = Path(tempfile.mkdtemp(prefix="autograder-"))
        self.peak_rss = 0
        self.rss_offset = 0         # memory of processes that are not the submission's (a warm start's)
        self.output = None
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
            if self.isolation.mode == "unshare" and self.isolation.user is not None:
                self._hand_folder_to(self.isolation.user)   # bubblewrap gives it a tmpfs instead
            with _live_lock:
                if _stopping:
                    raise GradingInterrupted(_stopping)
                self._start()
                _live.add(self)
        except BaseException:
            for fd in (getattr(self, "_request_write", None), getattr(self, "_answer_read", None)):
                if fd is not None:
                    os.close(fd)
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
        if self.data_file is not None or self.data_later:
            command += ["--data", str(self.data_path)]
        passed = [request_read, answer_write]
        if self.options.program == "zygote":     # the channel that hands it each submission's pipes
            self.control, control_end = socket.socketpair()
            passed.append(control_end.detach())
            command += ["--control", str(passed[-1])]
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
            for fd in (*passed, output_write):
                os.close(fd)
        # The parent's ends never block: a child that stops reading or writing cannot hold it.
        for fd in (self._request_write, self._answer_read):
            os.set_blocking(fd, False)
        self.output = OutputCollector(output_read, self.options.output_kib * 1024)
        self.output.start()

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
                    outgoing.write_some(self._request_write)
                incoming.read_some(self._answer_read)
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
                        incoming.read_some(self._answer_read)
                        if incoming.complete:
                            break
                        return self._die(f"{self.who()} {self._exit_words()} "
                                         f"while {label}", started)
                writing = [self._request_write] if not outgoing.done else []
                select.select([self._answer_read], writing, [], max(0.0, min(POLL_SECONDS, deadline - now)))
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
        code = self.process.poll()
        if code is not None and self.isolation.mode == "bwrap" and 128 < code <= 128 + 64:
            code = 128 - code
        return describe_exit(code)

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
            try:
                bye = protocol.Outgoing({"op": "bye"})
                bye.write_some(self._request_write)     # a child that stopped reading is not waited for
                if bye.done:
                    self.process.wait(timeout=CLOSE_SECONDS)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()
        with _live_lock:
            _live.discard(self)
        for fd in (self._request_write, self._answer_read):
            try:
                os.close(fd)
            except OSError:
                pass
        self.isolation.close()
        if getattr(self, "control", None) is not None:
            self.control.close()
        if self.output is not None:
            self.output.join(timeout=2)
        remove_tree(self.folder)
