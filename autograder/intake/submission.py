"""Find the file to grade in what was handed in: a file, or a folder holding it.

The file itself is never followed through a link, and must be a regular file
of reasonable size: a ``task1_cnn.py`` that links to the reference solution,
or a named pipe that would block the grader, is refused with the reason.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

SOURCE_SUFFIXES = (".py", ".ipynb")   # a notebook is graded from its code cells
MAX_SUBMISSION_BYTES = 64 * 2**20     # a notebook with its outputs stays well under this


@dataclass(frozen=True)
class Submission:
    """One submission: the name its results go under, and its file or the reason there is none."""

    name: str
    path: Path | None
    problem: str = ""


def _file_problem(path: Path) -> str:
    """Why ``path`` cannot be graded as a handed-in file, or "" when it can."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        return f"{path.name} cannot be read ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return f"{path.name} is a symbolic link; hand in the file itself"
    if not stat.S_ISREG(info.st_mode):
        return f"{path.name} is not a regular file; hand in the file itself"
    if info.st_size > MAX_SUBMISSION_BYTES:
        return (f"{path.name} is {info.st_size / 2**20:.0f} MiB, over the {MAX_SUBMISSION_BYTES // 2**20} MiB "
                "a submission may have; hand in the source only (clear a notebook's outputs)")
    return ""


def _exists(path: Path) -> bool:
    """Whether anything is there, a broken link included."""
    return os.path.lexists(path)


def find_submission(path: Path | str, expected_file: str) -> Submission:
    path = Path(path)
    if path.is_symlink() and not path.is_dir():
        return Submission(path.stem or path.name, None, f"{path.name} is a symbolic link; hand in the file itself")
    if path.is_dir():
        name = path.resolve().name
        exact = path / expected_file
        for candidate in (exact, exact.with_suffix(".ipynb")):
            if _exists(candidate):
                problem = _file_problem(candidate)
                return Submission(name, None if problem else candidate, problem)
        try:
            entries = sorted(p for p in path.iterdir() if p.suffix in SOURCE_SUFFIXES)
        except OSError as exc:
            return Submission(name, None, f"folder {path.name} cannot be read ({exc.strerror})")
        if len(entries) == 1:
            problem = _file_problem(entries[0])
            return Submission(name, None if problem else entries[0], problem)
        found = ", ".join(p.name for p in entries) or "no Python files or notebooks"
        return Submission(name, None, f"folder {path.name} holds no {expected_file} (found: {found})")
    if _exists(path):
        if path.suffix not in SOURCE_SUFFIXES:
            return Submission(path.stem, None, f"{path.name} is not a Python file or notebook "
                                               f"({', '.join(SOURCE_SUFFIXES)})")
        problem = _file_problem(path)
        return Submission(path.stem, None if problem else path, problem)
    return Submission(path.stem or str(path), None, f"{path} does not exist")


def companion_folder(handed_in: Path | str) -> Path:
    """Where files handed in beside the graded one live: the folder handed in, or the file's own folder."""
    handed_in = Path(handed_in)
    return handed_in if handed_in.is_dir() else handed_in.parent


def read_companion(handed_in: Path | str, name: str, max_bytes: int) -> tuple[bytes | None, str]:
    """The bytes of ``name`` beside the graded file (a trained model's weights), or None and why not.

    Its size is checked before a byte is read, links and anything but a regular file are refused,
    and the parent only reads the bytes: whatever they encode is the grader's executor's to read.
    """
    path = companion_folder(handed_in) / name
    if not _exists(path):
        return None, (f"no {name} was handed in: hand in a folder holding the model's file and {name} "
                      f"(torch.save(model.state_dict(), '{name}'))")
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return None, f"{name} is a symbolic link; hand in the file itself"
    if not stat.S_ISREG(info.st_mode):
        return None, f"{name} is not a regular file; hand in the file itself"
    if info.st_size > max_bytes:
        return None, (f"{name} is {info.st_size / 2**20:,.1f} MiB, over the {max_bytes / 2**20:g} MiB allowed: "
                      "save model.state_dict() only (no optimizer state), or make the network smaller")
    try:   # no link followed, no pipe waited on, even if the file was swapped since it was measured
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None, f"{name} is not a regular file; hand in the file itself"
            data = f.read(max_bytes + 1)
    except OSError as exc:
        return None, f"{name} cannot be read ({exc.strerror})"
    if len(data) > max_bytes:        # it grew after it was measured
        return None, f"{name} is over the {max_bytes / 2**20:g} MiB allowed"
    return data, ""
