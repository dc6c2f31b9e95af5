"""The one rule that turns a submission's or a student's name into a result folder name.

A result folder sits directly in ``--out`` beside the batch's own files, so its name:

- holds only letters and digits (of any script), ``.``, ``_`` and ``-``: every other character inside
  the name (a separator, a space, a control or invisible direction mark) becomes ``_``;
- loses spaces, dots and invisible formatting characters at either end, so it is never hidden, never
  ``.`` or ``..``, and never ends in a dot or a space;
- is at most ``limit`` characters long (a whole result folder name: ``FOLDER_CHARS``);
- holds at least one letter or digit: a name without one becomes the caller's word (``submission`` for
  a file or folder handed in, ``student`` for a name from a bulk download);
- is never one of the batch's own files (``grades.csv``, ``report.html`` and their ``.partial``
  forms, in any case): such a name gets ``-<word>`` added.

Names are unique without regard to case (some file systems ignore it): the second ``alice`` becomes
``alice-2``, the third ``alice-3``.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Sequence

from .submission import find_submission

# The batch's own files in --out: no result folder takes one of these names.
RESERVED_NAMES = ("grades.csv", "grades.csv.partial", "report.html", "report.html.partial")
FOLDER_CHARS = 100       # of a whole result folder name
STUDENT_CHARS = 64       # of a student's name in a bulk download's folder, leaving room for an id or tag


def _is_padding(ch: str) -> bool:
    return ch.isspace() or ch == "." or unicodedata.category(ch) == "Cf"


def _trim(text: str) -> str:
    """``text`` without spaces, dots and invisible formatting characters at either end."""
    start, end = 0, len(text)
    while start < end and _is_padding(text[start]):
        start += 1
    while end > start and _is_padding(text[end - 1]):
        end -= 1
    return text[start:end]


def folder_name(name: str, *, word: str = "submission", limit: int = FOLDER_CHARS) -> str:
    """``name`` as a result folder name (the module's rule); ``word`` stands in for a name without a
    letter or digit and is added to a name that is one of the batch's own files."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in _trim(name))
    safe = safe[:limit].strip(".")
    if not any(ch.isalnum() for ch in safe):
        return word
    return f"{safe}-{word}" if safe.lower() in RESERVED_NAMES else safe


def student_folder_name(name: str) -> str:
    """A student's name from a bulk download as the start of their folder name: the same rule, shorter,
    so that a user id or tag added to it keeps the folder within ``FOLDER_CHARS``."""
    return folder_name(name, word="student", limit=STUDENT_CHARS)


def numbered(base: str, taken: set[str]) -> str:
    """``base``, else ``base-2``, ``base-3``...: the first that ``taken`` lacks without regard to case.
    The name is added to ``taken`` (in lower case)."""
    name, n = base, 1
    while name.lower() in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name.lower())
    return name


def unique_folder_names(paths: Sequence[str | Path], expected_file: str) -> list[str]:
    """Each submission's result folder name, in order: the file's stem or the folder's name, made safe
    and then unique (an earlier one keeps its name)."""
    taken: set[str] = set()
    names = []
    for path in paths:
        try:
            base = folder_name(find_submission(path, expected_file).name)
        except Exception:  # noqa: BLE001 - a path that cannot even be looked at still gets a name
            base = folder_name(Path(path).stem)
        names.append(numbered(base, taken))
    return names
