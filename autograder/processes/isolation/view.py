"""What a sandboxed child sees of the host: its ``View``, and the host folders every sandbox shows.

A ``View`` is the input of every level's command: the child's folder, the
folders to hide, the user it runs as, the size of its writable folders and
its device. Every sandbox shows the child, read-only, the system folders
every Linux program needs (``host_layout``) and Python with its packages and
libraries (``python_paths``); a hidden folder that lies inside one of those is
covered (``hidden_in_view``), the others are not in the child's view at all.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import site
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class View:
    """What one child sees: its folder, what is hidden from it, and as whom it runs."""

    folder: Path
    hidden: tuple[Path, ...] = ()
    user: int | None = None             # the unprivileged user applied (None: root without capabilities)
    disk_mib: int = 0                   # size of each writable folder under bubblewrap (0: no limit)
    device: str = "cpu"                 # "cuda" also shows the GPU's device files
    needed: tuple[Path, ...] | None = None      # what the child must reach (None: see needed_paths)

    def needed_paths(self) -> list[Path]:
        """What the child must reach: its folder, Python, and the packages it imports."""
        if self.needed is not None:
            return list(self.needed)
        return sorted({self.folder.resolve(), *python_paths()})


@functools.lru_cache(maxsize=1)
def host_layout() -> tuple[tuple[str, str, str], ...]:
    """(kind, source, destination) for the system folders every Linux program needs, read-only."""
    layout = [("ro-bind", "/usr", "/usr")]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            layout.append(("symlink", os.readlink(path), str(path)))
        elif path.is_dir():
            layout.append(("ro-bind", str(path), str(path)))
    if Path("/etc/ld.so.cache").is_file():
        layout.append(("ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"))
    return tuple(layout)


@functools.lru_cache(maxsize=1)
def python_paths() -> tuple[Path, ...]:
    """Python, its packages and libraries: every sandbox sees these folders, read-only."""
    needed = set()
    for value in (sys.prefix, sys.base_prefix, sys.exec_prefix, Path(sys.executable).resolve().parent,
                  *site.getsitepackages()):
        if Path(value).is_dir():            # Debian's Python names site folders a virtual environment lacks
            needed.add(Path(value).resolve())
    for module in ("torch", "numpy"):       # found without importing them (the parent may not have yet)
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin:
            needed.add(Path(spec.origin).resolve().parent)
    for folder in os.environ.get("LD_LIBRARY_PATH", "").split(":"):
        if folder and Path(folder).is_dir():
            needed.add(Path(folder).resolve())
    return tuple(sorted(needed))


def hidden_in_view(hidden) -> tuple[str, ...]:
    """The folders of ``hidden`` that bubblewrap must cover because they lie inside a folder every
    sandbox sees (Python's, or a system folder); the others are not in its view at all."""
    shown = [Path(dest) for kind, _, dest in host_layout() if kind != "symlink"] + list(python_paths())
    covered = []
    for folder in hidden:
        try:
            path = Path(folder).resolve()
        except OSError:
            continue
        if any(parent in shown for parent in path.parents):
            covered.append(str(path))
    return tuple(sorted(set(covered)))
