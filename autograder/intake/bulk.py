"""Bulk downloads: a course platform's zip of submissions, unpacked into one folder per student.

``autograder grade <assignment> SUBMISSIONS.zip --out DIR`` hands each zip to
``BulkDownloads.expand``, which unpacks it into a temporary folder holding one
folder per student; those folders are then graded like any other (a folder's
name becomes its result folder and its row in grades.csv, where the name, user
id and entry the platform gave stand beside it). Layouts understood, entry by
entry:

- Canvas: flat files ``doejane_12345_67890_task1_cnn.py`` (``name_[LATE_]userid_
  fileid_original name``; a resubmitted file may end ``-1``);
- Moodle: ``Jane Doe_12345_assignsubmission_file_/task1_cnn.py`` (one folder
  per student and plugin) or the same as flat file names;
- Gradescope's export: ``submission_metadata.yml`` beside one
  ``submission_<id>/`` folder per submission; the names (and the students' ids,
  ``sid``) come from the metadata;
- anything else: one file (named after its stem) or one folder per student.

A folder that wraps the whole download is looked through.

Identities are kept, and nothing is decided by the order of the zip:

- A student is their platform's name and user id together (Gradescope: the
  submitters' ids). A folder is the name made safe (letters and digits of any
  script, ``.``, ``_``, ``-``); where two students' names look alike (the same
  after NFKC, case folding and Unicode's confusable skeleton, UTS #39), each of
  them gets ``-<user id>`` added (or a short hash of the entry where there is no
  id), so "Jane Doe" and "Jane Dοe" (a Greek omicron) become ``Jane_Doe-101``
  and ``Jane_Dοe-202`` whichever comes first. Such names, and two names under
  one user id, are flagged on the console and in report.html.
- Several submissions of one student (a Canvas ``LATE`` file beside an on-time
  one, ``task1_cnn-1.py`` beside ``task1_cnn.py``, two Gradescope submissions
  of the same submitters, one Moodle file twice) are all listed. The newest is
  the one handed in last: for Canvas the higher file id (Canvas numbers files
  as they arrive, so a LATE file has a higher one than an on-time one), then
  LATE before on time, then the higher ``-N``; for Gradescope the later
  ``created_at``, then the higher submission number; otherwise (and as a
  tie-break) the later time stamp in the zip, then the entry name.
  ``kit.bulk_duplicates = "newest"`` grades only the newest and lists
  each other one as not graded, with why; ``"all"`` grades each other one too,
  in a folder of its own (``<folder>-<file id or submission number>``).

Unpacking is defensive: an entry with an absolute path, a ``..`` component, a
link or any other non-file is refused with a message and nothing is written for
it; files are written only inside the temporary folder, never over one another;
and unpacking stops with an error once the files written reach
``kit.bulk_unpacked_mib`` or the zip lists more than ``kit.bulk_max_files``
entries (zip bombs).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Sequence

from ..errors import AutograderError
from .text import clean_text

METADATA = "submission_metadata.yml"
CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?P<late>late_)?(?P<user>\d+)_(?P<file_id>\d+)_(?P<original>.+)$",
                    re.IGNORECASE)
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$")
# A Moodle folder's name ends with its user id and plugin (the student's name, before them, may be anything);
# a flat file's starts with them (its file name, after them, is the student's).
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)_$")
MOODLE_MARK = re.compile(r"_\d+_assignsubmission_[a-z]+_")
RESUBMITTED = re.compile(r"^(?P<stem>.+)-(?P<n>\d+)$")      # Canvas: task1_cnn-1.py for a second upload
JUNK = {"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini"}
CHUNK = 1 << 20
DUPLICATE_RULES = ("newest", "all")
# A result folder must never be one of the batch's own files in --out.
RESERVED_NAMES = ("grades.csv", "grades.csv.partial", "report.html", "report.html.partial")
NAME_CHARS = 64          # of a student's name in a folder name
SUFFIX_CHARS = 24        # of a user id or tag added to it
FOLDER_CHARS = 100       # of a whole folder name (as the batch's result folders)


class BulkDownloadError(AutograderError):
    """A bulk download that cannot be graded at all (not a zip, or past a size limit)."""


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


@dataclass(frozen=True)
class Identity:
    """Who a result folder belongs to, as the platform names them (columns of grades.csv)."""

    name: str                      # the name the platform gave
    user_id: str                   # the platform's user id ("" where the layout has none)
    entry: str                     # the entries in the zip the folder was made from
    attempt: str                   # "newest", or "earlier" for an earlier submission graded as well

    def columns(self) -> dict[str, str]:
        return {"platform_name": self.name, "platform_user_id": self.user_id, "platform_entry": self.entry,
                "attempt": self.attempt}


@dataclass
class Candidate:
    """A set of files that may get a folder of its own: a student's newest submission, or an earlier one."""

    student: Student
    versions: list[Version]
    newest: bool
    tag: str = ""
    what: str = ""                 # for an earlier one: what it is, and why another one is newer
    folder: str = ""

    @property
    def entry(self) -> str:
        return "; ".join(sorted({v.top for v in self.versions}))

    @property
    def fingerprint(self) -> str:
        """The same for the same entries whatever their order in the zip."""
        parts = sorted(f"{v.info.filename}\0{v.info.CRC}\0{v.info.file_size}" for v in self.versions)
        return _short_hash(self.student.key + "\n" + "\n".join(parts))


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


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


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


# ------------------------------------------------------------------ names that look alike

@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """Each confusable character -> the prototype it is confused with (Unicode's confusables.txt, as
    confusable-homoglyphs ships it). Its table lists every prototype with the characters that look like
    it and each of those with its prototype, so each group is a star around one prototype; a group of
    two has no centre, and either one serves."""
    from confusable_homoglyphs.confusables import confusables_data

    def bare(text: str) -> str:          # the table wraps right-to-left characters in direction marks
        return "".join(ch for ch in text if unicodedata.category(ch) != "Cf") or text

    neighbours: dict[str, set[str]] = {}
    for char, homoglyphs in confusables_data.items():
        for homoglyph in homoglyphs:
            a, b = bare(char), bare(homoglyph["c"])
            if a != b:
                neighbours.setdefault(a, set()).add(b)
                neighbours.setdefault(b, set()).add(a)
    mapping: dict[str, str] = {}
    for node, others in neighbours.items():
        if len(node) != 1 or len(others) != 1:
            continue                      # a prototype (or a sequence) stays as it is
        (other,) = others
        if len(neighbours[other]) > 1:
            mapping[node] = other
        elif (not node.isascii(), len(node), node) > (not other.isascii(), len(other), other):
            mapping[node] = other         # a pair: both become the ASCII one, else the smaller
    return mapping


def skeleton(text: str) -> str:
    """UTS #39's skeleton: decomposed, ignorable characters dropped, each confusable character replaced by
    its prototype. Two strings with the same skeleton look alike."""
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    mapped = "".join(table.get(ch, ch) for ch in decomposed if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFD", mapped)


def lookalike_key(name: str) -> str:
    """What two names that look alike share: NFKC, invisible characters dropped, spaces collapsed,
    case folded, confusable characters replaced by their prototypes."""
    text = unicodedata.normalize("NFKC", name)
    text = " ".join("".join(ch for ch in text if unicodedata.category(ch) != "Cf").split())
    return skeleton(skeleton(text).casefold())


def _odd_characters(name: str, others: Sequence[str]) -> list[str]:
    """The characters of ``name`` beyond ASCII that another name lacks, as 'U+03BF GREEK SMALL LETTER
    OMICRON': what makes names that print alike differ."""
    found = []
    for ch in dict.fromkeys(name):
        if not ch.isascii() and any(ch not in other for other in others):
            found.append(f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')}")
    return found


def _quoted(names: Sequence[str]) -> list[str]:
    return [f'"{name}"' for name in names]


def _and(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ------------------------------------------------------------------ reading the platform's layout

def _metadata(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> dict[str, dict]:
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


def folder_name(name: str) -> str:
    """A student's name as a folder name: letters and digits of any script, '.', '_' and '-' (anything
    else becomes '_'), never hidden, never one of the batch's own files, at most NAME_CHARS long."""
    cleaned = "".join(ch for ch in name if unicodedata.category(ch) != "Cf")      # invisible marks go
    cleaned = cleaned.strip().strip(".").strip()
    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in cleaned)[:NAME_CHARS].lstrip(".")
    if not any(ch.isalnum() for ch in cleaned):
        return "student"
    return cleaned + "-student" if cleaned.lower() in RESERVED_NAMES else cleaned


def _suffix(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in text)[:SUFFIX_CHARS]


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
    gradescope = _metadata(archive, metadata_info, metadata_limit) if metadata_info else {}
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
        tag = _short_hash(f"{info.filename}\0{info.CRC}")
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
                tag=number.group() if number else _short_hash(top), label=label, name=", ".join(meta["names"]))
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


def _why_newer(newer: Version | Attempt, older: Version | Attempt) -> str:
    """Why ``newer`` counts as handed in after ``older``, in words."""
    if isinstance(newer, Attempt):
        assert isinstance(older, Attempt)
        if newer.rank[0] != older.rank[0]:
            return "it was created later"
        return "it has the higher submission number" if newer.rank[1] != older.rank[1] else "it comes later by name"
    assert isinstance(older, Version)
    first = next((i for i, (a, b) in enumerate(zip(newer.rank, older.rank)) if a != b), len(newer.rank))
    late = ", and it is marked LATE (handed in after the deadline)" if newer.late and not older.late else ""
    return {0: f"it has the higher Canvas file id ({newer.rank[0]} > {older.rank[0]}){late}",
            1: "it is marked LATE (handed in after the deadline)",
            2: f"it is Canvas's later copy (-{newer.rank[2]})",
            3: "its time stamp in the zip is later"}.get(first, "both have the same time stamp, and its entry name "
                                                            "comes later")


def candidates(student: Student) -> list[Candidate]:
    """The student's newest submission (the newest version of each of its files), then each earlier one:
    an earlier Gradescope submission, or the newest with one file in an earlier version."""
    attempts = sorted(student.attempts.values(), key=lambda a: a.rank, reverse=True)
    found: list[Candidate] = []
    for index, attempt in enumerate(attempts):
        ordered = {path: sorted(versions, key=lambda v: v.rank, reverse=True)
                   for path, versions in sorted(attempt.files.items())}
        latest = [versions[0] for versions in ordered.values()]
        if index == 0:
            found.append(Candidate(student, latest, newest=True))
        else:
            found.append(Candidate(student, latest, False, attempt.tag,
                                   f"{attempt.label} is an earlier submission than {attempts[0].label}: "
                                   f"{_why_newer(attempts[0], attempt)}"))
        for path, versions in ordered.items():
            for older in versions[1:]:
                files = [older if v is versions[0] else v for v in latest]
                found.append(Candidate(student, files, False, older.tag,
                                       f"'{older.top}' is an earlier version of {path} than '{versions[0].top}': "
                                       f"{_why_newer(versions[0], older)}"))
    return found


def name_folders(every: Sequence[Candidate]) -> None:
    """Give each candidate its folder name: the same whatever the order of the zip (or of the zips).

    A student's name becomes the folder; where several students' names (or folder names) look alike,
    each gets its user id (or, without one, a hash of its entries) added; an earlier submission graded as
    well gets its own tag added to its student's folder. Names still alike after that get a hash of their
    entries."""
    students = sorted({id(c.student): c.student for c in every}.values(), key=lambda s: s.key)
    leader = list(range(len(students)))          # students alike by name or by folder name, joined

    def find(i: int) -> int:
        while leader[i] != i:
            leader[i] = leader[leader[i]]
            i = leader[i]
        return i

    first: dict[str, int] = {}
    for i, student in enumerate(students):
        for key in ("name:" + lookalike_key(student.name), "folder:" + lookalike_key(folder_name(student.name))):
            leader[find(i)] = find(first.setdefault(key, i))
    groups: dict[int, list[Student]] = {}
    for i, student in enumerate(students):
        groups.setdefault(find(i), []).append(student)
    base: dict[int, str] = {}
    for group in groups.values():
        ids = [s.user_id for s in group]
        for student in group:
            name = folder_name(student.name)
            if len(group) > 1:
                unique_id = student.user_id and ids.count(student.user_id) == 1
                name += "-" + (_suffix(student.user_id) if unique_id else _short_hash(student.key))
            base[id(student)] = name
    def fit(folder: str, candidate: Candidate) -> str:
        return folder if len(folder) <= FOLDER_CHARS else f"{folder[:FOLDER_CHARS - 9]}-{candidate.fingerprint}"

    for candidate in every:
        folder = base[id(candidate.student)]
        candidate.folder = fit(folder if candidate.newest else f"{folder}-{_suffix(candidate.tag)}", candidate)
    for _ in range(3):                      # names that still look alike (a hostile one): add a hash
        seen: dict[str, list[Candidate]] = {}
        for candidate in every:
            seen.setdefault(lookalike_key(candidate.folder), []).append(candidate)
        clashes = [group for group in seen.values() if len(group) > 1]
        if not clashes:
            return
        for group in clashes:
            for candidate in group:
                candidate.folder = fit(f"{candidate.folder}-{candidate.fingerprint}", candidate)
    taken: set[str] = set()                 # past all that, numbers in a fixed order
    for candidate in sorted(every, key=lambda c: (c.folder.lower(), c.fingerprint)):
        name, n = candidate.folder, 1
        while name.lower() in taken:
            n += 1
            name = f"{candidate.folder}-{n}"
        taken.add(name.lower())
        candidate.folder = name


@dataclass
class _Zip:
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
                parts = _parts(info)
                if info.is_dir() or not parts or _is_junk(parts):
                    continue
                entries.append((info, parts))
            students = group_by_student(archive, _strip_wrapper(entries, self.expected_file), self.max_bytes,
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
        everyone = [(download.path, s) for download in downloads for s in download.students]
        folder_of = {id(c.student): c.folder for c in every if c.newest}
        self._flag(everyone, folder_of)
        for download in downloads:
            for student in sorted(download.students, key=lambda s: folder_of[id(s)]):
                self._list_earlier(download.path, self._found[id(student)])

    def _flag(self, everyone: list[tuple[Path, Student]], folder_of: dict[int, str]) -> None:
        def who(students: list[Student]) -> str:
            ids = [s.user_id for s in students]
            if not any(ids):
                kind = "no platform ids"
            elif len(set(ids)) == len(ids):
                kind = f"different platform ids {_and(ids)}"
            else:
                kind = f"platform ids {_and([i or '(none)' for i in ids])}"
            return f"{kind} (graded as {_and([folder_of[id(s)] for s in students])})"

        groups: dict[str, list[Student]] = {}
        for _, student in everyone:
            groups.setdefault(lookalike_key(student.name), []).append(student)
        for group in sorted(groups.values(), key=lambda g: sorted(folder_of[id(s)] for s in g)):
            if len(group) < 2:
                continue
            group.sort(key=lambda s: folder_of[id(s)])
            names = [s.name for s in group]
            if len(set(names)) == 1:
                message = f'{len(group)} entries are named "{names[0]}": {who(group)}'
            else:
                message = f"{_and(_quoted(dict.fromkeys(names)))} look alike: {who(group)}"
                def whose(name: str) -> str:
                    ids = [s.user_id for s in group if s.name == name and s.user_id]
                    return f" (platform id {_and(ids)})" if ids else ""

                odd = [f'"{n}"{whose(n)} holds {_and(chars)}' for n in dict.fromkeys(names)
                       if (chars := _odd_characters(n, [m for m in names if m != n]))]
                if odd:
                    message += "; " + "; ".join(odd)
            self.say(message, into=self.lookalikes)
        shared: dict[tuple[str, str], list[Student]] = {}
        for _, student in everyone:
            if student.user_id:
                shared.setdefault((student.platform, student.user_id), []).append(student)
        for (platform, user_id), group in sorted(shared.items()):
            if len({s.name for s in group}) > 1:
                group.sort(key=lambda s: folder_of[id(s)])
                message = (f"{_and(_quoted([s.name for s in group]))} share the {platform} user id {user_id} "
                           f"(graded as {_and([folder_of[id(s)] for s in group])})")
                self.say(message, into=self.lookalikes)

    def _list_earlier(self, zip_path: Path, found: list[Candidate]) -> None:
        """Say what becomes of each earlier submission of a student; none goes unmentioned."""
        newest, earlier = found[0], found[1:]
        student = newest.student
        whose = f"{student.name}" + (f" (platform id {student.user_id})" if student.user_id else "")
        for candidate in earlier:
            if self.duplicates_rule == "all":
                message = (f"{zip_path.name}: {whose}: {candidate.what}; graded as well, as {candidate.folder} "
                           f'(kit.bulk_duplicates = "all"; the newest is {newest.folder})')
            else:
                message = (f"{zip_path.name}: {whose}: not graded: {candidate.what}; "
                           f'kit.bulk_duplicates = "newest" grades only the newest, as {newest.folder}')
            self.say(message, into=self.duplicates)

    def _unpack(self, download: _Zip) -> list[Path]:
        workdir = tempfile.TemporaryDirectory(prefix="autograder-bulk-")
        self.folders.append(workdir)
        root = Path(workdir.name)
        written = [0]
        folders = []
        for candidate in sorted(download.chosen, key=lambda c: c.folder.lower()):
            folder = root / candidate.folder
            folder.mkdir()
            for version in candidate.versions:
                why = self._extract(download.archive, version.info, folder, version.inside, written, download.path)
                if why is not None:
                    self._refuse(download.path, version.info.filename, why)
                    self.notes.setdefault(folder, []).append(f"{version.info.filename} was not unpacked: {why}")
            self.identities[folder] = Identity(candidate.student.name, candidate.student.user_id, candidate.entry,
                                               "newest" if candidate.newest else "earlier")
            others = len(self._found[id(candidate.student)]) - 1
            if others and candidate.newest:
                self.notes.setdefault(folder, []).append(
                    f"The download holds {others + 1} submissions of yours; the newest ({candidate.entry}) was "
                    "graded here.")
            elif not candidate.newest:
                self.notes.setdefault(folder, []).append(
                    f"This is an earlier submission of yours ({candidate.entry}), graded as well; your newest "
                    "is graded on its own.")
            folders.append(folder)
        self.say(f"{download.path.name}: {len(folders)} submission{'' if len(folders) == 1 else 's'} unpacked")
        return folders

    def _extract(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, folder: Path, inside: PurePosixPath,
                 written: list[int], zip_path: Path) -> str | None:
        """Write one entry under ``folder``; returns why it was skipped, or None. Raises past the size limit."""
        target = folder.joinpath(*inside.parts)
        if not target.resolve().is_relative_to(folder.resolve()):
            return "its path would be written outside --out"
        n = 1
        while target.exists():        # two entries that still land on one file: keep both
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
        self.say(f"{zip_path.name}: refused entry '{entry}': {why}", into=self.refused)
