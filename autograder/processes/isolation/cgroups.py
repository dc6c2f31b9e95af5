"""The memory and pids cgroups of one sandboxed child (cgroup v1 or v2).

Each child gets a memory group (limit ``memory_gib``, swap off) and a pids
group (at most ``processes`` processes and threads) under an ``autograder``
folder of the controller's tree, where that tree is writable; under v2 one
group holds both controllers. The command joins its groups before anything
else runs (``join``); a step that fails ends it with status 98. Groups are
named ``box-<grader pid>-<n>``, so that groups left behind by a grader that
was killed are removed by the next one. Whatever could not be set up is kept
as a reason, for the record.
"""

from __future__ import annotations

import functools
import itertools
import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
_counter = itertools.count()


@functools.lru_cache(maxsize=None)
def memory_parent() -> tuple[Path | None, str, str]:
    """(folder to create memory cgroups in, version, reason when none)."""
    return _controller_parent("memory", "memory.limit_in_bytes")


@functools.lru_cache(maxsize=None)
def pids_parent() -> tuple[Path | None, str, str]:
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


def remove_group(group: Path) -> None:
    for _ in range(50):
        try:
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


@dataclass
class Cgroups:
    """One child's groups (None where there is none) and, where missing, why."""

    memory_gib: float = 0.0         # the memory limit (0: no memory group)
    processes: int = 0              # processes and threads together (0: no pids group)
    memory_group: Path | None = None
    memory_version: str = ""
    memory_reason: str = ""
    pids_group: Path | None = None
    pids_version: str = ""
    pids_reason: str = ""

    @classmethod
    def make(cls, memory_gib: float, processes: int) -> "Cgroups":
        """The groups for a child with these limits, made where the machine allows."""
        groups = cls(memory_gib, processes)
        if memory_gib > 0:
            groups._make_memory_group()
        if processes > 0:
            groups._make_pids_group()
        return groups

    def _make_memory_group(self) -> None:
        base, version, reason = memory_parent()
        if base is None:
            self.memory_reason = reason
            return
        group = base / f"box-{os.getpid()}-{next(_counter)}"
        try:
            group.mkdir()
            self.memory_group, self.memory_version = group, version
            self._write_memory_limit(int(self.memory_gib * 2**30))
            swap_off = ("memory.swappiness", "0") if version == "v1" else ("memory.swap.max", "0")
            try:
                (group / swap_off[0]).write_text(swap_off[1])
            except OSError:
                pass
        except OSError as exc:
            self.memory_reason = f"the cgroup could not be set up ({exc.strerror})"
            self.memory_group, self.memory_version = None, ""
            remove_group(group)

    def _make_pids_group(self) -> None:
        base, version, reason = pids_parent()
        if base is None:
            self.pids_reason = reason
            return
        if version == "v2" and self.memory_group is not None and self.memory_version == "v2":
            group = self.memory_group          # one v2 group holds every controller
        else:
            group = base / f"box-{os.getpid()}-{next(_counter)}"
        try:
            group.mkdir(exist_ok=True)
            (group / "pids.max").write_text(str(self.processes))
        except OSError as exc:
            self.pids_reason = f"the cgroup could not be set up ({exc.strerror})"
            if group != self.memory_group:
                remove_group(group)
            return
        self.pids_group, self.pids_version = group, version

    def _write_memory_limit(self, limit: int) -> None:
        """Set the group's limit on memory (and on memory plus swap, which must never be below it)."""
        group, text = self.memory_group, str(limit)
        if self.memory_version == "v1":
            names = ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        else:
            names = ["memory.max"]
        for name in names:          # v1: swap limit first when raising, last when lowering
            try:
                (group / name).write_text(text)
            except OSError:
                if name != "memory.memsw.limit_in_bytes":
                    raise

    def join(self, command: list[str]) -> list[str]:
        """``command``, preceded by the shell steps that move it into every group (status 98 if one fails)."""
        joins = [group / "cgroup.procs" for group in (self.memory_group, self.pids_group) if group is not None]
        if not joins:
            return command
        steps = "; ".join(f"echo $$ > {shlex.quote(str(path))} || exit 98" for path in dict.fromkeys(joins))
        return ["sh", "-c", f"{steps}; exec \"$@\"", "sh", *command]

    def widen_memory_limit(self) -> int:
        """Raise the memory limit above what the group holds now; return what it held (0 without a group).

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

    def memory_bytes(self) -> int | None:
        """Memory the group charges to the child now (None without a memory group)."""
        if self.memory_group is None:
            return None
        name = "memory.usage_in_bytes" if self.memory_version == "v1" else "memory.current"
        try:
            return int((self.memory_group / name).read_text())
        except (OSError, ValueError):
            return None

    def memory_exceeded(self) -> bool:
        """Whether the kernel stopped the child for going over the memory limit."""
        group = self.memory_group
        if group is None:
            return False
        try:
            if self.memory_version == "v1":
                for line in (group / "memory.oom_control").read_text().splitlines():
                    if line.startswith("oom_kill ") and int(line.split()[1]) > 0:
                        return True
                return int((group / "memory.failcnt").read_text()) > 0 and \
                    int((group / "memory.max_usage_in_bytes").read_text()) >= \
                    int((group / "memory.limit_in_bytes").read_text())
            for line in (group / "memory.events").read_text().splitlines():
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
        """Kill whatever is still in the child's groups (a last resort)."""
        for group in (self.memory_group, self.pids_group):
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
        """Kill what is left in the groups and remove them."""
        self.kill_all()
        for group in dict.fromkeys(g for g in (self.pids_group, self.memory_group) if g is not None):
            remove_group(group)
        self.memory_group = self.pids_group = None
