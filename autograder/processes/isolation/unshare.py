"""util-linux's ``unshare`` and a mount script: the level used where bubblewrap is not.

The child gets network, IPC, PID and mount namespaces. Inside them the script
binds the sandbox folder onto itself, covers every hidden folder, the cgroup
tree and the folder the sandboxes live in (other sandboxes) with an empty
tmpfs, mounts back what the child needs from inside a cover, remounts every
other mount read-only, and starts the command through ``setpriv`` with every
capability dropped (as the sandbox user where one is given). Any mount that
fails ends the script with status 97 before the command runs.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from .cgroups import CGROUP_ROOT
from .view import View


def covers(view: View) -> list[tuple[str, str, list[str]]]:
    """(folder, mode, children to show again) for every folder covered by an empty tmpfs.

    Hidden folders get mode 000, or 711 when something the child needs lies
    inside; the sandbox folder's parent (other sandboxes live beside it) and,
    for an unprivileged child (``view.user``), every folder it could not
    traverse, get 711 with the needed entries mounted back.
    """
    needed = view.needed_paths()
    folder = view.folder.resolve()
    chosen: dict[Path, None] = {}
    for path in [*view.hidden, CGROUP_ROOT, folder.parent]:
        try:
            resolved = Path(path).resolve()
        except OSError:
            continue
        if resolved.is_dir() and resolved != Path("/") and resolved != folder:
            chosen[resolved] = None
    if view.user is not None:
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


def command(command: list[str], view: View) -> list[str]:
    """``unshare`` and the mount script that starts ``command`` inside it."""
    inner = shlex.join(command)
    uid = view.user
    q = shlex.quote
    box = q(str(view.folder.resolve()))
    covered = covers(view)
    staged = sorted({child for _, _, children in covered for child in children})
    lines = [
        "set -u",
        f"mount --bind {box} {box} || exit 97",
        # a private scratch tmpfs keeps a handle on what the covers hide
        "mount -t tmpfs -o size=1m,mode=700 none /dev/shm || exit 97",
    ]
    for i, child in enumerate(staged):
        lines.append(f"mkdir /dev/shm/{i} && mount --rbind {q(child)} /dev/shm/{i} || exit 97")
    for cover, mode, children in covered:
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
