"""A warm start for submissions' processes: import once, fork per submission.

Started by the parent like a submission's child, in the same sandbox (its own
filesystem view, namespaces, unprivileged user, cgroups), but with no
submission. It imports torch, torchvision, numpy and the worker, and traces a
throwaway module so the tracer's first-use cost is paid, all on one thread and
before any thread pool exists. Then, for each submission the parent sends over
the control socket (the file's text and three fresh pipes), it forks a child
that serves that submission exactly as a freshly started one would, except
that right after the fork, before any submission code, the child gives itself
a user and IPC namespace and a session keyring of its own and stacks the
system call filter's second stage (``confine.prepare_child``): what one child
makes there (message queues, System V objects, keys) is gone with it. The
zygote keeps only what that needs: its own filter still allows ``unshare`` and
``keyctl``, and it makes sure at start that a forked child may use them.

When the child has ended, for any reason, the zygote kills every process left
in the sandbox, removes every file and System V object that could have been
written, and only then tells the parent the sandbox is clean. The zygote
itself never runs submission code, and is not dumpable, so a child cannot
attach to it. Anything it cannot clean makes it say so, and the parent starts
a fresh sandbox instead.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import gc
import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..wire import confine
from ..wire.control import SWEEP_SECONDS, receive, send

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4



def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _warm(preload: list[str], trace: bool) -> None:
    """Import what submissions import and the tracer, on one thread; with ``trace``, also trace a throwaway
    module and function, which saves each child the tracer's first-use cost (about a quarter of a second)
    but costs more than that when only one child will be forked."""
    import torch
    from torch import nn

    torch.set_num_threads(1)            # no thread pool may exist when the zygote forks
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a library the machine lacks is the submission's problem
            pass
    from . import main as child_main
    from .compile import compile_function, compile_module

    child_main.register_answers()
    import torch.export  # noqa: F401 - the tracer, whether or not it is tried out here

    if not trace:
        return
    with torch.random.fork_rng(devices=[]):
        net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3), nn.Dropout())
        compile_module(net, [1, 6, 6], [2], ["train", "eval"], "warm.py")
        weights = torch.ones(4)

        class Function(nn.Module):      # like a hand-written function: slices, a captured tensor, a stack
            def forward(self, x):
                return torch.stack([x[:, i] * weights[i] for i in range(4)], dim=-1).max(dim=1)[0]

        compile_function(Function(), [4], [2], "warm.py")


def _become_submission(fds: list[int], path: Path, args: argparse.Namespace) -> None:
    """In the forked child: the submission's pipes, death with the zygote, namespaces, a keyring and
    the filter's second stage of its own (wire/confine.py), then serve as usual."""
    requests, answers, output = fds
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:               # the zygote died between fork and prctl
        os._exit(1)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    confine.prepare_child(required=True)
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(number, signal.SIG_DFL if number != signal.SIGPIPE else signal.SIG_IGN)
    from .main import serve

    os.chdir(path.parent.parent)
    serve(requests, answers, path, device=args.device, seed=args.seed, threads=args.threads, data=args.data)


def _leftover_pids() -> list[int]:
    me = os.getpid()
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]


def _empty(folder: Path, keep: set[str]) -> None:
    for entry in list(folder.iterdir()):
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def writable_folders(box: Path) -> dict[Path, set[str]]:
    """Every folder a child may write to, with what the sandbox itself put there (the grader's
    read-only binds, and the folders bubblewrap made to reach its mounts, such as the sandbox
    folder or a virtual environment under /tmp): those stay, everything else goes."""
    return {folder: {entry.name for entry in folder.iterdir()}
            for folder in (box, box / "tmp", Path("/tmp"), Path("/dev/shm"))}


def sweep(keep: dict[Path, set[str]]) -> str:
    """Leave the sandbox as the zygote found it; '' when clean, else what could not be cleaned."""
    deadline = time.monotonic() + SWEEP_SECONDS
    while _leftover_pids():
        try:
            os.kill(-1, signal.SIGKILL)    # every process of this sandbox the zygote may signal
        except ProcessLookupError:
            pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        if time.monotonic() > deadline:
            return f"processes left behind: {_leftover_pids()[:5]}"
        time.sleep(0.01)
    try:
        for folder, names in keep.items():
            _empty(folder, names)
    except (OSError, RecursionError) as exc:
        return f"files left behind ({type(exc).__name__}: {str(exc)[:120]})"
    if any(Path(f"/proc/sysvipc/{kind}").read_text().count("\n") > 1 for kind in ("shm", "msg", "sem")):
        subprocess.run(["ipcrm", "--all"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if any(Path(f"/proc/sysvipc/{kind}").read_text().count("\n") > 1 for kind in ("shm", "msg", "sem")):
            return "System V objects left behind"
    return ""


def _status_of(status: int) -> int:
    """waitpid's status as Popen's returncode: the exit code, or minus the signal."""
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--requests", type=int, default=-1)      # unused: each child gets its own pipes
    parser.add_argument("--answers", type=int, default=-1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--data", default="")
    parser.add_argument("--preload", default="", help="modules to import before the first fork, comma-separated")
    parser.add_argument("--no-trace", action="store_true", help="do not trace a throwaway module first")
    args = parser.parse_args(argv)

    for fd in (args.requests, args.answers):    # the parent talks to the zygote on the control socket only
        if fd >= 0:
            os.close(fd)
    control = socket.socket(fileno=args.control)
    # each child needs an IPC namespace of its own (wire/confine.py): tried before the imports, while a fork is cheap
    refused = confine.namespaces_refused()
    if refused:
        send(control, {"ready": False, "reason": f"a forked child cannot have its own IPC namespace ({refused})"})
        os._exit(0)
    _warm([name for name in args.preload.split(",") if name], trace=not args.no_trace)
    # What the imports made stays alive: the collector need not walk it in every child (each walk
    # would also copy the pages it touches). No collection first: it would cost the first child 0.1 s.
    gc.freeze()
    _prctl(PR_SET_DUMPABLE, 0)
    box = Path.cwd()
    keep = writable_folders(box)
    send(control, {"ready": True})
    count = 0
    while True:
        message, fds = receive(control)
        if message is None or message.get("op") != "fork" or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            os._exit(0)
        count += 1
        folder = box / f"submission-{count}"
        folder.mkdir()
        path = folder / Path(str(message["name"])).name
        path.write_bytes(base64.b64decode(str(message["source"])))
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                control.close()
                _become_submission(fds, path, args)
            finally:
                os._exit(70)
        for fd in fds:
            os.close(fd)
        send(control, {"forked": pid})
        _, status = os.waitpid(pid, 0)
        problem = sweep(keep)
        send(control, {"exited": _status_of(status), "problem": problem})
        if problem:
            os._exit(0)
