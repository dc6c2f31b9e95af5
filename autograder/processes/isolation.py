"""Operating-system measures around a sandboxed process, and a record of them.

The best level the machine allows is used, decided once per grader process:

``bwrap`` (root, bubblewrap installed): the child's filesystem is built from
  nothing. It sees read-only binds of ``/usr`` and of the Python installation
  and packages it imports, the grader's files for it (read-only), its own
  size-limited writable folder, a private ``/tmp``, ``/dev/shm``, ``/dev`` and
  ``/proc``; nothing else of the host. New network (no interface, loopback
  down), IPC, PID, UTS and cgroup namespaces; it dies with the grader; a new
  session; every capability dropped; an unprivileged user (``kit.sandbox_uid``).

``unshare`` (root, util-linux): today's measures before bubblewrap. Network,
  IPC, PID and mount namespaces; the filesystem read-only except the sandbox
  folder; the kit, data, cache and submission folders (and other sandboxes)
  covered by empty mounts; every capability dropped; the unprivileged user.

``none`` (a student's account): the child runs in a fresh folder, in its own
  session, killed as a group.

On every level: a memory cgroup and a pids cgroup where writable, and a
parent-death signal so that the child never outlives the grader.
``Isolation.record`` says exactly which measures were in force, for
``results.json``; whatever is missing is said too.

On ``bwrap`` and ``unshare``, the sandboxed process also confines itself as it
starts (``wire/confine.py``, with what ``confinement`` hands it): a system
call filter (``syscall_filter.py``), and, for a submission's child, a user and
IPC namespace and a session keyring of its own.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
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

from . import syscall_filter

CGROUP_ROOT = Path("/sys/fs/cgroup")
_counter = itertools.count()


def _run_probe(command: list[str], cwd: Path | None = None) -> str:
    """Empty when ``command`` exits 0, else its last line of output in words."""
    try:
        done = subprocess.run(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the probe could not run ({exc})"
    if done.returncode != 0:
        text = done.stdout.decode(errors="replace").strip().splitlines()
        return f"status {done.returncode}: {text[-1][:160] if text else 'no output'}"
    return ""


@functools.lru_cache(maxsize=None)
def namespaces_available() -> str:
    """Empty when namespaces can be used here, else the reason they cannot."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the grader is not running as root"
    for tool in ("unshare", "setpriv", "mount"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed"
    failed = _run_probe(["unshare", "-n", "-i", "-m", "--pid", "--fork", "--kill-child", "--mount-proc",
                         "setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "true"])
    return f"unshare failed ({failed})" if failed else ""


@functools.lru_cache(maxsize=None)
def parent_death_prefix() -> tuple[str, ...]:
    """A command prefix that kills the child when the grader dies (also by SIGKILL), or () if none works."""
    setpriv = shutil.which("setpriv")
    if setpriv and not _run_probe([setpriv, "--pdeathsig", "KILL", "true"]):
        return (setpriv, "--pdeathsig", "KILL")
    return ()


@functools.lru_cache(maxsize=None)
def bwrap_fails() -> str:
    """Empty when bubblewrap can build the sandbox here, else the reason it cannot."""
    if namespaces_available():
        return namespaces_available()
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    return ""


@functools.lru_cache(maxsize=None)
def own_namespaces_fail(mode: str, uid: int | None) -> str:
    """Empty when a process in a sandbox of ``mode`` (as ``uid``) may make its own user and IPC
    namespaces, as each submission's child does (wire/confine.py), else why not."""
    folder = Path(tempfile.mkdtemp(prefix="autograder-probe-"))
    try:
        probe = Isolation(folder, 0.0, probing=True)
        probe.mode, probe.user = mode, uid
        code = ("import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True)\n"
                "if libc.unshare(0x18000000): sys.exit(os.strerror(ctypes.get_errno()))")
        return _run_probe(probe.wrap([sys.executable, "-I", "-c", code]), cwd=folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


PROBE = ("import importlib.util as u, sys; spec = u.find_spec('torch'); open(spec.origin, 'rb').read(64); "
         "sys.exit(0 if u.find_spec('numpy') else 3)")


@functools.lru_cache(maxsize=None)
def setup_fails(mode: str, uid: int | None) -> str:
    """Empty when a sandbox of ``mode`` (as ``uid``) can start Python and find torch, else why not.

    Tried once per grader process: a Python whose packages an unprivileged user
    cannot read, or a kernel that refuses a mount, falls back instead of failing
    every submission.
    """
    folder = Path(tempfile.mkdtemp(prefix="autograder-probe-"))
    try:
        if uid is not None and mode == "unshare":
            os.chown(folder, uid, uid)
        probe = Isolation(folder, 0.0, probing=True)
        probe.mode, probe.user = mode, uid
        return _run_probe(probe.wrap([sys.executable, "-I", "-c", PROBE]), cwd=folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- cgroups


@functools.lru_cache(maxsize=None)
def _cgroup_parent() -> tuple[Path | None, str, str]:
    """(folder to create memory cgroups in, version, reason when none)."""
    return _controller_parent("memory", "memory.limit_in_bytes")


@functools.lru_cache(maxsize=None)
def _pids_parent() -> tuple[Path | None, str, str]:
    """(folder to create pids cgroups in, version, reason when none)."""
    return _controller_parent("pids", "pids.max")


def _controller_parent(controller: str, v1_file: str) -> tuple[Path | None, str, str]:
    v1 = CGROUP_ROOT / controller
    try:
        if (v1 / "cgroup.procs").exists() and (controller != "memory" or (v1 / v1_file).exists()):
            base, version = v1 / "autograder", "v1"
        elif (CGROUP_ROOT / "cgroup.controllers").exists() and \
                controller in (CGROUP_ROOT / "cgroup.subtree_control").read_text().split():
            base, version = CGROUP_ROOT / "autograder", "v2"
        else:
            return None, "", f"no cgroup {controller} controller is mounted"
    except OSError as exc:
        return None, "", f"the cgroup tree could not be read ({exc.strerror})"
    try:
        base.mkdir(exist_ok=True)
        if version == "v2":
            (base / "cgroup.subtree_control").write_text(f"+{controller}")
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


def _remove_cgroup(group: Path) -> None:
    for _ in range(50):
        try:
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


@functools.lru_cache(maxsize=1)
def _host_layout() -> tuple[tuple[str, str, str], ...]:
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
def _python_paths() -> tuple[Path, ...]:
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
    shown = [Path(dest) for kind, _, dest in _host_layout() if kind != "symlink"] + list(_python_paths())
    covered = []
    for folder in hidden:
        try:
            path = Path(folder).resolve()
        except OSError:
            continue
        if any(parent in shown for parent in path.parents):
            covered.append(str(path))
    return tuple(sorted(set(covered)))


@dataclass
class Isolation:
    """The measures for one child: build its command, then read what happened."""

    folder: Path
    memory_gib: float
    hidden: list[Path] = field(default_factory=list)
    uid: int | None = None          # the user to run as when the grader is root (None or 0: keep root)
    probing: bool = False           # True only for the start-up probes themselves
    processes: int = 0              # processes and threads together (0: no limit)
    disk_mib: int = 0               # size of each writable folder under bwrap (0: no limit)
    device: str = "cpu"             # "cuda" also shows the GPU's device files
    mode: str = field(default="none", init=False)           # "bwrap", "unshare" or "none"
    user: int | None = field(default=None, init=False)      # the user actually applied
    user_reason: str = field(default="", init=False)        # why not, when it is not
    cgroup: Path | None = field(default=None, init=False)
    cgroup_version: str = field(default="", init=False)
    pids_group: Path | None = field(default=None, init=False)
    pids_version: str = field(default="", init=False)
    namespaces: str = field(default="", init=False)         # empty when in force, else the reason
    bwrap_reason: str = field(default="", init=False)       # why bubblewrap is not used, when it is not
    memory_reason: str = field(default="", init=False)
    pids_reason: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.namespaces = namespaces_available()
        if not self.probing:
            self._choose_mode()
            if self.memory_gib > 0:
                self._make_memory_cgroup()
            if self.processes > 0:
                self._make_pids_cgroup()

    def _choose_mode(self) -> None:
        """The best level that starts Python here, as the sandbox user where possible."""
        if self.namespaces:
            return
        self.bwrap_reason = bwrap_fails()
        modes = ["unshare"] if self.bwrap_reason else ["bwrap", "unshare"]
        for mode in modes:
            if self.uid:
                self.user_reason = setup_fails(mode, self.uid)
                if not self.user_reason:
                    self.mode, self.user = mode, self.uid
                    return
            reason = setup_fails(mode, None)
            if not reason:
                self.mode, self.user = mode, None
                return
            if mode == "bwrap":
                self.bwrap_reason = f"bubblewrap could not start Python here ({reason})"
            else:
                self.namespaces = f"the sandbox's mounts could not be set up ({reason})"

    def _make_memory_cgroup(self) -> None:
        base, version, reason = _cgroup_parent()
        if base is None:
            self.memory_reason = reason
            return
        group = base / f"box-{os.getpid()}-{next(_counter)}"
        try:
            group.mkdir()
            self.cgroup, self.cgroup_version = group, version
            self._write_memory_limit(int(self.memory_gib * 2**30))
            swap_off = ("memory.swappiness", "0") if version == "v1" else ("memory.swap.max", "0")
            try:
                (group / swap_off[0]).write_text(swap_off[1])
            except OSError:
                pass
        except OSError as exc:
            self.memory_reason = f"the cgroup could not be set up ({exc.strerror})"
            self.cgroup, self.cgroup_version = None, ""
            _remove_cgroup(group)
            return

    def _write_memory_limit(self, limit: int) -> None:
        """Set the cgroup's limit on memory (and on memory plus swap, which must never be below it)."""
        group, text = self.cgroup, str(limit)
        if self.cgroup_version == "v1":
            names = ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        else:
            names = ["memory.max"]
        for name in names:          # v1: swap limit first when raising, last when lowering
            try:
                (group / name).write_text(text)
            except OSError:
                if name != "memory.memsw.limit_in_bytes":
                    raise

    def widen_memory_limit(self) -> int:
        """Raise the cgroup's limit above what it holds now; return what it held (0 without a cgroup).

        A warm start's zygote is charged to the same cgroup as the children it
        forks, but only a child's own memory counts against ``memory_gib``: its
        process-tree poll subtracts the zygote. Without this, the cgroup would
        bite first, with less room than the limit the report names, and the
        kernel can spend seconds reclaiming a cgroup at its limit before it
        stops anything. The poll names the limit; a tenth above it, the cgroup
        stops what outruns the poll.
        """
        held = self.memory_bytes()
        if held is None:
            return 0
        try:
            self._write_memory_limit(held + int(self.memory_gib * 1.1 * 2**30))
        except OSError:
            return 0
        return held

    def _make_pids_cgroup(self) -> None:
        base, version, reason = _pids_parent()
        if base is None:
            self.pids_reason = reason
            return
        if version == "v2" and self.cgroup is not None and self.cgroup_version == "v2":
            group = self.cgroup          # one v2 group holds every controller
        else:
            group = base / f"box-{os.getpid()}-{next(_counter)}"
        try:
            group.mkdir(exist_ok=True)
            (group / "pids.max").write_text(str(self.processes))
        except OSError as exc:
            self.pids_reason = f"the cgroup could not be set up ({exc.strerror})"
            if group != self.cgroup:
                _remove_cgroup(group)
            return
        self.pids_group, self.pids_version = group, version

    # ------------------------------------------------------------ what the child needs

    def _needed_paths(self) -> list[Path]:
        """What the child must reach: its folder, Python, and the packages it imports."""
        return sorted({self.folder.resolve(), *_python_paths()})

    def confinement(self) -> dict | None:
        """What the sandboxed process installs on itself as it starts (wire/confine.py's
        confinement.json), or None where there is no sandbox."""
        if self.mode not in ("bwrap", "unshare"):
            return None
        programs, _ = syscall_filter.programs()
        return {"own_namespaces": True, "filter": programs.settings() if programs else None}

    # ------------------------------------------------------------ command

    def wrap(self, command: list[str]) -> list[str]:
        """The command that starts ``command`` with every measure in force."""
        if self.mode == "bwrap":
            command = self._bwrap(command)
        elif self.mode == "unshare":
            command = self._unshare(command)
        joins = [group / "cgroup.procs" for group in (self.cgroup, self.pids_group) if group is not None]
        if joins:
            steps = "; ".join(f"echo $$ > {shlex.quote(str(path))} || exit 98" for path in dict.fromkeys(joins))
            command = ["sh", "-c", f"{steps}; exec \"$@\"", "sh", *command]
        return [*parent_death_prefix(), *command]

    def _bwrap(self, command: list[str]) -> list[str]:
        """bubblewrap's arguments: a filesystem of read-only binds, writable tmpfs folders, no host view."""
        size = ["--size", str(self.disk_mib * 2**20)] if self.disk_mib > 0 else []
        box = self.folder.resolve()
        mounts: list[tuple[str, list[str]]] = []          # (destination, arguments)
        for kind, source, dest in _host_layout():
            mounts.append((dest, [f"--{kind}", source, dest]))
        bound = {Path(dest) for _, _, dest in _host_layout()}
        sources = [p for p in self._needed_paths() if p != box]
        # each needed folder at its real path, and at the path Python knows it by when that differs
        dests: dict[Path, Path] = {}
        for path in sources:
            dests.setdefault(path, path)
        for given in (Path(sys.prefix), Path(sys.executable).parent, *map(Path, site.getsitepackages())):
            if given.is_absolute() and given.resolve() != given and given.exists():
                dests.setdefault(given, given.resolve())
        for dest, source in sorted(dests.items()):
            if any(parent in bound for parent in [dest, *dest.parents]):
                continue          # already inside a bound folder
            mounts.append((str(dest), ["--ro-bind", str(source), str(dest)]))
            bound.add(dest)
        # hidden folders that lie inside a bound folder (a data cache inside the virtual environment)
        for hidden in self.hidden:
            try:
                path = Path(hidden).resolve()
            except OSError:
                continue
            if path.is_dir() and any(parent in bound for parent in path.parents):
                mounts.append((str(path), ["--perms", "0000", "--size", "4096", "--tmpfs", str(path)]))
        mounts.append(("/proc", ["--proc", "/proc"]))
        mounts.append(("/dev", ["--dev", "/dev"]))
        if self.device == "cuda":
            for node in sorted(glob.glob("/dev/nvidia*")):
                mounts.append((node, ["--dev-bind", node, node]))
        mounts.append(("/dev/shm", [*size, "--perms", "1777", "--tmpfs", "/dev/shm"]))
        mounts.append(("/tmp", [*size, "--perms", "1777", "--tmpfs", "/tmp"]))
        mounts.append((str(box), [*size, "--perms", "0777", "--tmpfs", str(box)]))
        for entry in sorted(box.iterdir()):
            if entry.name == "tmp" and entry.is_dir() and not entry.is_symlink():
                mounts.append((str(entry), ["--perms", "0777", "--dir", str(entry)]))
            else:
                mounts.append((str(entry), ["--ro-bind", str(entry), str(entry)]))
        # folders that lead to a mount are made traversable (bwrap would make them 0700),
        # except inside a host folder bound here, where they exist already
        mounted = {Path(dest) for dest, _ in mounts}
        host = {Path(dest) for dest, mount_args in mounts if mount_args[0] == "--ro-bind"}
        leading = {parent for dest in mounted for parent in Path(dest).parents
                   if parent != Path("/") and parent not in mounted
                   and not any(above in host for above in parent.parents)}
        mounts += [(str(path), ["--perms", "0755", "--dir", str(path)]) for path in leading]
        mounts.sort(key=lambda item: (len(Path(item[0]).parts), item[0]))

        args = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent", "--new-session"]
        for _, mount_args in mounts:
            args += mount_args
        args += ["--remount-ro", "/", "--chdir", str(box), "--cap-drop", "ALL",
                 "--cap-add", "CAP_SETPCAP"]
        # inside, setpriv drops the last capabilities (and becomes the sandbox user) before Python starts
        setpriv = [shutil.which("setpriv") or "/usr/bin/setpriv"]
        if self.user is not None:
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            setpriv += [f"--reuid={self.user}", f"--regid={self.user}", "--clear-groups"]
        setpriv += ["--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"]
        return [*args, "--", *setpriv, *command]

    def covers(self, uid: int | None) -> list[tuple[str, str, list[str]]]:
        """For ``unshare``: (folder, mode, children to show again) for every folder covered by an empty tmpfs.

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
                    try:
                        closed = parent != Path("/") and not parent.stat().st_mode & 0o001
                    except OSError:             # not there: nothing to traverse
                        break
                    if closed:
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

    def _unshare(self, command: list[str]) -> list[str]:
        """util-linux's unshare and a mount script: the measures used where bubblewrap is not."""
        inner = shlex.join(command)
        uid = self.user
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
        return ["unshare", "-n", "-i", "-m", "--pid", "--fork", "--kill-child", "--mount-proc",
                "sh", "-c", "\n".join(lines) + "\n"]

    # ------------------------------------------------------------ afterwards

    def memory_bytes(self) -> int | None:
        """Memory the cgroup charges to the child now (None without a cgroup)."""
        if self.cgroup is None:
            return None
        name = "memory.usage_in_bytes" if self.cgroup_version == "v1" else "memory.current"
        try:
            return int((self.cgroup / name).read_text())
        except (OSError, ValueError):
            return None

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

    def processes_exceeded(self) -> bool:
        """Whether the child was refused a process or thread for going over the pids limit."""
        if self.pids_group is None:
            return False
        try:
            for line in (self.pids_group / "pids.events").read_text().splitlines():
                name, value = line.split()
                if name == "max" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            return False
        return False

    def kill_all(self) -> None:
        """Kill whatever is still in the child's cgroups (a last resort)."""
        for group in (self.cgroup, self.pids_group):
            if group is None:
                continue
            try:
                pids = (group / "cgroup.procs").read_text().split()
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except (OSError, ValueError):
                    pass

    def close(self) -> None:
        self.kill_all()
        for group in dict.fromkeys(g for g in (self.pids_group, self.cgroup) if g is not None):
            _remove_cgroup(group)
        self.cgroup = self.pids_group = None

    def record(self) -> dict:
        """Which measures were in force, in words, for results.json."""
        mode, ns = self.mode, self.namespaces
        isolated = mode in ("bwrap", "unshare")
        if self.cgroup_version:
            memory = f"cgroup {self.cgroup_version} limit, plus resident memory polling (the processes' own pages)"
        else:
            memory = (f"resident memory polling of the process tree, the processes' own pages "
                      f"(no cgroup: {self.memory_reason})")
        if os.geteuid() != 0:
            user = f"unprivileged (uid {os.geteuid()})"
        elif self.user is not None:
            user = f"unprivileged (uid {self.user}, no supplementary groups, no capabilities)"
        elif isolated:
            why = self.user_reason or "no sandbox user is configured ([kit] sandbox_uid = 0)"
            user = f"root without capabilities ({why})"
        else:
            user = f"not enforced: runs as root ({ns})"
        why_not_bwrap = self.bwrap_reason or ns
        if mode == "bwrap":
            filesystem = ("allow-list (bubblewrap): read-only /usr, Python and its packages, the grader's files "
                          "for this child; nothing else of the host")
            disk = (f"tmpfs folders of {self.disk_mib} MiB each (sandbox folder, /tmp, /dev/shm), gone with the child"
                    if self.disk_mib > 0 else "tmpfs folders without a size limit, gone with the child")
        elif mode == "unshare":
            filesystem = (f"read-only except the sandbox folder; kit, data, cache and submission folders hidden "
                          f"(no bubblewrap: {why_not_bwrap})")
            disk = "no quota: the sandbox folder is on the host's disk, removed after grading"
        else:
            filesystem = f"not restricted: {ns}; the child runs in a fresh folder"
            disk = "no quota: the sandbox folder is on the host's disk, removed after grading"
        if self.pids_version:
            processes = f"at most {self.processes} processes and threads (cgroup {self.pids_version})"
        else:
            processes = f"no limit ({self.pids_reason or 'no limit configured'})"
        if mode == "bwrap":
            lifetime = "dies with the grader (bubblewrap --die-with-parent, PID namespace)"
        elif parent_death_prefix():
            lifetime = "dies with the grader (parent-death signal)" + (", PID namespace" if isolated else
                                                                        "; its own children may not")
        else:
            lifetime = "killed as a process group when grading ends; not if the grader itself is killed"
        programs, no_filter = syscall_filter.programs()
        if not isolated:
            seccomp = keyring = f"no: {ns}"
        else:
            seccomp = programs.words() if programs else f"no: {no_filter}"
            refused = own_namespaces_fail(mode, self.user)
            keyring = ("a fresh session keyring for every process; each submission's child has a user "
                       "namespace of its own, so no user keyring or named keyring of one child reaches another"
                       if not refused else
                       f"a fresh session keyring for every process; the user keyring of uid "
                       f"{self.user if self.user is not None else 0} is shared by every child (it cannot have "
                       f"a user namespace of its own: {refused})")
            if programs:
                keyring += "; key calls are refused by the system call filter"
        return {
            "sandbox": mode,
            "network": "none (network namespace, loopback down)" if isolated else f"not isolated: {ns}",
            "pid_namespace": "yes" if isolated else f"no: {ns}; the process group is killed instead",
            "ipc_namespace": "yes (System V objects and message queues die with the child)" if isolated
            else f"no: {ns}",
            "filesystem": filesystem,
            "disk": disk,
            "memory": memory,
            "processes": processes,
            "lifetime": lifetime,
            "user": user,
            "seccomp": seccomp,
            "keyring": keyring,
        }
