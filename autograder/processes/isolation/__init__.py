"""Operating-system measures around a sandboxed process, and a record of them.

The best level the machine allows is used (``capabilities.choose_level``; the
trials behind it run once per grader process):

``bwrap`` (root, bubblewrap installed): the child's filesystem is built from
  nothing. It sees read-only binds of ``/usr`` and of the Python installation
  and packages it imports, the grader's files for it (read-only), its own
  size-limited writable folder, a private ``/tmp``, ``/dev/shm``, ``/dev`` and
  ``/proc``; nothing else of the host. New network (no interface, loopback
  down), IPC, PID, UTS and cgroup namespaces; it dies with the grader; a new
  session; every capability dropped; an unprivileged user (``kit.sandbox_uid``).

``unshare`` (root, util-linux; where bubblewrap is missing or fails): network,
  IPC, PID and mount namespaces; the filesystem read-only except the sandbox
  folder; the kit, data, cache and submission folders (and other sandboxes)
  covered by empty mounts; every capability dropped; the unprivileged user.

``none`` (a student's account): the child runs in a fresh folder, in its own
  session, killed as a group.

On every level: a memory cgroup and a pids cgroup where writable
(``cgroups.py``), and a parent-death signal so that the child never outlives
the grader. ``Isolation.record`` says exactly which measures were in force,
for ``results.json`` (``record.py``); whatever is missing is said too.

On ``bwrap`` and ``unshare``, the sandboxed process also confines itself as it
starts (``wire/confine.py``, with what ``confinement`` hands it): a system
call filter (``syscall_filter.py``), and, for a submission's child, a user and
IPC namespace and a session keyring of its own.

An ``Isolation`` composes a level (``levels.py``), the ``View`` its child has
(``view.py``) and the child's cgroups; the level is chosen once, when it is
made, and never changes.
"""

from __future__ import annotations

from pathlib import Path

from . import syscall_filter
from .capabilities import (Reasons, bwrap_fails, choose_level, namespaces_available, own_namespaces_fail,
                           parent_death_prefix, setup_fails)
from .cgroups import Cgroups
from .levels import LEVELS, Bubblewrap, Level, Unisolated, Unshare
from .record import describe
from .view import View, hidden_in_view, python_paths

__all__ = [
    "Isolation", "View", "Level", "LEVELS", "Bubblewrap", "Unshare", "Unisolated", "Reasons", "Cgroups",
    "bwrap_fails", "choose_level", "namespaces_available", "own_namespaces_fail", "parent_death_prefix",
    "setup_fails", "hidden_in_view", "python_paths", "syscall_filter",
]


class Isolation:
    """The measures for one child: build its command, then read what happened.

    ``level`` None uses the best level the machine allows (trying each once per
    grader process); a level given is used as it is, without trials, as the
    sandbox user ``uid`` where the level isolates. ``uid`` None or 0 keeps root
    (without capabilities). ``processes`` counts processes and threads
    together, ``disk_mib`` sizes each writable folder under bubblewrap (0 for
    either: no limit); ``device`` "cuda" also shows the GPU's device files.
    """

    def __init__(self, folder: Path, memory_gib: float, hidden=(), *, uid: int | None = None,
                 processes: int = 0, disk_mib: int = 0, device: str = "cpu", level: Level | None = None) -> None:
        if level is None:
            self.level, user, self.reasons = choose_level(uid)
        else:
            self.level, user = level, (uid or None) if level.isolated else None
            self.reasons = Reasons(namespaces=namespaces_available())
        self.view = View(Path(folder), tuple(hidden), user, disk_mib, device)
        self.cgroups = Cgroups.make(memory_gib, processes)

    @property
    def mode(self) -> str:
        """The level's name, as results.json says: "bwrap", "unshare" or "none"."""
        return self.level.name

    @property
    def user(self) -> int | None:
        """The unprivileged user applied (None: root, without capabilities where isolated)."""
        return self.view.user

    @property
    def allows_warm_start(self) -> bool:
        return self.level.allows_warm_start

    def wrap(self, command: list[str]) -> list[str]:
        """The command that starts ``command`` with every measure in force."""
        return [*parent_death_prefix(), *self.cgroups.join(self.level.wrap(command, self.view))]

    def confinement(self) -> dict | None:
        """What the sandboxed process installs on itself as it starts (wire/confine.py's
        confinement.json), or None where there is no sandbox."""
        if not self.level.isolated:
            return None
        programs, _ = syscall_filter.programs()
        return {"own_namespaces": True, "filter": programs.settings() if programs else None}

    def prepare_folder(self) -> None:
        """Make the sandbox folder ready for the child (its own, where it writes on the host's disk)."""
        self.level.prepare_folder(self.view.folder, self.view.user)

    def exit_status(self, code: int | None) -> int | None:
        """The child's exit status as the process's own (negative: killed by that signal)."""
        return self.level.exit_status(code)

    def record(self) -> dict:
        """Which measures were in force, in words, for results.json."""
        return describe(self.level, self.view, self.reasons, self.cgroups)

    def memory_bytes(self) -> int | None:
        """Memory the cgroup charges to the child now (None without a cgroup)."""
        return self.cgroups.memory_bytes()

    def memory_exceeded(self) -> bool:
        """Whether the kernel stopped the child for going over the cgroup limit."""
        return self.cgroups.memory_exceeded()

    def processes_exceeded(self) -> bool:
        """Whether the child was refused a process or thread for going over the pids limit."""
        return self.cgroups.processes_exceeded()

    def widen_memory_limit(self) -> int:
        """Room for a warm start's zygote on top of the limit (see ``Cgroups.widen_memory_limit``)."""
        return self.cgroups.widen_memory_limit()

    def kill_all(self) -> None:
        """Kill whatever is still in the child's cgroups (a last resort)."""
        self.cgroups.kill_all()

    def close(self) -> None:
        self.cgroups.close()
