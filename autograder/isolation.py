"""Operating-system measures around the submission's process, and a record of them.

Where the grader runs as root on Linux with ``unshare`` and ``setpriv``:

- network namespace: no network at all, loopback included;
- PID namespace: the child is process 1 of its own namespace, so every
  process it starts (``setsid`` daemons included) dies with it;
- mount namespace: the whole filesystem is read-only except the sandbox
  folder, and the kit's folder, the data folder, the submission's original
  folder and the cgroup tree are covered by empty, unreadable mounts;
- every capability is dropped before Python starts, so the child cannot undo
  any of this (it keeps uid 0 because Python's packages may be readable by
  root only);
- memory: a cgroup (v1 ``memory`` or v2) caps the resident memory of all the
  child's processes together, when writable.

Whatever cannot be applied falls back to what ``sandbox.py`` always does: a
new session killed as a group, resident memory polled, time and output
limits, a fresh folder and a scrubbed environment. ``Isolation.record``
says which measures were in force, for ``results.json``.
"""

from __future__ import annotations

import functools
import itertools
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
_counter = itertools.count()


@functools.lru_cache(maxsize=None)
def namespaces_available() -> str:
    """Empty when namespaces can be used here, else the reason they cannot."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the grader is not running as root"
    for tool in ("unshare", "setpriv", "mount"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed"
    try:
        probe = subprocess.run(
            ["unshare", "-n", "-m", "--pid", "--fork", "--kill-child", "--mount-proc",
             "setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "true"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare could not run ({exc})"
    if probe.returncode != 0:
        return f"unshare failed ({probe.stderr.decode(errors='replace').strip()[:200]})"
    return ""


@functools.lru_cache(maxsize=None)
def _cgroup_parent() -> tuple[Path | None, str, str]:
    """(folder to create child cgroups in, version, reason when none)."""
    v1 = CGROUP_ROOT / "memory"
    try:
        if (v1 / "memory.limit_in_bytes").exists():
            base, version = v1 / "autograder", "v1"
        elif (CGROUP_ROOT / "cgroup.controllers").exists() and \
                "memory" in (CGROUP_ROOT / "cgroup.subtree_control").read_text():
            base, version = CGROUP_ROOT / "autograder", "v2"
        else:
            return None, "", "no cgroup memory controller is mounted"
    except OSError as exc:
        return None, "", f"the cgroup tree could not be read ({exc.strerror})"
    try:
        base.mkdir(exist_ok=True)
        if version == "v2":
            (base / "cgroup.subtree_control").write_text("+memory")
    except OSError as exc:
        return None, "", f"the cgroup tree is not writable ({exc.strerror})"
    # groups left behind by graders that were killed before they could clean up
    for stale in base.glob("box-*"):
        owner = stale.name.split("-")[1]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            try:
                stale.rmdir()
            except OSError:
                pass
    return base, version, ""


@dataclass
class Isolation:
    """The measures for one child: build its command, then read what happened."""

    folder: Path
    memory_gib: float
    hidden: list[Path] = field(default_factory=list)
    cgroup: Path | None = field(default=None, init=False)
    cgroup_version: str = field(default="", init=False)
    namespaces: str = field(default="", init=False)     # empty when in force, else the reason
    memory_reason: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.namespaces = namespaces_available()
        self._make_cgroup()

    def _make_cgroup(self) -> None:
        base, version, reason = _cgroup_parent()
        if base is None:
            self.memory_reason = reason
            return
        group = base / f"box-{os.getpid()}-{next(_counter)}"
        limit = str(int(self.memory_gib * 2**30))
        try:
            group.mkdir()
            if version == "v1":
                (group / "memory.limit_in_bytes").write_text(limit)
                for name, value in (("memory.swappiness", "0"), ("memory.memsw.limit_in_bytes", limit)):
                    try:
                        (group / name).write_text(value)
                    except OSError:
                        pass
            else:
                (group / "memory.max").write_text(limit)
                try:
                    (group / "memory.swap.max").write_text("0")
                except OSError:
                    pass
        except OSError as exc:
            self.memory_reason = f"the cgroup could not be set up ({exc.strerror})"
            self._remove_cgroup(group)
            return
        self.cgroup, self.cgroup_version = group, version

    # ------------------------------------------------------------ command

    def _hidden_paths(self) -> list[str]:
        paths = []
        needed = [Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.executable)]
        for module in ("torch", "numpy"):
            if module in sys.modules and getattr(sys.modules[module], "__file__", None):
                needed.append(Path(sys.modules[module].__file__).resolve().parent)
        for path in [*self.hidden, CGROUP_ROOT]:
            try:
                resolved = Path(path).resolve()
            except OSError:
                continue
            folder = self.folder.resolve()
            # never cover the sandbox folder itself or one of its parents
            if not resolved.is_dir() or any(resolved == p or resolved in p.parents for p in [folder, *needed]):
                continue
            if str(resolved) not in paths:
                paths.append(str(resolved))
        # a folder inside another hidden one is hidden already (and unreachable once it is covered)
        return [p for p in paths if not any(Path(q) in Path(p).parents for q in paths)]

    def wrap(self, command: list[str]) -> list[str]:
        """The command that starts ``command`` with every measure available."""
        inner = shlex.join(command)
        if not self.namespaces:
            box = shlex.quote(str(self.folder.resolve()))
            hide = " ".join(shlex.quote(p) for p in self._hidden_paths())
            script = (
                f"mount --bind {box} {box} || exit 97\n"
                "while read -r _ point _; do\n"
                "  case \"$point\" in /dev|/dev/*|/proc|/proc/*) continue;; esac\n"
                f"  [ \"$point\" = {box} ] && continue\n"
                "  mount -o remount,bind,ro \"$point\" 2>/dev/null\n"
                "done < /proc/self/mounts\n"
                f"for p in {hide}; do [ -d \"$p\" ] || continue; mount -t tmpfs -o size=4k,mode=000 none \"$p\" || exit 97; done\n"
                "mount -t tmpfs -o size=256m tmpfs /dev/shm 2>/dev/null\n"
                f"exec setpriv --bounding-set=-all --inh-caps=-all --no-new-privs {inner}\n"
            )
            command = ["unshare", "-n", "-m", "--pid", "--fork", "--kill-child", "--mount-proc",
                       "sh", "-c", script]
        if self.cgroup is not None:
            procs = shlex.quote(str(self.cgroup / "cgroup.procs"))
            command = ["sh", "-c", f"echo $$ > {procs} || exit 98; exec \"$@\"", "sh", *command]
        return command

    # ------------------------------------------------------------ afterwards

    def memory_exceeded(self) -> bool:
        """Whether the kernel stopped the child for going over the cgroup limit."""
        if self.cgroup is None:
            return False
        try:
            if self.cgroup_version == "v1":
                for line in (self.cgroup / "memory.oom_control").read_text().splitlines():
                    if line.startswith("oom_kill ") and int(line.split()[1]) > 0:
                        return True
                return int((self.cgroup / "memory.failcnt").read_text()) > 0 and \
                    int((self.cgroup / "memory.max_usage_in_bytes").read_text()) >= \
                    int((self.cgroup / "memory.limit_in_bytes").read_text())
            for line in (self.cgroup / "memory.events").read_text().splitlines():
                name, value = line.split()
                if name == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError, IndexError):
            return False
        return False

    def kill_all(self) -> None:
        """Kill whatever is still in the child's cgroup (a last resort)."""
        if self.cgroup is None:
            return
        try:
            pids = (self.cgroup / "cgroup.procs").read_text().split()
        except OSError:
            return
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (OSError, ValueError):
                pass

    def close(self) -> None:
        if self.cgroup is not None:
            self.kill_all()
            self._remove_cgroup(self.cgroup)
            self.cgroup = None

    @staticmethod
    def _remove_cgroup(group: Path) -> None:
        for _ in range(50):
            try:
                group.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)

    def record(self) -> dict:
        """Which measures were in force, in words, for results.json."""
        ns = self.namespaces
        if self.cgroup_version:
            memory = f"cgroup {self.cgroup_version} limit, plus resident memory polling"
        else:
            memory = f"resident memory polling of the process group (no cgroup: {self.memory_reason})"
        if os.geteuid() != 0:
            user = f"unprivileged (uid {os.geteuid()})"
        elif not ns:
            user = ("not enforced: uid 0 is kept because Python's packages may be readable by root only; "
                    "all capabilities are dropped and the filesystem is read-only outside the sandbox")
        else:
            user = f"not enforced: runs as root ({ns})"
        return {
            "network": "none (network namespace, loopback down)" if not ns else f"not isolated: {ns}",
            "pid_namespace": "yes" if not ns else f"no: {ns}; the process group is killed instead",
            "filesystem": ("read-only except the sandbox folder; kit, data and submission folders hidden"
                           if not ns else f"not restricted: {ns}; the child runs in a fresh folder"),
            "memory": memory,
            "user": user,
        }
