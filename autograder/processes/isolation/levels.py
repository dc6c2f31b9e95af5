"""The three isolation levels, from strongest to none, as ``results.json`` names them.

``Bubblewrap`` ("bwrap"): a filesystem built from nothing (``bwrap.py``); the
  child's folder is a tmpfs, so nothing needs handing over; bubblewrap reports
  death by signal N as status 128 + N. The only level a warm start runs under.
``Unshare`` ("unshare"): namespaces and a mount script (``unshare.py``); the
  child writes in its folder on the host's disk, which is made the sandbox
  user's own.
``Unisolated`` ("none"): the command as it is, in a fresh folder.

A level holds no state: ``LEVELS`` maps each name to its one instance, and
what differs between two children is their ``View``.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import bwrap, unshare
from .view import View


class Level:
    """What every level answers; the defaults are those of a level that changes nothing."""

    name = ""                   # as results.json says
    isolated = False            # namespaces, and a sandboxed process that confines itself as it starts
    allows_warm_start = False   # whether a zygote may fork submissions' children inside it

    def wrap(self, command: list[str], view: View) -> list[str]:
        """The command that starts ``command`` at this level, seeing ``view``."""
        return list(command)

    def prepare_folder(self, folder: Path, user: int | None) -> None:
        """Make ``folder`` ready for a child that runs as ``user`` (None: root without capabilities)."""

    def exit_status(self, code: int | None) -> int | None:
        """The child's exit status as the process's own (negative: killed by that signal)."""
        return code


class Bubblewrap(Level):
    name = "bwrap"
    isolated = True
    allows_warm_start = True

    def wrap(self, command: list[str], view: View) -> list[str]:
        return bwrap.command(command, view)

    def prepare_folder(self, folder: Path, user: int | None) -> None:
        """Nothing: the child gets a tmpfs over its folder, with the grader's files bound read-only."""

    def exit_status(self, code: int | None) -> int | None:
        if code is not None and 128 < code <= 128 + 64:
            return 128 - code
        return code


class Unshare(Level):
    name = "unshare"
    isolated = True
    allows_warm_start = False

    def wrap(self, command: list[str], view: View) -> list[str]:
        return unshare.command(command, view)

    def prepare_folder(self, folder: Path, user: int | None) -> None:
        """Make the folder the unprivileged child's own (it must write there)."""
        if user is None:
            return
        os.chown(folder, user, user)
        for parent, folders, files in os.walk(folder):
            for name in folders + files:
                os.chown(os.path.join(parent, name), user, user, follow_symlinks=False)


class Unisolated(Level):
    name = "none"
    isolated = False
    allows_warm_start = False


LEVELS: dict[str, Level] = {level.name: level for level in (Bubblewrap(), Unshare(), Unisolated())}
