"""A bulk download's zip, read within bounds: which entries are refused, and how one is written.

An entry with a NUL byte in its name, an absolute path, a ``..`` component, a link, any other
non-file or encryption is refused (``refusal`` says why) and nothing is written for it. Folders that
wrap the whole download are looked through; the junk file managers add (``__MACOSX``, ``._*``,
``.DS_Store``...) is skipped. ``write_entry`` writes one entry only inside its student's folder, never
over another file and never through a link, and counts every byte it writes against a budget, so a
zip whose headers understate its sizes still stops at the limit.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence

from ..errors import AutograderError

JUNK = {"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini"}
CHUNK = 1 << 20


class BulkDownloadError(AutograderError):
    """A bulk download that cannot be graded at all (not a zip, or past a size limit)."""


@dataclass
class Budget:
    """The bytes one zip may unpack to, and those written so far."""

    limit: int
    written: int = 0


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


def entry_parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """The entry's path as components; backslashes (zips made on Windows) count as separators."""
    return tuple(p for p in re.split(r"[\\/]", info.filename) if p not in ("", "."))


def is_junk(parts: tuple[str, ...]) -> bool:
    return any(p in JUNK or p.startswith("._") for p in parts)


def strip_wrapper(entries: list[tuple[zipfile.ZipInfo, tuple[str, ...]]], expected_file: str | None):
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


def write_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, folder: Path, inside: PurePosixPath,
                budget: Budget, too_big: Callable[[int], BulkDownloadError]) -> str | None:
    """Write one entry under ``folder``; returns why it was skipped, or None. Past the budget it raises
    ``too_big(bytes written)``."""
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
                budget.written += len(chunk)
                if budget.written > budget.limit:
                    raise too_big(budget.written)
                sink.write(chunk)
    except BulkDownloadError:
        raise
    except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, NotImplementedError) as exc:
        target.unlink(missing_ok=True)
        return f"it could not be read ({type(exc).__name__}: {exc})"
    return None
