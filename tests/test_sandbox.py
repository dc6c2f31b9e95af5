"""The sandbox's own parts: folder removal, the bubblewrap layout, the child's process tree, and the
system call filter and namespaces a sandboxed child gives itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.processes.isolation import LEVELS, Isolation, View, capabilities, syscall_filter
from autograder.processes.cleanup import remove_tree
from autograder.processes.memory import process_tree_rss_bytes
from autograder.wire import confine


def test_remove_tree_handles_deep_chains_locked_folders_and_links(tmp_path):
    box, outside = tmp_path / "box", tmp_path / "outside"
    box.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_text("not the sandbox's")
    # 1,500 nested folders: paths far beyond PATH_MAX and recursion far beyond Python's limit
    fd = os.open(box, os.O_RDONLY)
    for _ in range(1500):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    with open(os.open("ballast", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "wb") as f:
        f.write(b"\0" * 2**20)
    os.close(fd)
    (box / "locked").mkdir()
    (box / "locked" / "file").write_text("x")
    os.chmod(box / "locked", 0)
    (box / "link").symlink_to(outside, target_is_directory=True)
    remove_tree(box)                # shutil.rmtree stops with RecursionError on Python 3.11
    assert not box.exists()
    assert (outside / "keep.txt").read_text() == "not the sandbox's"


def test_process_tree_memory_counts_children_in_new_sessions():
    code = ("import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'x = bytearray(200 * 2**20); import time; time.sleep(30)'], "
            "start_new_session=True); time.sleep(30)")
    parent = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while process_tree_rss_bytes(parent.pid) < 150 * 2**20 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert process_tree_rss_bytes(parent.pid) >= 150 * 2**20
    finally:
        for pid in _descendants(parent.pid):
            os.kill(pid, 9)
        parent.kill()
        parent.wait()


def _memory_of_child(code: str) -> int:
    """The counted memory of a child once it has run ``code`` (it prints "ready", then sleeps)."""
    child = subprocess.Popen([sys.executable, "-c", code + "; print('ready', flush=True); import time; "
                              "time.sleep(30)"], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert child.stdout.readline().strip() == b"ready"
        return process_tree_rss_bytes(child.pid)
    finally:
        child.kill()
        child.wait()


def test_memory_counts_shared_memory_but_not_the_files_a_process_maps(tmp_path):
    """A 200 MB file mapped and read (as torch's libraries are) is not the child's memory;
    200 MB written into shared memory (as a tmpfs file or memfd would hold) is."""
    big = tmp_path / "big.bin"
    big.write_bytes(b"\1" * (200 * 2**20))
    mapped = _memory_of_child(
        f"import mmap; f = open({str(big)!r}, 'rb'); m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ); "
        "sum(m[i] for i in range(0, len(m), 4096))")
    shared = _memory_of_child(
        "import mmap; m = mmap.mmap(-1, 200 * 2**20, flags=mmap.MAP_SHARED); "
        "[m.__setitem__(i, 1) for i in range(0, len(m), 4096)]")
    assert mapped < 100 * 2**20, mapped
    assert shared >= 150 * 2**20, shared


def test_polls_within_their_age_share_one_reading_of_proc(monkeypatch):
    from autograder.processes import memory

    scans = []
    original = memory._PROCESSES.scan
    monkeypatch.setattr(memory._PROCESSES, "scan", lambda: (scans.append(1), original())[1])
    now = process_tree_rss_bytes(os.getpid())                 # no age given: read now
    assert now > 0 and len(scans) == 1
    assert process_tree_rss_bytes(os.getpid(), max_age=60) == now and len(scans) == 1
    process_tree_rss_bytes(os.getpid())
    assert len(scans) == 2


def _descendants(root: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == root:
                found.append(int(entry))
    return found


def test_bubblewrap_layout_shows_only_what_the_child_needs(tmp_path):
    """A kit with its virtual environment inside: the venv is bound read-only, the kit is not there, the data
    cache inside the venv is covered, and the sandbox folder's entries are bound read-only into a tmpfs."""
    kit, box = tmp_path / "kit", tmp_path / "boxes" / "box-1"
    for folder in (kit / ".venv" / "lib", kit / ".venv" / "cache", box / "submission", box / "tmp"):
        folder.mkdir(parents=True)
    view = View(box, (kit, kit / ".venv" / "cache", Path.cwd()), user=65534, disk_mib=64,
                needed=(box, kit / ".venv"))
    command = LEVELS["bwrap"].wrap(["python", "-I", "-c", "pass"], view)
    args = command[command.index("bwrap"):]
    pairs = list(zip(args, args[1:], args[2:]))
    assert ("--ro-bind", str(kit / ".venv"), str(kit / ".venv")) in pairs
    assert ("--ro-bind", str(box / "submission"), str(box / "submission")) in pairs
    assert ("--tmpfs", str(kit / ".venv" / "cache")) in list(zip(args, args[1:]))
    assert ("--tmpfs", str(box)) in list(zip(args, args[1:]))
    assert str(kit) not in [b for a, b in zip(args, args[1:]) if a in ("--ro-bind", "--bind", "--dev-bind")]
    assert "--bind" not in args and "--dev-bind" not in args          # nothing of the host is writable
    for flag in ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent", "--new-session"):
        assert flag in args
    assert "--reuid=65534" in args and args[args.index("--size") + 1] == str(64 * 2**20)
    # a folder is made traversable before anything is mounted inside it
    first = {dest: i for i, dest in enumerate(args)}
    assert first[str(tmp_path)] < first[str(kit / ".venv")]


needs_bwrap = pytest.mark.skipif(bool(capabilities.bwrap_fails()), reason=capabilities.bwrap_fails() or "")


@needs_bwrap
def test_the_child_sees_nothing_of_the_host_under_bubblewrap(tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "answers.txt").write_text("42")
    box = tmp_path / "box"
    box.mkdir()
    iso = Isolation(box, 0.0, uid=65534, disk_mib=8)
    assert iso.mode == "bwrap"
    code = ("import os, sys; print(sorted(os.listdir('/'))); print(os.path.exists(sys.argv[1])); "
            "print(os.getuid()); open(os.path.join(os.environ['TMPDIR'], 'x'), 'w').write('y' * 2**24)")
    done = subprocess.run(iso.wrap([sys.executable, "-I", "-c", code, str(secret)]), cwd=box,
                          env={"TMPDIR": "/tmp", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          timeout=60)
    iso.close()
    lines = done.stdout.splitlines()
    assert lines[1] == "False" and lines[2] == "65534", done.stdout + done.stderr
    assert set(eval(lines[0])) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp",
                                   "usr", *Path(sys.prefix).resolve().parts[1:2], *Path(sys.base_prefix).parts[1:2],
                                   *box.parts[1:2]}
    assert "No space left on device" in done.stderr          # 16 MiB into an 8 MiB /tmp
    assert not list(box.iterdir())                            # nothing written on the host


def test_every_refused_call_is_known_on_x86_64_and_aarch64():
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError, RuntimeError) as exc:
        pytest.skip(f"no libseccomp here ({exc})")
    missing = {arch: {name for name in syscall_filter.REFUSED
                      if seccomp.resolve_syscall(getattr(seccomp.Arch, arch), name) < 0}
               for arch in ("X86_64", "AARCH64")}
    assert missing["X86_64"] == set()
    # x86's port I/O, and old calls aarch64 never had
    assert missing["AARCH64"] == {"iopl", "ioperm", "_sysctl", "sysfs", "uselib", "ustat"}


# Run in a sandboxed child once it has confined itself as a submission's child does: its capabilities
# and filters, the kernel's answers to a program of its own (which the naming of refused calls in
# Python does not reach), and the refusal a ctypes call gets.
RAW = """
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def answer(result):
    return "ok" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
answers = dict(keyctl=answer(libc.syscall(KEYCTL, 0, -4, 0)),
               add_key=answer(libc.syscall(ADD_KEY, b"user", b"k", b"v", 1, -4)),
               mq_open=answer(libc.mq_open(b"/q", os.O_CREAT | os.O_RDWR, 0o600, None)),
               ptrace=answer(libc.ptrace(0x7FFF, 0, None, None)),        # no such request or process
               unshare=answer(libc.unshare(0x08000000)),
               clone3=answer(libc.syscall(435, None, 0)))
made = libc.syscall(CLONE, 0x10000000 | 17, 0, 0, 0, 0)         # a new user namespace; SIGCHLD
if made == 0:
    os._exit(0)
answers["clone_newuser"] = answer(made)
print(" ".join(f"{k}={v}" for k, v in answers.items()))
"""
CHILD = """
import ctypes, json, os, subprocess, sys, threading
numbers = {"x86_64": (250, 248, 56), "aarch64": (219, 217, 220)}[os.uname().machine]
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
libc = ctypes.CDLL(None, use_errno=True)
try:
    named = str(libc.syscall(numbers[0], 0, -4, 0))
except PermissionError as exc:
    named = str(exc)
thread = threading.Thread(target=lambda: None)
thread.start()
thread.join()
given = "KEYCTL, ADD_KEY, CLONE = %d, %d, %d\\n" % numbers
raw = subprocess.run([sys.executable, "-c", given + sys.argv[1]], capture_output=True, text=True)
print(json.dumps({"caps": [status[k].strip() for k in ("CapEff", "CapPrm", "CapBnd")],
                  "no_new_privs": status["NoNewPrivs"].strip(), "filters": status["Seccomp_filters"].strip(),
                  "named": named, "raw": raw.stdout.strip() + raw.stderr[-300:],
                  "user_ns": os.readlink("/proc/self/ns/user"), "ipc_ns": os.readlink("/proc/self/ns/ipc")}))
"""


def run_confined_child(mode: str) -> dict:
    """CHILD's findings, run in a sandbox of ``mode`` as the unprivileged user, confined as a cold child is."""
    box = Path(tempfile.mkdtemp(prefix="autograder-"))
    try:
        shutil.copytree(Path(confine.__file__).parent, box / "grader" / "wire",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (box / "grader" / "__init__.py").write_text("")
        iso = Isolation(box, 0.0, uid=65534, level=LEVELS[mode])
        (box / confine.SETTINGS).write_text(json.dumps(iso.confinement()))
        for folder, _, files in os.walk(box):       # the unshare sandbox's child is given its folder
            for name in [".", *files]:
                os.chown(os.path.join(folder, name), 65534, 65534)
        start = (f"import sys; sys.path.insert(0, {str(box)!r}); from grader.wire.confine import start; "
                 f"start({str(box)!r}, 'worker')\n")
        done = subprocess.run(iso.wrap([sys.executable, "-I", "-c", start + CHILD, RAW]), cwd=box,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout.splitlines()[-1])
    finally:
        remove_tree(box)


@pytest.mark.parametrize("mode", ["bwrap", "unshare"])
@pytest.mark.parametrize("filtered", [True, False])
def test_a_sandboxed_child_confines_itself_before_any_submission_code(mode, filtered, monkeypatch):
    """Its own user and IPC namespace, no capability, and with the filter: EPERM from the kernel for
    every refused call, ENOSYS for clone3, threads still start, and a ctypes call names what was refused.
    Without libseccomp the namespaces hold all the same and the record says why there is no filter."""
    reason = capabilities.bwrap_fails() if mode == "bwrap" else capabilities.namespaces_available()
    if reason:
        pytest.skip(reason)
    if filtered and syscall_filter.programs()[0] is None:
        pytest.skip(f"no system call filter here: {syscall_filter.programs()[1]}")
    if not filtered:
        monkeypatch.setattr(syscall_filter, "programs", lambda: (None, "switched off for this test"))
    refused = capabilities.own_namespaces_fail(mode, 65534)
    if refused:
        pytest.skip(f"this kernel gives a sandboxed child no namespaces of its own: {refused}")
    child = run_confined_child(mode)
    assert child["user_ns"] != os.readlink("/proc/self/ns/user")
    assert child["ipc_ns"] != os.readlink("/proc/self/ns/ipc")
    assert child["caps"] == ["0000000000000000"] * 3 and child["no_new_privs"] == "1"
    if filtered:
        assert child["filters"] == "2"
        assert child["named"] == ("the submission tried a forbidden system call (keyctl), which the grader's "
                                  "sandbox refuses")
        assert child["raw"] == ("keyctl=EPERM add_key=EPERM mq_open=EPERM ptrace=EPERM unshare=EPERM "
                                "clone3=ENOSYS clone_newuser=EPERM"), child["raw"]
    else:
        assert child["filters"] == "0"
        # keys can be made; a message queue cannot (its owner is not mapped into the child's user namespace)
        assert child["raw"].startswith("keyctl=ok add_key=ok mq_open=EOVERFLOW ptrace=ESRCH"), child["raw"]
        # nor a user namespace of its own (the kernel wants its owner mapped), whatever the call
        assert child["raw"].endswith("unshare=EPERM clone3=EINVAL clone_newuser=EPERM"), child["raw"]
        record = Isolation(Path(tempfile.gettempdir()), 0.0, uid=65534, level=LEVELS[mode])
        assert record.record()["seccomp"] == "no: switched off for this test"
        assert "namespace of its own" in record.record()["keyring"]


def test_without_pyseccomp_a_sandbox_still_starts_and_says_why_it_has_no_filter(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyseccomp", None)         # import pyseccomp raises ImportError
    syscall_filter.programs.cache_clear()
    try:
        assert syscall_filter.programs() == (None, "pyseccomp is not installed (pip install pyseccomp)")
        folder = Path(tempfile.gettempdir())
        iso = Isolation(folder, 0.0, level=LEVELS["none"])
        assert iso.confinement() is None                         # no sandbox: nothing to install
        iso = Isolation(folder, 0.0, level=LEVELS["bwrap"])
        assert iso.confinement() == {"own_namespaces": True, "filter": None}
    finally:
        syscall_filter.programs.cache_clear()
