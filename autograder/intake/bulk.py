"""Bulk downloads: a course platform's zip of submissions, unpacked into one folder per student.

``autograder grade <assignment> SUBMISSIONS.zip --out DIR`` hands each zip to
``BulkDownloads.expand``, which unpacks it into a temporary folder holding one folder per student;
those folders are then graded like any other (a folder's name becomes its result folder and its row
in grades.csv, where the name, user id and entry the platform gave stand beside it).

The work is split by concern:

- ``bulk_zip``: the zip read within bounds, entries refused, one entry written;
- ``bulk_platforms``: Canvas, Moodle and Gradescope's layouts, and which hand-in is newer;
- ``bulk_identities``: folder names, names that look alike, several submissions of one student;
- ``names``: the rule that makes any name a result folder name (``folder_name`` here is its form for
  a student's name).

This module runs them in order. Unpacking is defensive: a refused entry is reported and nothing is
written for it; files are written only inside the temporary folder, never over one another; and
unpacking stops with an error, removing what it wrote, once the files written reach
``kit.bulk_unpacked_mib`` or the zip lists more than ``kit.bulk_max_files`` entries (zip bombs).
After ``expand`` every entry refused, every pair of names that look alike or share a user id, and
every earlier submission (graded or not, and why) is one line in ``refused``, ``lookalikes`` or
``duplicates``, also said on the console.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import AutograderError
from .bulk_identities import (DUPLICATE_RULES, Candidate, Identity, candidates, earlier_lines, lookalike_flags,
                              name_folders, student_note)
from .bulk_platforms import METADATA, Attempt, Student, Version, group_by_student
from .bulk_zip import (BulkDownloadError, Budget, declared_size, entry_parts, is_bulk_download, is_junk, refusal,
                       strip_wrapper, write_entry)
from .lookalike import lookalike_key, skeleton
from .names import RESERVED_NAMES
from .names import student_folder_name as folder_name
from .text import clean_text

__all__ = ["BulkDownloads", "BulkDownloadError", "Identity", "Candidate", "Student", "Attempt", "Version",
           "METADATA", "DUPLICATE_RULES", "RESERVED_NAMES", "declared_size", "refusal", "is_bulk_download",
           "group_by_student", "candidates", "name_folders", "folder_name", "lookalike_key", "skeleton"]


@dataclass
class _Zip:
    """One zip being expanded: its students, and the submissions chosen to be graded."""

    path: Path
    archive: zipfile.ZipFile
    students: list[Student]
    chosen: list[Candidate] = field(default_factory=list)


class BulkDownloads:
    """Expands each .zip among the submissions into student folders, and removes them afterwards.

    After ``expand``: ``refused`` (entries not unpacked), ``lookalikes`` (students whose names look alike
    or who share a user id) and ``duplicates`` (each earlier submission, graded or not, and why) hold one
    line each, also said on the console; ``identity_for`` tells whose a folder is."""

    def __init__(self, *, max_mib: float, max_files: int, expected_file: str | None = None,
                 duplicates: str = "newest", say: Callable[[str], Any] | None = None):
        if duplicates not in DUPLICATE_RULES:
            raise AutograderError(f"kit.bulk_duplicates = '{duplicates}' in grading.toml is not known: use "
                                  "'newest' (grade each student's newest submission) or 'all'")
        self.max_bytes = int(max_mib * 2**20)
        self.expected_file = expected_file        # the assignment's file: marks a student's own folder
        self.max_files = max_files
        self.duplicates_rule = duplicates
        self._say = say or (lambda message: None)
        self.folders: list[tempfile.TemporaryDirectory] = []
        self.notes: dict[Path, list[str]] = {}       # student folder -> what was refused from it, and notes
        self.identities: dict[Path, Identity] = {}
        self.refused: list[str] = []
        self.lookalikes: list[str] = []
        self.duplicates: list[str] = []
        self._found: dict[int, list[Candidate]] = {}     # each student's newest submission, then earlier ones

    def say(self, message: str, into: list[str] | None = None) -> None:
        """Tell the console (and keep in ``into``, for report.html) one line, stripped of control and
        direction characters: entry names and students' names are the zip's text."""
        message = clean_text(message, 4000)
        if into is not None:
            into.append(message)
        self._say(message)

    def expand(self, submissions: Sequence[str | Path]) -> list[str | Path]:
        """The submissions, with each zip replaced by its student folders (ordered by folder name)."""
        read: dict[int, _Zip] = {}
        try:
            for index, submission in enumerate(submissions):
                if is_bulk_download(submission):
                    read[index] = self._read(Path(submission))
            self._choose(list(read.values()))
            expanded: list[str | Path] = []
            for index, submission in enumerate(submissions):
                expanded += self._unpack(read[index]) if index in read else [submission]
        except BulkDownloadError:
            self.cleanup()
            raise
        finally:
            for download in read.values():
                download.archive.close()
        return expanded

    def notes_for(self, submission: str | Path) -> list[str]:
        return self.notes.get(Path(submission), [])

    def identity_for(self, submission: str | Path) -> Identity | None:
        """Whose folder this is, as the platform names them; None for a submission not from a zip."""
        return self.identities.get(Path(submission))

    def cleanup(self) -> None:
        for folder in self.folders:
            folder.cleanup()
        self.folders.clear()

    def _read(self, zip_path: Path) -> _Zip:
        try:
            archive = zipfile.ZipFile(zip_path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise BulkDownloadError(f"{zip_path} is not a readable zip archive ({exc}): download it again "
                                    "from the course platform, or unpack it and name the folders") from None
        try:
            infos = archive.infolist()
            if len(infos) > self.max_files:
                raise BulkDownloadError(
                    f"{zip_path} lists {len(infos):,} entries, more than kit.bulk_max_files = {self.max_files:,} "
                    "in grading.toml: nothing was unpacked (raise the limit if the download is genuine)")
            declared = declared_size(infos)
            if declared > self.max_bytes:
                raise self._too_big(zip_path, declared)
            entries = []
            for info in infos:
                why = refusal(info)
                if why is not None:
                    self._refuse(zip_path, info.filename, why)
                    continue
                parts = entry_parts(info)
                if info.is_dir() or not parts or is_junk(parts):
                    continue
                entries.append((info, parts))
            students = group_by_student(archive, strip_wrapper(entries, self.expected_file), self.max_bytes,
                                        warn=lambda message: self.say(f"{zip_path.name}: {message}",
                                                                      into=self.lookalikes))
            if not students:
                raise BulkDownloadError(f"{zip_path} holds no submissions: expected one file or folder per student "
                                        "(Canvas, Moodle or Gradescope's export)")
        except BaseException:
            archive.close()
            raise
        return _Zip(zip_path, archive, list(students.values()))

    def _choose(self, downloads: list[_Zip]) -> None:
        """Name every folder, flag names that look alike, and pick what is graded (kit.bulk_duplicates)."""
        every: list[Candidate] = []
        for download in downloads:
            for student in download.students:
                found = candidates(student)
                self._found[id(student)] = found
                download.chosen += found if self.duplicates_rule == "all" else found[:1]
                every += found
        name_folders(every)
        folder_of = {id(c.student): c.folder for c in every if c.newest}
        for line in lookalike_flags([s for download in downloads for s in download.students], folder_of):
            self.say(line, into=self.lookalikes)
        for download in downloads:
            for student in sorted(download.students, key=lambda s: folder_of[id(s)]):
                for line in earlier_lines(download.path.name, self._found[id(student)], self.duplicates_rule):
                    self.say(line, into=self.duplicates)

    def _unpack(self, download: _Zip) -> list[Path]:
        workdir = tempfile.TemporaryDirectory(prefix="autograder-bulk-")
        self.folders.append(workdir)
        root = Path(workdir.name)
        budget = Budget(self.max_bytes)
        folders = []
        for candidate in sorted(download.chosen, key=lambda c: c.folder.lower()):
            folder = root / candidate.folder
            folder.mkdir()
            for version in candidate.versions:
                why = write_entry(download.archive, version.info, folder, version.inside, budget,
                                  lambda size: self._too_big(download.path, size))
                if why is not None:
                    self._refuse(download.path, version.info.filename, why)
                    self.notes.setdefault(folder, []).append(f"{version.info.filename} was not unpacked: {why}")
            self.identities[folder] = Identity(candidate.student.name, candidate.student.user_id, candidate.entry,
                                               "newest" if candidate.newest else "earlier")
            note = student_note(candidate, len(self._found[id(candidate.student)]))
            if note is not None:
                self.notes.setdefault(folder, []).append(note)
            folders.append(folder)
        self.say(f"{download.path.name}: {len(folders)} submission{'' if len(folders) == 1 else 's'} unpacked")
        return folders

    def _too_big(self, zip_path: Path, size: int) -> BulkDownloadError:
        self.cleanup()
        return BulkDownloadError(
            f"{zip_path} unpacks to more than kit.bulk_unpacked_mib = {self.max_bytes / 2**20:g} MiB in "
            f"grading.toml (reached {size / 2**20:,.1f} MiB): unpacking stopped and nothing was graded; raise the "
            "limit if the download is genuine")

    def _refuse(self, zip_path: Path, entry: str, why: str) -> None:
        self.say(f"{zip_path.name}: refused entry '{entry}': {why}", into=self.refused)
