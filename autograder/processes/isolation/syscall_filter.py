"""The system call filter (seccomp) of every sandboxed process, built by the parent.

Modelled on Docker's default profile, written as a list of refusals: the calls
a grader's process never needs and that reach kernel state beyond the process
itself (keys, POSIX message queues, other processes' memory, namespaces and
mounts, kernel modules, BPF, performance counters, the clock, swap, reboot,
file handles) fail with EPERM, so Python raises PermissionError. ``clone``
asking for a new namespace fails the same way, and ``clone3``, whose flags a
filter cannot read, answers ENOSYS (the C library then uses ``clone``). A call
made under another architecture's numbering (x32 or i386 on x86_64) kills the
process.

The filter comes in two stages. Every sandboxed process of the kit (a child
started cold, a warm start's zygote, the executor) installs the first as it
starts (``wire/confine.py``); it still allows ``unshare`` and ``keyctl``,
which a child needs to give itself its own namespaces and keyring. Each child
then stacks the second, which refuses those two as well, before any submission
code runs.

libseccomp, through its ctypes bindings (pyseccomp), turns the names into this
machine's numbers and writes the BPF programs; the parent builds them once and
hands each sandbox the bytes, so nothing inside a sandbox needs libseccomp.
Without libseccomp, or on a kernel without seccomp filters, grading goes on
unfiltered and ``results.json`` says why.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import tempfile
from dataclasses import dataclass

# What a child must still do to itself after the first stage (see wire/confine.py).
SETUP_CALLS = ("unshare", "keyctl")
REFUSED = (
    # keys and POSIX message queues: kernel objects that outlive the process
    "keyctl", "add_key", "request_key",
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    # other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    # kernel interfaces that have carried most container escapes
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    # namespaces and mounts
    "unshare", "setns", "mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr",
    # the machine itself
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "settimeofday", "clock_settime", "clock_adjtime", "iopl", "ioperm",
    "quotactl", "quotactl_fd", "syslog", "vhangup",
    # files reached by handle rather than by path, and filesystem-wide watches
    "open_by_handle_at", "name_to_handle_at", "fanotify_init", "lookup_dcookie",
    # obsolete calls
    "uselib", "nfsservctl", "_sysctl", "sysfs", "ustat",
)
# clone's flags that make a new namespace
CLONE_NAMESPACES = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
SECCOMP_GET_ACTION_AVAIL = 2
SECCOMP_RET_ERRNO = 0x00050000


@dataclass(frozen=True)
class Programs:
    """Both stages as BPF, and what they refuse."""

    first: bytes
    second: bytes
    refused: tuple[str, ...]        # the names this machine knows, in REFUSED's order
    numbers: dict[int, str]         # this machine's number of each refused call
    seccomp: int                    # the number of the seccomp call itself

    def settings(self) -> dict:
        """For the sandbox's confinement.json."""
        return {"first": self.first.hex(), "second": self.second.hex(), "seccomp": self.seccomp,
                "calls": {str(number): name for number, name in self.numbers.items()}}

    def words(self) -> str:
        return (f"on: {len(self.refused)} system calls refused with EPERM ({', '.join(self.refused)}); "
                "clone with a new namespace refused, clone3 answered ENOSYS")


def _build(seccomp, names: tuple[str, ...], clone_rules: bool) -> bytes:
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    rules.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    for name in names:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
    if clone_rules:
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        for flag in CLONE_NAMESPACES:      # arg 0 holds the flags on x86_64 and aarch64
            rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    with tempfile.TemporaryFile() as file:
        rules.export_bpf(file)
        file.seek(0)
        return file.read()


def _kernel_fails(number: int) -> str:
    """Empty when this kernel runs seccomp filters that answer with an errno, else why not."""
    if number < 0:
        return "this architecture has no seccomp call"
    libc = ctypes.CDLL(None, use_errno=True)
    action = ctypes.c_uint32(SECCOMP_RET_ERRNO)
    if libc.syscall(number, SECCOMP_GET_ACTION_AVAIL, 0, ctypes.byref(action)) != 0:
        return f"the kernel offers no seccomp filters ({os.strerror(ctypes.get_errno())})"
    return ""


@functools.lru_cache(maxsize=1)
def programs() -> tuple[Programs | None, str]:
    """(both stages, '') or (None, why there is no filter on this machine); built once per grader."""
    try:
        import pyseccomp as seccomp
    except ImportError:
        return None, "pyseccomp is not installed (pip install pyseccomp)"
    except (OSError, RuntimeError) as exc:       # pyseccomp loads libseccomp as it is imported
        return None, f"libseccomp could not be loaded ({exc}; Debian/Ubuntu: apt-get install libseccomp2)"
    try:
        call = seccomp.resolve_syscall(seccomp.Arch.NATIVE, "seccomp")
        reason = _kernel_fails(call)
        if reason:
            return None, reason
        known = {name: seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) for name in REFUSED}
        known = {name: number for name, number in known.items() if number >= 0}   # others: not on this machine
        first = _build(seccomp, tuple(name for name in known if name not in SETUP_CALLS), clone_rules=True)
        second = _build(seccomp, tuple(name for name in known if name in SETUP_CALLS), clone_rules=False)
    except (OSError, ValueError, AttributeError) as exc:
        return None, f"libseccomp could not build the filter ({exc})"
    return Programs(first, second, tuple(known), {number: name for name, number in known.items()}, call), ""
