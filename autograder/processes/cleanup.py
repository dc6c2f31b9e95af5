"""What is left when a sandbox ends: its folder removed, however the child left it, and its
exit status said in words."""

from __future__ import annotations

import os
import signal
from pathlib import Path


SIGNAL_NAMES = {
    signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "abort", signal.SIGKILL: "killed",
    signal.SIGBUS: "bus error", signal.SIGFPE: "floating-point exception", signal.SIGILL: "illegal instruction",
    signal.SIGTERM: "terminated",
}


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
