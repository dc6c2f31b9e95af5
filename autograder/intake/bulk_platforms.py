"""Each course platform's layout: whose submission an entry of the zip is, and which hand-in it is.

Layouts understood, entry by entry:

- Canvas: flat files ``doejane_12345_67890_task1_cnn.py`` (``name_[LATE_]userid_fileid_original
  name``; a resubmitted file may end ``-1``);
- Moodle: ``Jane Doe_12345_assignsubmission_file_/task1_cnn.py`` (one folder per student and plugin)
  or the same as flat file names;
- Gradescope's export: ``submission_metadata.yml`` beside one ``submission_<id>/`` folder per
  submission; the names (and the students' ids, ``sid``) come from the metadata;
- anything else: one file (named after its stem) or one folder per student.

A student is their platform's name and user id together (Gradescope: the submitters' ids), never
the order of the zip. Each entry carries a rank: a later hand-in sorts higher. For Canvas that is
the higher file id (Canvas numbers files as they arrive, so a LATE file has a higher one than an
on-time one), then LATE before on time, then the higher ``-N``; for Gradescope the later
``created_at``, then the higher submission number; otherwise (and as a tie-break) the later time
stamp in the zip, then the entry name.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Any, Callable

METADATA = "submission_metadata.yml"
CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?P<late>late_)?(?P<user>\d+)_(?P<file_id>\d+)_(?P<original>.+)$",
                    re.IGNORECASE)
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$")
# A Moodle folder's name ends with its user id and plugin (the student's name, before them, may be anything);
# a flat file's starts with them (its file name, after them, is the student's).
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)_$")
MOODLE_MARK = re.compile(r"_\d+_assignsubmission_[a-z]+_")
RESUBMITTED = re.compile(r"^(?P<stem>.+)-(?P<n>\d+)$")      # Canvas: task1_cnn-1.py for a second upload


@dataclass
class Version:
    """One entry of the zip, as one file of a student's submission."""

    info: zipfile.ZipInfo
    inside: PurePosixPath          # its path in the student's folder
    top: str                       # the entry's name as the platform gave it (its first path component)
    rank: tuple                    # a later hand-in sorts higher (see the module's docstring)
    tag: str                       # tells it apart in a folder name: a Canvas file id, else a short hash
    late: bool = False


@dataclass
class Attempt:
    """One submission of a student: one Gradescope submission folder; on the other platforms, all the
    student's entries (where one path comes more than once, those are versions of that file)."""

    rank: tuple = ()
    tag: str = ""
    label: str = ""
    name: str = ""                 # Gradescope: the submitters' names in this submission
    files: dict[PurePosixPath, list[Version]] = field(default_factory=dict)


@dataclass
class Student:
    """One student of the download: the platform's name and user id, and their submissions."""

    key: str                       # platform and identity: what makes two entries the same student
    name: str
    platform: str
    user_id: str = ""
    attempts: dict[str, Attempt] = field(default_factory=dict)


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def gradescope_metadata(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> dict[str, dict]:
    """Gradescope's submission_metadata.yml: folder name -> its submitters' names and ids and when it was
    created."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def plain(loader, suffix, node):        # Ruby object tags (!ruby/object:...) read as plain data
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_scalar(node)

    def get(mapping: dict, key: str) -> Any:
        return next((v for k, v in mapping.items() if str(k).lstrip(":") == key), None)

    Loader.add_multi_constructor("!", plain)
    if info.file_size > limit:
        return {}
    try:
        metadata = yaml.load(archive.read(info), Loader=Loader)
    except Exception:
        return {}
    if not isinstance(metadata, dict):
        return {}
    found: dict[str, dict] = {}
    for folder, entry in metadata.items():
        if not isinstance(entry, dict):
            continue
        submitters = get(entry, "submitters")
        names, ids = [], []
        for person in submitters if isinstance(submitters, list) else []:
            if not isinstance(person, dict):
                continue
            name = get(person, "name")
            if not (isinstance(name, str) and name.strip()):
                continue
            names.append(name.strip())
            for key in ("sid", "email"):
                value = get(person, key)
                if isinstance(value, (str, int)) and str(value).strip():
                    ids.append(str(value).strip())
                    break
            else:
                ids.append("")
        if names:
            found[str(folder)] = {"names": names, "ids": ids, "created": _timestamp(get(entry, "created_at"))}
    return found


def _timestamp(value: Any) -> float | None:
    """Seconds since 1970 for Gradescope's created_at (read as a datetime or as text), or None."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    return None


def _canvas_file(original: str) -> tuple[str, int]:
    """Canvas keeps the student's file name after its prefix; a resubmission adds '-1', '-2'."""
    path = PurePosixPath(original)
    again = RESUBMITTED.match(path.stem)
    return (again.group("stem") + path.suffix, int(again.group("n"))) if again else (original, 0)


def _zip_rank(info: zipfile.ZipInfo) -> tuple:
    return (tuple(info.date_time), info.filename, info.CRC)


def group_by_student(archive: zipfile.ZipFile, entries, metadata_limit: int,
                     warn: Callable[[str], Any] | None = None) -> dict[str, Student]:
    """Each file's student (by the platform's naming), its submission, and its path in the student's folder.
    ``warn`` hears of each entry whose name could be read as more than one student."""
    doubtful: dict[str, str] = {}
    metadata_info = next((info for info, parts in entries if parts == (METADATA,)), None)
    gradescope = gradescope_metadata(archive, metadata_info, metadata_limit) if metadata_info else {}
    students: dict[str, Student] = {}

    def add(student: Student, attempt_key: str, version: Version, **attempt: Any) -> None:
        known = students.setdefault(student.key, student)
        files = known.attempts.setdefault(attempt_key, Attempt(**attempt)).files
        files.setdefault(version.inside, []).append(version)

    for info, parts in entries:
        if parts == (METADATA,):
            continue
        top = parts[0]
        plain = _zip_rank(info)
        tag = short_hash(f"{info.filename}\0{info.CRC}")
        if len(parts) > 1 and top in gradescope:
            meta = gradescope[top]
            ids = meta["ids"]
            who = "|".join(i or n for i, n in zip(ids, meta["names"]))
            number = re.search(r"\d+", top)
            created = meta["created"]
            label = f"{top}" + (f" (created {datetime.fromtimestamp(created, timezone.utc):%Y-%m-%d %H:%M:%S} UTC)"
                                if created is not None else "")
            add(Student(f"gradescope:{who}", ", ".join(meta["names"]), "gradescope", ", ".join(i for i in ids if i)),
                top, Version(info, PurePosixPath(*parts[1:]), top, (0, 0, 0, *plain), tag),
                rank=(created if created is not None else float("-inf"), int(number.group()) if number else -1, top),
                tag=number.group() if number else short_hash(top), label=label, name=", ".join(meta["names"]))
        elif (moodle := len(parts) > 1 and MOODLE_FOLDER.match(top) or MOODLE.match(top)) is not None:
            inside = parts[1:] if len(parts) > 1 else (moodle.group("rest") or top,)
            name, user = moodle.group("name"), moodle.group("user")
            if len(MOODLE_MARK.findall(top)) > 1:
                doubtful[top] = (f"entry '{top}' names more than one Moodle user id: read as \"{name}\", user id "
                                 f"{user}; check by hand whose it is")
            add(Student(f"moodle:{name}:{user}", name, "moodle", user), "",
                Version(info, PurePosixPath(*inside), top, (0, 0, 0, *plain), tag))
        elif len(parts) == 1 and (canvas := CANVAS.match(top)) is not None:
            name, user, file_id = canvas.group("name"), canvas.group("user"), canvas.group("file_id")
            original, again = _canvas_file(canvas.group("original"))
            late = canvas.group("late") is not None
            add(Student(f"canvas:{name}:{user}", name, "canvas", user), "",
                Version(info, PurePosixPath(original), top, (int(file_id), int(late), again, *plain), file_id, late))
        elif len(parts) == 1:
            name = PurePosixPath(top).stem or top
            add(Student(f"file:{top}", name, "file"), "",
                Version(info, PurePosixPath(top), top, (0, 0, 0, *plain), tag))
        else:
            add(Student(f"folder:{top}", top, "folder"), "",
                Version(info, PurePosixPath(*parts[1:]), top, (0, 0, 0, *plain), tag))
    for top in sorted(doubtful):
        (warn or (lambda message: None))(doubtful[top])
    for student in students.values():   # one Gradescope student under several names: the newest one's
        if student.platform == "gradescope":
            student.name = max(student.attempts.values(), key=lambda a: a.rank).name
    return students

