"""Files that travel to a cluster's nodes as bytes: no filesystem is assumed shared.

A submission travels as it was handed in (a file, or a folder with what lies beside it), and the
course as the part of it grading reads: grading.toml, the assignment's reference solution (its
imports are preloaded) and an instructor-held test split kept beside grading.toml. Nothing is
followed through a link: a link travels as a dangling one, which intake refuses with its name as
it would here. Everything is bounded; a submission over the bound is graded as missing, with why.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..grading.datasets import test_data_folder
from ..intake.submission import MAX_SUBMISSION_BYTES
from ..settings.model import Assignment, Config

MAX_BUNDLE_BYTES = 2 * MAX_SUBMISSION_BYTES    # one submission's folder, everything in it together
MAX_BUNDLE_FILES = 1000
LINK = None                                    # a file's bytes, or LINK for a link


class TooLarge(Exception):
    """A folder over MAX_BUNDLE_BYTES or MAX_BUNDLE_FILES."""


@dataclass
class Bundle:
    """Files by relative POSIX path: their bytes, or LINK."""

    files: dict[str, bytes | None] = field(default_factory=dict)
    size: int = 0

    def add(self, relative: str, path: Path) -> None:
        info = os.lstat(path)
        if len(self.files) >= MAX_BUNDLE_FILES:
            raise TooLarge(f"more than {MAX_BUNDLE_FILES} files")
        if stat.S_ISLNK(info.st_mode):
            self.files[relative] = LINK
        elif stat.S_ISREG(info.st_mode):
            if self.size + info.st_size > MAX_BUNDLE_BYTES:
                raise TooLarge(f"more than {MAX_BUNDLE_BYTES // 2**20} MiB")
            with open(path, "rb") as f:
                data = f.read(MAX_BUNDLE_BYTES - self.size + 1)
            self.size += len(data)
            if self.size > MAX_BUNDLE_BYTES:
                raise TooLarge(f"more than {MAX_BUNDLE_BYTES // 2**20} MiB")
            self.files[relative] = data
        # anything else (a pipe, a device) stays behind: grading a folder never reads one

    def add_tree(self, prefix: str, folder: Path) -> None:
        """Every file under ``folder`` (links not followed), under ``prefix``."""
        for top, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
                path = Path(top) / name
                self.add(str(PurePosixPath(prefix, path.relative_to(folder).as_posix())), path)

    def write_into(self, folder: Path) -> None:
        """Recreate the files under ``folder``; a path that would leave it is refused (ValueError)."""
        root = folder.resolve()
        for relative, data in self.files.items():
            parts = PurePosixPath(relative).parts
            if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
                raise ValueError(f"a bundled path that leaves its folder: {relative!r}")
            target = root.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            if data is LINK:
                os.symlink("/nonexistent-link-target", target)   # refused by name, as the original would be
            else:
                target.write_bytes(data)


def submission_bundle(path: Path) -> Bundle:
    """What was handed in at ``path``, under its own name (TooLarge: over the bounds)."""
    bundle = Bundle()
    if os.path.isdir(path) and not os.path.islink(path):
        bundle.add_tree(path.name, path)
    elif os.path.lexists(path):
        bundle.add(path.name, path)
    return bundle


def course_bundle(config: Config, assignment: Assignment) -> Bundle:
    """The part of the course grading ``assignment`` reads, laid out as beside grading.toml."""
    bundle = Bundle()
    bundle.files["grading.toml"] = config.path.read_bytes()
    solution = config.solution_dir(assignment.id) / assignment.file
    if solution.is_file():
        bundle.add(f"solutions/{assignment.id}/{assignment.file}", solution)
    held = test_data_folder(assignment.training, config.root)
    if held is not None and held.is_dir():
        try:
            relative = held.resolve().relative_to(config.root.resolve())
        except ValueError:          # outside the course folder: each node needs it at the same path
            relative = None
        if relative is not None:
            bundle.add_tree(relative.as_posix(), held)
    return bundle
