"""Bulk downloads: a course platform's zip of submissions, unpacked into one folder per student.

``autograder grade <assignment> SUBMISSIONS.zip --out DIR`` hands each zip to
``BulkDownloads.expand``, which unpacks it into a temporary folder holding one
folder per student, named after the student as the platform names them; those
folders are then graded like any other (a folder's name becomes its row in
grades.csv). Layouts understood, entry by entry:

- Canvas: flat files ``doejane_12345_67890_task1_cnn.py`` (``name_[LATE_]userid_
  fileid_original name``; a resubmitted file may end ``-1``);
- Moodle: ``Jane Doe_12345_assignsubmission_file_/task1_cnn.py`` (one folder
  per student and plugin) or the same as flat file names;
- Gradescope's export: ``submission_metadata.yml`` beside one
  ``submission_<id>/`` folder per submission; the names come from the metadata;
- anything else: one file (named after its stem) or one folder per student.

A folder that wraps the whole download is looked through. Unpacking is
defensive: an entry with an absolute path, a ``..`` component, a link or any
other non-file is refused with a message and nothing is written for it;
files are written only inside the temporary folder, never over one another;
and unpacking stops with an error once the files written reach
``kit.bulk_unpacked_mib`` or the zip lists more than ``kit.bulk_max_files``
entries (zip bombs).
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Sequence

from .errors import AutograderError

METADATA = "submission_metadata.yml"
CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?:late_)?(?P<user>\d+)_(?P<file_id>\d+)_(?P<original>.+)$", re.IGNORECASE)
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$")
RESUBMITTED = re.compile(r"^(?P<stem>.+)-\d+$")      # Canvas: task1_cnn-1.py for a second upload
JUNK = {"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini"}
CHUNK = 1 << 20


class BulkDownloadError(AutograderError):
    """A bulk download that cannot be graded at all (not a zip, or past a size limit)."""


@dataclass
class Student:
    """One student's part of the download: their name and their files (entry, path in their folder)."""

    name: str
    files: list[tuple[zipfile.ZipInfo, PurePosixPath]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def is_bulk_download(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".zip" and Path(path).is_file()


def refusal(info: zipfile.ZipInfo) -> str | None:
    """Why an entry must not be unpacked, or None when it is a plain file with a safe relative path."""
    name = info.filename
    mode = info.external_attr >> 16
    if "\0" in name:
        return "its name holds a NUL byte"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "it has an absolute path, which would be written outside --out"
    if any(part == ".." for part in re.split(r"[\\/]", name)):
        return "its path climbs out with '..', which would be written outside --out"
    if stat.S_ISLNK(mode):
        return "it is a symbolic link, which could point outside --out"
    if mode and stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return "it is not a plain file (a device, pipe or socket)"
    if info.flag_bits & 0x1:
        return "it is encrypted"
    return None


def declared_size(infos: Sequence[zipfile.ZipInfo]) -> int:
    """What the zip says its files unpack to. Checked first, then the bytes actually written are counted,
    in case the headers lie."""
    return sum(info.file_size for info in infos)


def _parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """The entry's path as components; backslashes (zips made on Windows) count as separators."""
    return tuple(p for p in re.split(r"[\\/]", info.filename) if p not in ("", "."))


def _is_junk(parts: tuple[str, ...]) -> bool:
    return any(p in JUNK or p.startswith("._") for p in parts)


def _strip_wrapper(entries: list[tuple[zipfile.ZipInfo, tuple[str, ...]]], expected_file: str | None):
    """Look through folders that wrap the whole download (``export/...``, ``submissions/...``), but not
    a student's own folder: one holding the assignment's file, or a single file."""
    own = {expected_file, str(PurePosixPath(expected_file).with_suffix(".ipynb"))} if expected_file else set()
    while entries and len({parts[0] for _, parts in entries}) == 1 and all(len(parts) > 1 for _, parts in entries):
        inner = [(info, parts[1:]) for info, parts in entries]
        tops = {parts[0] for _, parts in inner}
        if tops & own or len(tops) == 1 and all(len(parts) == 1 for _, parts in inner):
            break
        entries = inner
    return entries


def _metadata_names(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> dict[str, str]:
    """Gradescope's submission_metadata.yml: folder name -> the submitters' names."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def plain(loader, suffix, node):        # Ruby object tags (!ruby/object:...) read as plain data
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", plain)
    if info.file_size > limit:
        return {}
    try:
        metadata = yaml.load(archive.read(info), Loader=Loader)
    except Exception:
        return {}
    if not isinstance(metadata, dict):
        return {}
    names = {}
    for folder, entry in metadata.items():
        if not isinstance(entry, dict):
            continue
        submitters = next((v for k, v in entry.items() if str(k).lstrip(":") == "submitters"), None)
        found = []
        for person in submitters if isinstance(submitters, list) else []:
            if isinstance(person, dict):
                name = next((v for k, v in person.items() if str(k).lstrip(":") == "name"), None)
                if isinstance(name, str) and name.strip():
                    found.append(name.strip())
        if found:
            names[str(folder)] = ", ".join(found)
    return names


def folder_name(name: str) -> str:
    """A student's name as a folder name: path separators and control characters replaced, length capped."""
    cleaned = "".join("_" if ch in "/\\\0" or ord(ch) < 32 or ch == "\x7f" else ch for ch in name)
    cleaned = cleaned.strip().strip(".").strip()
    while len(cleaned.encode("utf-8")) > 200:
        cleaned = cleaned[:-1]
    return cleaned if any(ch.isalnum() for ch in cleaned) else "student"


def _canvas_file(original: str) -> str:
    """Canvas keeps the student's file name after its prefix; a resubmission adds '-1'."""
    path = PurePosixPath(original)
    again = RESUBMITTED.match(path.stem)
    return again.group("stem") + path.suffix if again else original


def group_by_student(archive: zipfile.ZipFile, entries, metadata_limit: int) -> dict[str, Student]:
    """Each file's student (by the platform's naming) and its path inside that student's folder."""
    metadata = next((info for info, parts in entries if parts == (METADATA,)), None)
    gradescope_names = _metadata_names(archive, metadata, metadata_limit) if metadata else {}
    students: dict[str, Student] = {}

    def add(key: str, name: str, info: zipfile.ZipInfo, inside: tuple[str, ...]) -> None:
        students.setdefault(key, Student(name)).files.append((info, PurePosixPath(*inside)))

    for info, parts in entries:
        if parts == (METADATA,):
            continue
        top = parts[0]
        if len(parts) > 1 and top in gradescope_names:
            add(f"gradescope:{top}", gradescope_names[top], info, parts[1:])
        elif (moodle := MOODLE.match(top)) is not None:
            inside = parts[1:] if len(parts) > 1 else (moodle.group("rest") or top,)
            add(f"moodle:{moodle.group('name')}:{moodle.group('user')}", moodle.group("name"), info, inside)
        elif len(parts) == 1 and (canvas := CANVAS.match(top)) is not None:
            add(f"canvas:{canvas.group('name')}:{canvas.group('user')}", canvas.group("name"), info,
                (_canvas_file(canvas.group("original")),))
        elif len(parts) == 1:
            add(f"file:{top}", PurePosixPath(top).stem or top, info, (top,))
        else:
            add(f"folder:{top}", top, info, parts[1:])
    return students


class BulkDownloads:
    """Expands each .zip among the submissions into student folders, and removes them afterwards."""

    def __init__(self, *, max_mib: float, max_files: int, expected_file: str | None = None,
                 say: Callable[[str], Any] | None = None):
        self.max_bytes = int(max_mib * 2**20)
        self.expected_file = expected_file        # the assignment's file: marks a student's own folder
        self.max_files = max_files
        self.say = say or (lambda message: None)
        self.folders: list[tempfile.TemporaryDirectory] = []
        self.notes: dict[Path, list[str]] = {}       # student folder -> what was refused from it
        self.refused: list[str] = []

    def expand(self, submissions: Sequence[str | Path]) -> list[str | Path]:
        """The submissions, with each zip replaced by its student folders (in the zip's order)."""
        expanded: list[str | Path] = []
        try:
            for submission in submissions:
                if is_bulk_download(submission):
                    expanded += self.unpack(Path(submission))
                else:
                    expanded.append(submission)
        except BulkDownloadError:
            self.cleanup()
            raise
        return expanded

    def notes_for(self, submission: str | Path) -> list[str]:
        return self.notes.get(Path(submission), [])

    def cleanup(self) -> None:
        for folder in self.folders:
            folder.cleanup()
        self.folders.clear()

    def unpack(self, zip_path: Path) -> list[Path]:
        try:
            archive = zipfile.ZipFile(zip_path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise BulkDownloadError(f"{zip_path} is not a readable zip archive ({exc}): download it again "
                                    "from the course platform, or unpack it and name the folders") from None
        with archive:
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
                parts = _parts(info)
                if info.is_dir() or not parts or _is_junk(parts):
                    continue
                entries.append((info, parts))
            students = group_by_student(archive, _strip_wrapper(entries, self.expected_file), self.max_bytes)
            if not students:
                raise BulkDownloadError(f"{zip_path} holds no submissions: expected one file or folder per student "
                                        "(Canvas, Moodle or Gradescope's export)")
            workdir = tempfile.TemporaryDirectory(prefix="autograder-bulk-")
            self.folders.append(workdir)
            root = Path(workdir.name)
            written = [0]
            folders, used = [], set()
            for student in students.values():
                name = folder_name(student.name)
                unique, n = name, 1
                while unique.lower() in used:
                    n += 1
                    unique = f"{name}-{n}"
                used.add(unique.lower())
                folder = root / unique
                folder.mkdir()
                for info, inside in student.files:
                    why = self._extract(archive, info, folder, inside, written, zip_path)
                    if why is not None:
                        self._refuse(zip_path, info.filename, why)
                        self.notes.setdefault(folder, []).append(f"{info.filename} was not unpacked: {why}")
                folders.append(folder)
        self.say(f"{zip_path.name}: {len(folders)} submissions unpacked")
        return folders

    def _extract(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, folder: Path, inside: PurePosixPath,
                 written: list[int], zip_path: Path) -> str | None:
        """Write one entry under ``folder``; returns why it was skipped, or None. Raises past the size limit."""
        target = folder.joinpath(*inside.parts)
        if not target.resolve().is_relative_to(folder.resolve()):
            return "its path would be written outside --out"
        n = 1
        while target.exists():        # two entries for one file (a Canvas resubmission): keep both
            n += 1
            target = folder.joinpath(*inside.parts).with_name(f"{inside.stem}-{n}{inside.suffix}")
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            with archive.open(info) as source, os.fdopen(os.open(target, flags, 0o644), "wb") as sink:
                while chunk := source.read(CHUNK):
                    written[0] += len(chunk)
                    if written[0] > self.max_bytes:
                        raise self._too_big(zip_path, written[0])
                    sink.write(chunk)
        except BulkDownloadError:
            raise
        except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, NotImplementedError) as exc:
            target.unlink(missing_ok=True)
            return f"it could not be read ({type(exc).__name__}: {exc})"
        return None

    def _too_big(self, zip_path: Path, size: int) -> BulkDownloadError:
        self.cleanup()
        return BulkDownloadError(
            f"{zip_path} unpacks to more than kit.bulk_unpacked_mib = {self.max_bytes / 2**20:g} MiB in "
            f"grading.toml (reached {size / 2**20:,.1f} MiB): unpacking stopped and nothing was graded; raise the "
            "limit if the download is genuine")

    def _refuse(self, zip_path: Path, entry: str, why: str) -> None:
        message = f"{zip_path.name}: refused entry '{entry}': {why}"
        self.refused.append(message)
        self.say(message)
