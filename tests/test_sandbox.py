"""The sandbox's own parts: folder removal, the bubblewrap layout, and the child's process tree."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import isolation
from autograder.sandbox import process_tree_rss_bytes, remove_tree


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
    from autograder import sandbox

    scans = []
    original = sandbox._PROCESSES.scan
    monkeypatch.setattr(sandbox._PROCESSES, "scan", lambda: (scans.append(1), original())[1])
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


def test_bubblewrap_layout_shows_only_what_the_child_needs(tmp_path, monkeypatch):
    """A kit with its virtual environment inside: the venv is bound read-only, the kit is not there, the data
    cache inside the venv is covered, and the sandbox folder's entries are bound read-only into a tmpfs."""
    kit, box = tmp_path / "kit", tmp_path / "boxes" / "box-1"
    for folder in (kit / ".venv" / "lib", kit / ".venv" / "cache", box / "submission", box / "tmp"):
        folder.mkdir(parents=True)
    iso = isolation.Isolation(box, 0.0, [kit, kit / ".venv" / "cache", Path.cwd()], probing=True,
                              disk_mib=64)
    iso.mode, iso.user = "bwrap", 65534
    monkeypatch.setattr(iso, "_needed_paths", lambda: [box, kit / ".venv"])
    command = iso.wrap(["python", "-I", "-c", "pass"])
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


needs_bwrap = pytest.mark.skipif(bool(isolation.bwrap_fails()), reason=isolation.bwrap_fails() or "")


@needs_bwrap
def test_the_child_sees_nothing_of_the_host_under_bubblewrap(tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "answers.txt").write_text("42")
    box = tmp_path / "box"
    box.mkdir()
    iso = isolation.Isolation(box, 0.0, uid=65534, disk_mib=8)
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
