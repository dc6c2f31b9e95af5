"""A bulk download's students: their folder names, names that look alike, and several submissions.

Nothing here depends on the order of the zip (or of the zips):

- A student's folder is their name made safe (``names.student_folder_name``). Where two students'
  names, or their folder names, look alike (``lookalike.lookalike_key``), each of them gets
  ``-<user id>`` added (or a short hash of the entry where there is no id, or where the id is
  shared), so "Jane Doe" and "Jane Dοe" (a Greek omicron) become ``Jane_Doe-101`` and
  ``Jane_Dοe-202`` whichever comes first. Folder names that still look alike get a hash of their
  entries; past that, ``-2``, ``-3`` in a fixed order. A name longer than ``FOLDER_CHARS`` is
  cut and ends in a hash of its entries.
- Such names, and two names under one user id, are flagged (``lookalike_flags``).
- Several submissions of one student (a Canvas ``LATE`` file beside an on-time one,
  ``task1_cnn-1.py`` beside ``task1_cnn.py``, two Gradescope submissions of the same submitters,
  one Moodle file twice) are all listed; the newest is the one with the highest rank
  (``bulk_platforms``). ``kit.bulk_duplicates = "newest"`` grades only the newest and lists each
  other one as not graded, with why; ``"all"`` grades each other one too, in a folder of its own
  (``<folder>-<file id or submission number>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .bulk_platforms import Attempt, Student, Version, short_hash
from .lookalike import lookalike_key, odd_characters
from .names import FOLDER_CHARS, numbered, student_folder_name

DUPLICATE_RULES = ("newest", "all")
SUFFIX_CHARS = 24        # of a user id or tag added to a student's folder name


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
        return short_hash(self.student.key + "\n" + "\n".join(parts))


def _suffix(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in text)[:SUFFIX_CHARS]


def _quoted(names: Sequence[str]) -> list[str]:
    return [f'"{name}"' for name in names]


def _and(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


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
        folder = student_folder_name(student.name)
        for key in ("name:" + lookalike_key(student.name), "folder:" + lookalike_key(folder)):
            leader[find(i)] = find(first.setdefault(key, i))
    groups: dict[int, list[Student]] = {}
    for i, student in enumerate(students):
        groups.setdefault(find(i), []).append(student)
    base: dict[int, str] = {}
    for group in groups.values():
        ids = [s.user_id for s in group]
        for student in group:
            name = student_folder_name(student.name)
            if len(group) > 1:
                unique_id = student.user_id and ids.count(student.user_id) == 1
                name += "-" + (_suffix(student.user_id) if unique_id else short_hash(student.key))
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
    taken: set[str] = set()                 # past all that, numbers in a fixed order
    for candidate in sorted(every, key=lambda c: (c.folder.lower(), c.fingerprint)):
        candidate.folder = numbered(candidate.folder, taken)


def lookalike_flags(students: Sequence[Student], folder_of: dict[int, str]) -> list[str]:
    """One line for each group of students whose names look alike, and for each user id that more than one
    name shares; ``folder_of`` maps ``id(student)`` to the folder their newest submission is graded in."""
    def who(group: list[Student]) -> str:
        ids = [s.user_id for s in group]
        if not any(ids):
            kind = "no platform ids"
        elif len(set(ids)) == len(ids):
            kind = f"different platform ids {_and(ids)}"
        else:
            kind = f"platform ids {_and([i or '(none)' for i in ids])}"
        return f"{kind} (graded as {_and([folder_of[id(s)] for s in group])})"

    lines: list[str] = []
    groups: dict[str, list[Student]] = {}
    for student in students:
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
                   if (chars := odd_characters(n, [m for m in names if m != n]))]
            if odd:
                message += "; " + "; ".join(odd)
        lines.append(message)
    shared: dict[tuple[str, str], list[Student]] = {}
    for student in students:
        if student.user_id:
            shared.setdefault((student.platform, student.user_id), []).append(student)
    for (platform, user_id), group in sorted(shared.items()):
        if len({s.name for s in group}) > 1:
            group.sort(key=lambda s: folder_of[id(s)])
            lines.append(f"{_and(_quoted([s.name for s in group]))} share the {platform} user id {user_id} "
                         f"(graded as {_and([folder_of[id(s)] for s in group])})")
    return lines


def earlier_lines(zip_name: str, found: list[Candidate], rule: str) -> list[str]:
    """What becomes of each earlier submission of a student (``found``: the newest, then the earlier ones)
    under ``kit.bulk_duplicates = rule``; none goes unmentioned."""
    newest, earlier = found[0], found[1:]
    student = newest.student
    whose = f"{student.name}" + (f" (platform id {student.user_id})" if student.user_id else "")
    lines = []
    for candidate in earlier:
        if rule == "all":
            lines.append(f"{zip_name}: {whose}: {candidate.what}; graded as well, as {candidate.folder} "
                         f'(kit.bulk_duplicates = "all"; the newest is {newest.folder})')
        else:
            lines.append(f"{zip_name}: {whose}: not graded: {candidate.what}; "
                         f'kit.bulk_duplicates = "newest" grades only the newest, as {newest.folder}')
    return lines


def student_note(candidate: Candidate, submissions: int) -> str | None:
    """What the student's own feedback says of a download holding ``submissions`` of theirs, if anything."""
    if not candidate.newest:
        return (f"This is an earlier submission of yours ({candidate.entry}), graded as well; your newest "
                "is graded on its own.")
    if submissions > 1:
        return (f"The download holds {submissions} submissions of yours; the newest ({candidate.entry}) was "
                "graded here.")
    return None
