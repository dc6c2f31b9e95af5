"""The measures in force for one child, in words, as ``results.json`` records them.

Every key is always present; a measure that is missing says why (the
reasons kept when the level was chosen, or when a cgroup could not be made).
The wording is what graders and students read: it changes only with the
measures themselves.
"""

from __future__ import annotations

import os

from . import syscall_filter
from .capabilities import Reasons, own_namespaces_fail, parent_death_prefix
from .cgroups import Cgroups
from .levels import Level
from .view import View


def describe(level: Level, view: View, reasons: Reasons, cgroups: Cgroups) -> dict:
    """Which measures were in force, in words, for results.json."""
    mode, ns, isolated = level.name, reasons.namespaces, level.isolated
    if cgroups.memory_version:
        memory = f"cgroup {cgroups.memory_version} limit, plus resident memory polling (the processes' own pages)"
    else:
        memory = (f"resident memory polling of the process tree, the processes' own pages "
                  f"(no cgroup: {cgroups.memory_reason})")
    if os.geteuid() != 0:
        user = f"unprivileged (uid {os.geteuid()})"
    elif view.user is not None:
        user = f"unprivileged (uid {view.user}, no supplementary groups, no capabilities)"
    elif isolated:
        why = reasons.user or "no sandbox user is configured ([kit] sandbox_uid = 0)"
        user = f"root without capabilities ({why})"
    else:
        user = f"not enforced: runs as root ({ns})"
    why_not_bwrap = reasons.bubblewrap or ns
    host_disk = "no quota: the sandbox folder is on the host's disk, removed after grading"
    filesystem, disk = {
        "bwrap": ("allow-list (bubblewrap): read-only /usr, Python and its packages, the grader's files "
                  "for this child; nothing else of the host",
                  f"tmpfs folders of {view.disk_mib} MiB each (sandbox folder, /tmp, /dev/shm), gone with the child"
                  if view.disk_mib > 0 else "tmpfs folders without a size limit, gone with the child"),
        "unshare": (f"read-only except the sandbox folder; kit, data, cache and submission folders hidden "
                    f"(no bubblewrap: {why_not_bwrap})", host_disk),
        "none": (f"not restricted: {ns}; the child runs in a fresh folder", host_disk),
    }[mode]
    if cgroups.pids_version:
        processes = f"at most {cgroups.processes} processes and threads (cgroup {cgroups.pids_version})"
    else:
        processes = f"no limit ({cgroups.pids_reason or 'no limit configured'})"
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
        refused = own_namespaces_fail(mode, view.user)
        keyring = ("a fresh session keyring for every process; each submission's child has a user "
                   "namespace of its own, so no user keyring or named keyring of one child reaches another"
                   if not refused else
                   f"a fresh session keyring for every process; the user keyring of uid "
                   f"{view.user if view.user is not None else 0} is shared by every child (it cannot have "
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
