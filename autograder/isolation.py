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
import site
import subprocess
import sys
import tempfile
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


PROBE = ("import importlib.util as u, sys; spec = u.find_spec('torch'); open(spec.origin, 'rb').read(64); "
         "sys.exit(0 if u.find_spec('numpy') else 3)")


@functools.lru_cache(maxsize=None)
def setup_fails(uid: int | None) -> str:
    """Empty when the namespaced sandbox (as ``uid``) can start Python and find torch, else why not.

    Tried once per grader process: a Python whose packages an unprivileged user
    cannot read, or a system without /dev/shm, falls back instead of failing
    every submission.
    """
    folder = Path(tempfile.mkdtemp(prefix="autograder-probe-"))
    try:
        if uid is not None:
            os.chown(folder, uid, uid)
        probe = Isolation(folder, 0.0, probing=True)
        probe.user = uid
        done = subprocess.run(probe.wrap([sys.executable, "-I", "-c", PROBE]), cwd=folder,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the probe could not run ({exc})"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if done.returncode != 0:
        text = done.stdout.decode(errors="replace").strip().splitlines()
        return f"status {done.returncode}: {text[-1][:160] if text else 'no output'}"
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
    uid: int | None = None          # the user to run as when the grader is root (None or 0: keep root)
    probing: bool = False           # True only for the start-up probe itself
    user: int | None = field(default=None, init=False)      # the user actually applied
    user_reason: str = field(default="", init=False)        # why not, when it is not
    cgroup: Path | None = field(default=None, init=False)
    cgroup_version: str = field(default="", init=False)
    namespaces: str = field(default="", init=False)     # empty when in force, else the reason
    memory_reason: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.namespaces = namespaces_available()
        if not self.namespaces and not self.probing:
            if self.uid:
                self.user_reason = setup_fails(self.uid)
                self.user = None if self.user_reason else self.uid
            if self.user is None and setup_fails(None):
                self.namespaces = f"the sandbox's mounts could not be set up ({setup_fails(None)})"
        if self.memory_gib > 0:
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

    def _needed_paths(self) -> list[Path]:
        """What the child must reach: its folder, Python, and the packages it imports."""
        needed = {self.folder.resolve()}
        for value in (sys.prefix, sys.base_prefix, sys.exec_prefix, Path(sys.executable).resolve().parent,
                      *site.getsitepackages()):
            needed.add(Path(value).resolve())
        for module in ("torch", "numpy"):
            if module in sys.modules and getattr(sys.modules[module], "__file__", None):
                needed.add(Path(sys.modules[module].__file__).resolve().parent)
        for folder in os.environ.get("LD_LIBRARY_PATH", "").split(":"):
            if folder and Path(folder).is_dir():
                needed.add(Path(folder).resolve())
        return sorted(needed)

    def covers(self, uid: int | None) -> list[tuple[str, str, list[str]]]:
        """(folder, mode, children to show again) for every folder covered by an empty tmpfs.

        Hidden folders get mode 000, or 711 when something the child needs lies
        inside; the sandbox folder's parent (other sandboxes live beside it) and,
        for an unprivileged child, every folder it could not traverse, get 711
        with the needed entries mounted back.
        """
        needed = self._needed_paths()
        folder = self.folder.resolve()
        chosen: dict[Path, None] = {}
        for path in [*self.hidden, CGROUP_ROOT, folder.parent]:
            try:
                resolved = Path(path).resolve()
            except OSError:
                continue
            if resolved.is_dir() and resolved != Path("/") and resolved != folder:
                chosen[resolved] = None
        if uid is not None:
            for path in needed:
                for parent in reversed(path.parents):
                    if parent != Path("/") and not parent.stat().st_mode & 0o001:
                        chosen[parent] = None
        result = []
        for cover in sorted(chosen, key=lambda p: len(p.parts)):
            children = sorted({str(cover / p.relative_to(cover).parts[0])
                               for p in needed if cover in p.parents})
            if cover in needed or any(p == cover for p in needed):
                continue
            result.append((str(cover), "711" if children else "000", children))
        # a folder inside a covered one is gone already, unless it lies in what is shown again
        kept = []
        for cover, mode, children in result:
            path = Path(cover)
            gone = any(Path(other) in path.parents and
                       not any(Path(child) == path or Path(child) in path.parents for child in shown)
                       for other, _, shown in result)
            if not gone:
                kept.append((cover, mode, children))
        return kept

    def wrap(self, command: list[str]) -> list[str]:
        """The command that starts ``command`` with every measure available."""
        inner = shlex.join(command)
        uid = self.user
        if not self.namespaces:
            q = shlex.quote
            box = q(str(self.folder.resolve()))
            covers = self.covers(uid)
            staged = sorted({child for _, _, children in covers for child in children})
            lines = [
                "set -u",
                f"mount --bind {box} {box} || exit 97",
                # a private scratch tmpfs keeps a handle on what the covers hide
                "mount -t tmpfs -o size=1m,mode=700 none /dev/shm || exit 97",
            ]
            for i, child in enumerate(staged):
                lines.append(f"mkdir /dev/shm/{i} && mount --rbind {q(child)} /dev/shm/{i} || exit 97")
            for cover, mode, children in covers:
                lines.append(f"mount -t tmpfs -o size=64k,mode={mode} none {q(cover)} || exit 97")
                for child in children:
                    lines.append(f"mkdir {q(child)} && mount --rbind /dev/shm/{staged.index(child)} {q(child)} "
                                 "|| exit 97")
            lines += [
                "umount -R /dev/shm || exit 97",
                "mount -t tmpfs -o size=256m,mode=1777 tmpfs /dev/shm || exit 97",
                "while read -r _ point _; do",
                "  case \"$point\" in /dev|/dev/*|/proc|/proc/*) continue;; esac",
                f"  [ \"$point\" = {box} ] && continue",
                "  mount -o remount,bind,ro \"$point\" 2>/dev/null",
                "done < /proc/self/mounts",
                f"cd {box} || exit 97",
            ]
            user = f"--reuid={uid} --regid={uid} --clear-groups " if uid is not None else ""
            lines.append(f"exec setpriv {user}--bounding-set=-all --inh-caps=-all --no-new-privs {inner}")
            command = ["unshare", "-n", "-m", "--pid", "--fork", "--kill-child", "--mount-proc",
                       "sh", "-c", "\n".join(lines) + "\n"]
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
        elif self.user is not None:
            user = f"unprivileged (uid {self.user}, no supplementary groups, no capabilities)"
        elif not ns:
            why = self.user_reason or "no sandbox user is configured ([kit] sandbox_uid = 0)"
            user = (f"root without capabilities ({why}); the filesystem is read-only outside the sandbox "
                    "and the kit, data and submission folders are hidden")
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
