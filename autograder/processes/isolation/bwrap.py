"""bubblewrap's command: a filesystem built from nothing around one child.

The child sees read-only binds of the host layout and of Python's folders (at
their real paths, and at the paths Python knows them by), its own folder as a
size-limited tmpfs holding read-only binds of the grader's files (its ``tmp``
folder writable), a private ``/tmp`` and ``/dev/shm``, ``/dev`` (with the
GPU's device files for ``cuda``) and ``/proc``; a hidden folder inside a bound
one is covered by an empty tmpfs of mode 0000. Nothing of the host is
writable. New IPC, PID, network, UTS and cgroup namespaces; it dies with the
grader; a new session; every capability dropped except what ``setpriv``
needs inside to drop the rest (and to become the sandbox user) before the
command starts.
"""

from __future__ import annotations

import glob
import shutil
import site
import sys
from pathlib import Path

from .view import View, host_layout


def command(command: list[str], view: View) -> list[str]:
    """bubblewrap's arguments: a filesystem of read-only binds, writable tmpfs folders, no host view."""
    size = ["--size", str(view.disk_mib * 2**20)] if view.disk_mib > 0 else []
    box = view.folder.resolve()
    mounts: list[tuple[str, list[str]]] = []          # (destination, arguments)
    for kind, source, dest in host_layout():
        mounts.append((dest, [f"--{kind}", source, dest]))
    bound = {Path(dest) for _, _, dest in host_layout()}
    sources = [p for p in view.needed_paths() if p != box]
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
    for hidden in view.hidden:
        try:
            path = Path(hidden).resolve()
        except OSError:
            continue
        if path.is_dir() and any(parent in bound for parent in path.parents):
            mounts.append((str(path), ["--perms", "0000", "--size", "4096", "--tmpfs", str(path)]))
    mounts.append(("/proc", ["--proc", "/proc"]))
    mounts.append(("/dev", ["--dev", "/dev"]))
    if view.device == "cuda":
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
    if view.user is not None:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        setpriv += [f"--reuid={view.user}", f"--regid={view.user}", "--clear-groups"]
    setpriv += ["--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"]
    return [*args, "--", *setpriv, *command]
