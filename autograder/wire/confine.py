"""What a sandboxed process does to itself before the rest of the kit is imported.

The parent leaves ``confinement.json`` in the sandbox folder (see
``processes/isolation/syscall_filter.py`` and ``processes/isolation/``); without it (a student's own
account) nothing here happens. ``start`` is the bootstrap's first step in every
sandboxed program: it installs the filter's first stage. The zygote and the
executor then join a session keyring of their own (not the grader's), and the
executor stacks the second stage at once.

A process about to run a submission (a child started cold, or one the zygote
has just forked) calls ``prepare_child`` before any submission code: it moves
into a new user namespace and a new IPC namespace of its own, so that the
POSIX message queues, System V objects, user keyring and named keyrings one
child makes are gone for the next; it drops every capability that move gave
it; it joins a fresh session keyring; then it stacks the second stage, which
refuses ``unshare`` and ``keyctl`` too, and makes a refused call the
submission makes through ctypes say which call it was. If a step fails, the
process says so and exits with status 97 ("could not be isolated") rather than
run a submission with less than its record says.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

SETTINGS = "confinement.json"
STATUS_NOT_ISOLATED = 97
CLONE_NEWIPC, CLONE_NEWUSER = 0x08000000, 0x10000000
PR_SET_SECCOMP, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 22, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1, 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_NUMBER = {"x86_64": 250, "aarch64": 219, "riscv64": 219, "loongarch64": 219}
# C library functions whose system call has another name
WRAPPERS = {"mq_send": "mq_timedsend", "mq_receive": "mq_timedreceive", "mq_getattr": "mq_getsetattr",
            "mq_setattr": "mq_getsetattr", "umount": "umount2"}

_libc = ctypes.CDLL(None, use_errno=True)
_settings: dict = {}


class _Program(ctypes.Structure):          # struct sock_fprog
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _failed(what: str) -> OSError:
    number = ctypes.get_errno()
    return OSError(number, f"{what}: {os.strerror(number)}")


def _install(rules: dict, stage: str) -> None:
    """Stack one stage of the filter on the calling thread (before any other thread exists)."""
    code = bytes.fromhex(rules[stage])
    buffer = ctypes.create_string_buffer(code, len(code))
    program = _Program(len(code) // 8, ctypes.addressof(buffer))
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise _failed("no_new_privs")
    # Without SPEC_ALLOW, kernels before 5.16 switch on speculation mitigations for every filtered
    # process, which slows training; the filter is about calls, not speculation (runc does the same).
    if _libc.syscall(rules["seccomp"], SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW,
                     ctypes.byref(program)) == 0:
        return
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0) != 0:  # before 4.17
        raise _failed("the system call filter could not be installed")


def _join_session_keyring() -> None:
    """A new, empty session keyring instead of the one inherited."""
    number = KEYCTL_NUMBER.get(os.uname().machine)
    if number is None:
        return
    if _libc.syscall(number, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
        if ctypes.get_errno() not in (38, 1):     # ENOSYS, EPERM: no keys here at all
            raise _failed("a session keyring of its own could not be joined")


def _drop_capabilities() -> None:
    """Every capability, in every set: a new user namespace grants them all inside it."""
    for capability in range(64):
        _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)     # fails past the last one
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    if _libc.capset(header, (ctypes.c_uint32 * 6)()) != 0:
        raise _failed("capabilities could not be dropped")


def _own_namespaces() -> None:
    """A new user namespace, which owns a new IPC namespace. No user is mapped into it: its ids read as
    the overflow id 65534 inside, while the kernel checks every access against the real ones. Unmapped,
    the child sees no other child's keys in /proc/keys (which lists the keys of mapped users, whatever
    their namespace), and cannot make a POSIX message queue at all (EOVERFLOW)."""
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWIPC) != 0:
        raise _failed("a user and IPC namespace of its own could not be made")
    _drop_capabilities()


def _name_refused_calls(calls: dict[int, str]) -> None:
    """Make a ctypes function that would make a refused call raise PermissionError naming it.

    The kernel refuses the call anyway (EPERM, which a ctypes call returns as
    -1); this only makes the refusal say which call it was. It covers functions
    found by name on a library (``libc.mq_open``, ``libc["keyctl"]``,
    ``libc.syscall(250, ...)``); one reached another way (a C extension, a
    function pointer cast by hand, a program started with subprocess) still
    gets EPERM, unnamed.
    """
    refused = set(calls.values())
    find = ctypes.CDLL.__getitem__

    def refusal(call: str) -> PermissionError:
        return PermissionError(f"the submission tried a forbidden system call ({call}), which the grader's "
                               "sandbox refuses")

    def getitem(library, name):
        function = find(library, name)
        call = "keyctl" if str(name).startswith("keyctl") else WRAPPERS.get(name, name)  # libkeyutils: keyctl_*
        if name != "syscall" and call not in refused:
            return function

        base = library._FuncPtr

        def checked(self, *args):
            number = getattr(args[0], "value", args[0]) if args else None
            made = call if name != "syscall" else calls.get(number) if isinstance(number, int) else None
            if made:
                raise refusal(made)
            return base.__call__(self, *args)

        # ctypes wants a function class's own _flags_ and _restype_
        named = type("Checked", (base,), {"_flags_": base._flags_, "_restype_": base._restype_,
                                          "__call__": checked})
        return named((name, library))

    ctypes.CDLL.__getitem__ = getitem


def _give_up(exc: OSError) -> None:
    print(f"The sandbox could not confine this process ({exc.strerror or exc}); it stops here.",
          file=sys.stderr, flush=True)
    os._exit(STATUS_NOT_ISOLATED)


def start(folder: str, program: str) -> None:
    """The first step of every sandboxed program ("worker", "zygote" or "executor")."""
    path = os.path.join(folder, SETTINGS)
    if not os.path.isfile(path):
        return
    try:
        with open(path, encoding="utf-8") as file:
            _settings.update(json.load(file))
        rules = _settings.get("filter")
        if rules:
            _install(rules, "first")
        if program == "worker":
            prepare_child(required=False)      # a cold child's IPC namespace is fresh already
            return
        _join_session_keyring()
        if program == "executor" and rules:
            _install(rules, "second")
    except OSError as exc:
        _give_up(exc)


def prepare_child(required: bool) -> None:
    """Before any submission code: namespaces and a session keyring of its own, then the second stage.

    With ``required`` (a child forked from the zygote, whose IPC namespace would
    otherwise be the zygote's), a process that cannot have its own namespaces
    stops; without it, it goes on in the namespaces its sandbox gave it.
    """
    if not _settings:
        return
    try:
        if _settings.get("own_namespaces"):
            try:
                _own_namespaces()
            except OSError:
                if required:
                    raise
        _join_session_keyring()
        rules = _settings.get("filter")
        if rules:
            _install(rules, "second")
            _name_refused_calls({int(number): name for number, name in rules["calls"].items()})
    except OSError as exc:
        _give_up(exc)


def namespaces_refused() -> str:
    """'' when a process forked from this one can have its own namespaces (tried in a throwaway fork)."""
    if not _settings.get("own_namespaces"):
        return "the sandbox gives no namespaces"
    pid = os.fork()
    if pid == 0:
        try:
            _own_namespaces()
            os._exit(0)
        except OSError as exc:
            os._exit(exc.errno or 1)
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return "" if code == 0 else f"unshare refused: {os.strerror(code) if code > 0 else f'signal {-code}'}"
