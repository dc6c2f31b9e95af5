"""Hostile and broken submissions, graded in one batch next to the reference solution.

Each file in tests/hostile/ defines a LeNet5 whose attack happens on import, in
__init__ or in forward: loops, floods, crashes, daemons, network and socket
use, snooping, forged and oversized answers, a channel left half-written or
unread, report injection, IPC objects, threads and deep folders. A few are
also handed in under names that attack the reports, and one as a link to the
reference solution. The batch is graded once with small limits; the tests
then look at each result, at the reports and the console, at the processes
and files left behind, and at what a loopback server and a Unix socket
received. Separate tests interrupt and kill a grading command.
"""

from __future__ import annotations

import csv
import ctypes
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import torch
from rich.console import Console

from autograder.processes.isolation import View, capabilities, cgroups, syscall_filter, unshare, view
from autograder.commands import grade_submissions
from autograder.settings.places import cache_dir
from autograder.reports.results_files import MAX_RESULTS_BYTES, print_result

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).resolve().parent / "hostile"
REFERENCE = ROOT / "solutions" / "lenet5" / "lenet5.py"
PORTS = range(47613, 47621)        # the ports tests/hostile/network.py connects to
DAEMON_MARKER = "hostile-daemon-4f1c9e"
SOCKET_PATH = "/tmp/hostile-socket-4f1c9e.sock"   # the path tests/hostile/unix_socket.py connects to
SHM_KEY = 0x4F1C9E01                            # the key tests/hostile/sysv_ipc.py creates
FORMULA = ("=", "+", "-", "@", "\t", "\r")

LOAD, STEP, TRAIN = 15, 8, 150        # the batch's limits, in seconds
# Small enough that tests/hostile/memory_hog.py reaches it well within STEP: page faults alone cost
# about 1.6 s a GiB on a 2-core machine, twice that with the batch's other submissions beside it
MEMORY_GIB = 1.0
LIMITS = f"""
[kit]
data_dir = ""
seed = 0
device = "cpu"
allow_download = true

[limits]
load_seconds = {LOAD}
step_seconds = {STEP}
train_watchdog_seconds = {TRAIN}
memory_gib = {MEMORY_GIB:g}
output_kib = 16
processes = 128
disk_mib = 256
"""

BATCH = ["loop_import", "loop_init", "loop_forward", "memory_hog", "sys_exit", "os_exit", "segfault",
         "keyboard", "daemon", "network", "flood", "snoop", "monkeypatch", "cuda",
         "half_message", "stops_reading", "zero_stride", "flood_notes", "injection", "thread_bomb", "sysv_ipc",
         "unix_socket", "deep_folders"]
# copies handed in under names that attack the reports: (file name, hostile file, result folder name)
RENAMED = [("grades.csv.py", "keyboard", "grades.csv-submission"),
           ("=HYPERLINK(1).py", "injection", "_HYPERLINK_1_")]
LINKED = "linked"          # a folder whose lenet5.py is a symbolic link to the reference solution


def data_dir() -> str:
    for candidate in (os.environ.get("AUTOGRADER_DATA"), str(ROOT / "data"), "/work/shared/datasets"):
        if candidate and (Path(candidate) / "MNIST" / "raw").is_dir():
            return candidate
    pytest.skip("MNIST is not available: set AUTOGRADER_DATA to the folder holding MNIST/raw")


def write_config(folder: Path, limits: str = LIMITS) -> Path:
    """grading.toml with lenet5 only, small limits and a short training recipe."""
    text = (ROOT / "grading.toml").read_text(encoding="utf-8")
    start = text.index("[assignments.lenet5]")
    end = text.find("\n# ----", start)
    section = text[start:] if end < 0 else text[start:end]
    section = re.sub(r"(?m)^max_steps = .*$", "max_steps = 600", section)
    section = re.sub(r"(?m)^stop_at_validation_accuracy = .*$", "stop_at_validation_accuracy = 0.9", section)
    section = re.sub(r"(?m)^min_test_accuracy = .*$", "min_test_accuracy = 0.85", section)
    section = re.sub(r"(?m)^partial_credit_from = .*$", "partial_credit_from = 0.75", section)
    (folder / "solutions" / "lenet5").mkdir(parents=True)
    (folder / "assignments" / "lenet5").mkdir(parents=True)
    path = folder / "grading.toml"
    path.write_text(limits + "\n" + section, encoding="utf-8")
    return path


class Listener(threading.Thread):
    """A loopback server, on the first free port of PORTS, that records every byte anyone sends it."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.received = bytearray()
        self.connections = 0
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for port in PORTS:
            try:
                self.server.bind(("127.0.0.1", port))
                break
            except OSError:
                if port == PORTS[-1]:
                    self.server.close()
                    raise
        self.server.listen(8)
        self.server.settimeout(0.2)
        self.stopping = False

    def run(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(2)
                try:
                    while chunk := conn.recv(4096):
                        self.received += chunk
                except OSError:
                    pass

    def stop(self) -> None:
        self.stopping = True
        self.join(timeout=5)
        self.server.close()


class UnixListener(threading.Thread):
    """A Unix socket on the host's /tmp, open to every user, that counts connections."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        if os.path.lexists(SOCKET_PATH):
            os.unlink(SOCKET_PATH)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(SOCKET_PATH)
        os.chmod(SOCKET_PATH, 0o777)
        self.server.listen(8)
        self.server.settimeout(0.2)
        self.connections = 0
        self.stopping = False

    def run(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def stop(self) -> None:
        self.stopping = True
        self.join(timeout=5)
        self.server.close()
        if os.path.lexists(SOCKET_PATH):
            os.unlink(SOCKET_PATH)


def processes_with(text: str) -> list[int]:
    """Processes whose command line contains ``text``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if text.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def marker_processes(where: Path) -> list[int]:
    """Daemons of tests/hostile/daemon.py started in a sandbox folder under ``where``."""
    return sorted(set(processes_with(DAEMON_MARKER)) & set(processes_with(str(where))))


class PeakMemory(threading.Thread):
    """Samples this process's resident memory while the batch runs (the lifetime peak would include
    whatever other tests did before)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kib = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.05):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak_kib = max(self.peak_kib, int(line.split()[1]))

    def stop(self) -> float:
        self.stopping.set()
        self.join(timeout=5)
        return self.peak_kib / 1024


def shm_keys() -> set[int]:
    """Keys of the System V shared memory segments the host sees."""
    try:
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        return set()
    return {int(line.split()[0]) & 0xFFFFFFFF for line in lines if line.split()}


def remove_shm(key: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    segment = libc.shmget(key, 0, 0)
    if segment >= 0:
        libc.shmctl(segment, 0, None)    # IPC_RMID


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    config = write_config(folder / "kit")
    submissions = [HOSTILE / f"{name}.py" for name in BATCH] + [REFERENCE]
    for file_name, source, _ in RENAMED:
        (folder / "renamed").mkdir(exist_ok=True)
        shutil.copy(HOSTILE / f"{source}.py", folder / "renamed" / file_name)
        submissions.append(folder / "renamed" / file_name)
    (folder / LINKED).mkdir()
    (folder / LINKED / "lenet5.py").symlink_to(REFERENCE)
    submissions.append(folder / LINKED)
    # decoys a snooping submission must not reach: a classmate's file and a copy of the test labels,
    # in a folder every user may read
    decoys = Path(tempfile.mkdtemp(prefix="decoy-4f1c9e-", dir="/tmp"))
    os.chmod(decoys, 0o755)
    shutil.copy(REFERENCE, decoys / "lenet5.py")
    (decoys / "t10k-labels-idx1-ubyte.decoy-4f1c9e").write_bytes(b"labels")
    out = folder / "out"
    work = folder / "tmp"             # every temporary folder of the grader goes here, to be checked
    work.mkdir()
    data = data_dir()
    saved = os.environ.get("AUTOGRADER_DATA"), tempfile.tempdir
    os.environ["AUTOGRADER_DATA"] = data    # so the grader knows which folder to hide
    remove_shm(SHM_KEY)
    try:
        listener = Listener()
    except OSError:
        pytest.skip(f"ports {PORTS[0]} to {PORTS[-1]} are all busy on this machine")
    listener.start()
    unix = UnixListener()
    unix.start()
    console_text = io.StringIO()
    console = Console(file=console_text, width=160)
    tempfile.tempdir = str(work)
    memory = PeakMemory()
    memory.start()
    started = time.monotonic()
    try:
        results = grade_submissions(assignment_id="lenet5", submissions=submissions, out_dir=out,
                                    config_path=config, data_dir=data, device="cpu", jobs=3, console=console)
        elapsed = time.monotonic() - started
        for result in results:
            print_result(result, console)
        time.sleep(0.5)
        leftovers = marker_processes(work)
        sandbox_processes = processes_with(str(work))
        temporary = sorted(p.name for p in work.iterdir())
        shm = shm_keys()
    finally:
        peak_mib = memory.stop()
        tempfile.tempdir = saved[1]
        listener.stop()
        unix.stop()
        shutil.rmtree(decoys, ignore_errors=True)
        if saved[0] is None:
            os.environ.pop("AUTOGRADER_DATA", None)
        else:
            os.environ["AUTOGRADER_DATA"] = saved[0]
        for pid in processes_with(str(work)):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        remove_shm(SHM_KEY)
    by_name = {r.name: r for r in results}
    return {"results": by_name, "out": out, "listener": listener, "unix": unix, "leftovers": leftovers,
            "data": data, "decoys": decoys, "elapsed": elapsed, "sandbox_processes": sandbox_processes,
            "temporary": temporary, "shm": shm, "peak_mib": peak_mib, "console": console_text.getvalue(),
            "submissions": submissions}


def messages(result) -> str:
    return "\n".join(c.message for c in result.checks)


def enforced(result, key: str) -> bool:
    value = result.extra["isolation"][key]
    return not value.startswith(("no:", "not "))


def test_reference_in_the_same_batch_gets_full_marks(batch):
    result = batch["results"]["lenet5"]
    assert result.score == result.max_score, messages(result)
    data = json.loads((batch["out"] / "lenet5" / "results.json").read_text())
    assert data["score"] == result.max_score


def test_every_hostile_submission_has_a_result_and_no_points_it_did_not_earn(batch):
    results = batch["results"]
    expected = set(BATCH) | {folder for _, _, folder in RENAMED} | {LINKED}
    assert expected <= set(results)
    for name in expected:
        if name == "monkeypatch":
            continue   # its model has the right shape, so shape checks may pass
        # an attack in forward() leaves "builds" honestly earned, and nothing else
        earned = [c.name for c in results[name].checks if c.passed]
        allowed = {"builds", "parameter_count"} if name in ("loop_forward", "cuda") else set()
        assert set(earned) <= allowed, \
            (name, messages(results[name]))
        assert (batch["out"] / name / "results.json").is_file()


@pytest.mark.parametrize("name, limit, stage", [
    ("loop_import", LOAD, "loading"),
    ("loop_init", STEP, ""),
    ("loop_forward", STEP, "forward"),
])
def test_infinite_loops_end_at_the_limit(batch, name, limit, stage):
    result = batch["results"][name]
    assert f"timed out after {limit} s while" in result.status
    assert stage in result.status
    assert all("timed out after" in c.message for c in result.checks if not c.passed), messages(result)
    assert not any(c.passed for c in result.checks if c.name != "builds")


def test_memory_hog_is_stopped(batch):
    result = batch["results"]["memory_hog"]
    assert f"memory limit ({MEMORY_GIB:g} GiB) exceeded" in result.status, result.status
    # it had the whole limit for itself: the poll, which names the limit, stopped it
    assert result.extra["peak_memory_mib"] >= MEMORY_GIB * 1024, result.extra["peak_memory_mib"]


@pytest.mark.parametrize("name, words", [
    ("sys_exit", "sys.exit(3)"),
    ("os_exit", "exited with status 7"),
    ("segfault", "segmentation fault"),
    ("keyboard", "KeyboardInterrupt"),
])
def test_exits_and_crashes_are_named(batch, name, words):
    result = batch["results"][name]
    assert words in messages(result) + result.status, messages(result)
    assert not any(c.passed for c in result.checks)


def test_no_daemon_outlives_grading(batch):
    result = batch["results"]["daemon"]
    if not enforced(result, "pid_namespace"):
        pytest.skip("no PID namespace here: " + result.extra["isolation"]["pid_namespace"])
    assert batch["leftovers"] == []


def test_loopback_receives_nothing(batch):
    result = batch["results"]["network"]
    if not enforced(result, "network"):
        pytest.skip("no network namespace here: " + result.extra["isolation"]["network"])
    assert batch["listener"].received == b""
    assert batch["listener"].connections == 0
    assert "NETWORK-BLOCKED" in result.output
    assert "NETWORK-CONNECTED" not in result.output


def test_output_flood_is_capped(batch):
    result = batch["results"]["flood"]
    assert "more bytes of output dropped" in result.output
    assert len(result.output) < 16 * 1024 + 200
    assert (batch["out"] / "flood" / "results.json").stat().st_size < 64 * 1024


def test_answers_are_out_of_reach(batch):
    result = batch["results"]["snoop"]
    if not enforced(result, "filesystem"):
        pytest.skip("filesystem not restricted here: " + result.extra["isolation"]["filesystem"])
    assert "SEARCHED" in result.output, result.output[-2000:]
    read = [line[5:] for line in result.output.splitlines() if line.startswith("READ:")]
    secret = [Path(batch["data"]).resolve(), ROOT, HOSTILE, cache_dir().resolve(), batch["out"].resolve()]
    if result.extra["isolation"]["sandbox"] == "bwrap":
        # with the allow-list, also what the old hiding left visible: a classmate's file given
        # elsewhere, and another copy of the test labels in a folder anyone may read
        secret.append(batch["decoys"].resolve())
    leaked = [p for p in read if any(s == Path(p).resolve() or s in Path(p).resolve().parents for s in secret)]
    assert leaked == [], leaked


def test_monkeypatching_and_forged_results_change_nothing(batch):
    result = batch["results"]["monkeypatch"]
    training = next(c for c in result.checks if c.name == "training")
    assert not training.passed, training.message
    assert result.score < result.max_score
    data = json.loads((batch["out"] / "monkeypatch" / "results.json").read_text())
    assert data["score"] == result.score != 100.0
    # the forged file written from inside the child reached nothing the grader reads
    assert json.loads((batch["out"] / "lenet5" / "results.json").read_text())["score"] == \
        batch["results"]["lenet5"].max_score


@pytest.mark.skipif(torch.cuda.is_available(), reason="the grader has a GPU here")
def test_hard_coded_cuda_is_explained(batch):
    result = batch["results"]["cuda"]
    assert "grader has none" in messages(result), messages(result)


def test_isolation_is_recorded(batch):
    for name in ("lenet5", "network"):
        data = json.loads((batch["out"] / name / "results.json").read_text())
        record = data["extra_data"]["isolation"]
        assert set(record) >= {"sandbox", "network", "pid_namespace", "ipc_namespace", "memory", "processes",
                               "disk", "lifetime", "user", "filesystem", "seccomp", "keyring"}
        assert record["sandbox"] in ("bwrap", "unshare", "none")
        if record["sandbox"] != "none" and syscall_filter.programs()[0] is not None:
            assert record["seccomp"].startswith("on: ") and "keyctl" in record["seccomp"]


def test_degraded_mode_still_limits_time_and_memory(tmp_path, monkeypatch):
    """Without namespaces or cgroups, time and memory are still enforced and the gaps recorded."""
    monkeypatch.setattr(capabilities, "namespaces_available", lambda: "the grader is not running as root")
    monkeypatch.setattr(cgroups, "memory_parent", lambda: (None, "", "no cgroup (test)"))
    config = write_config(tmp_path / "kit")
    results = grade_submissions(assignment_id="lenet5", out_dir=tmp_path / "out", config_path=config,
                                submissions=[HOSTILE / "memory_hog.py", HOSTILE / "loop_forward.py"],
                                data_dir=data_dir(), device="cpu", jobs=2)
    by_name = {r.name: r for r in results}
    assert f"memory limit ({MEMORY_GIB:g} GiB) exceeded" in by_name["memory_hog"].status
    assert f"timed out after {STEP} s while" in by_name["loop_forward"].status
    record = by_name["loop_forward"].extra["isolation"]
    assert record["network"].startswith("not isolated")
    assert record["pid_namespace"].startswith("no")
    assert "polling" in record["memory"]


def test_unprivileged_user_when_grading_as_root(batch):
    record = batch["results"]["lenet5"].extra["isolation"]
    if os.geteuid() != 0 or capabilities.namespaces_available():
        assert not record["user"].startswith("unprivileged (uid 65534")
        return
    assert record["user"].startswith("unprivileged (uid 65534"), record["user"]


def test_covers_hide_the_kit_but_keep_a_virtual_environment_inside_it(tmp_path):
    """A kit with its .venv inside (as CI installs it): the kit is covered, the venv shown again,
    the data cache inside the venv covered again, a submission folder inside the kit left covered."""
    kit, box = tmp_path / "kit", tmp_path / "boxes" / "box-1"
    for folder in (kit / ".venv" / "lib", kit / ".venv" / "cache", kit / "submissions", box):
        folder.mkdir(parents=True)
    seen = View(box, (kit, kit / ".venv" / "cache", kit / "submissions"),
                needed=(box, kit / ".venv", kit / ".venv" / "lib"))
    covers = {folder: (mode, shown) for folder, mode, shown in unshare.covers(seen)}
    assert covers[str(kit)] == ("711", [str(kit / ".venv")])
    assert covers[str(kit / ".venv" / "cache")] == ("000", [])
    assert str(kit / "submissions") not in covers            # gone with the kit already
    assert covers[str(box.parent)] == ("711", [str(box)])    # other sandboxes beside it are covered



def test_site_folders_a_virtual_environment_lacks_are_neither_shown_nor_traversed(tmp_path, monkeypatch):
    """Debian's Python lists site folders (lib/python3/dist-packages) that a virtual environment
    does not have: they are left out, and an unprivileged child's covers are still worked out."""
    missing = tmp_path / "venv" / "lib" / "python3" / "dist-packages"
    monkeypatch.setattr(view.site, "getsitepackages", lambda: [str(missing)])
    view.python_paths.cache_clear()
    try:
        assert missing not in view.python_paths()
        box = tmp_path / "boxes" / "box-1"
        box.mkdir(parents=True)
        assert unshare.covers(View(box, user=65534, needed=(box, missing)))   # no error for the folder not there
    finally:
        view.python_paths.cache_clear()


# ---------------------------------------------------------------- the channel, the reports, leftovers

def record(batch, name: str) -> dict:
    return batch["results"][name].extra["isolation"]


@pytest.mark.parametrize("name", ["half_message", "stops_reading"])
def test_a_half_written_or_unread_channel_ends_at_the_deadline(batch, name):
    result = batch["results"][name]
    assert f"timed out after {STEP} s while" in result.status, result.status
    assert result.seconds < LOAD + STEP + 10, result.seconds      # a load, one step, and teardown
    assert all(not c.passed for c in result.checks)


def test_a_tiny_answer_that_decodes_to_gigabytes_is_refused(batch):
    result = batch["results"]["zero_stride"]
    assert "broke the grader's channel while loading" in result.status, result.status
    assert "elements" in result.status or "zero stride" in result.status
    assert batch["peak_mib"] < 3 * 1024, batch["peak_mib"]


def test_flooded_notes_are_capped(batch):
    result = batch["results"]["flood_notes"]
    assert len(result.notes) <= 21 and all(len(note) <= 2100 for note in result.notes)
    for folder in batch["out"].iterdir():
        if folder.is_dir():
            assert (folder / "results.json").stat().st_size < MAX_RESULTS_BYTES


def test_injected_text_reaches_reports_and_console_as_plain_text(batch):
    out = batch["out"]
    texts = {"grades.csv": (out / "grades.csv").read_text(encoding="utf-8"), "console": batch["console"]}
    for path in out.glob("*/results.json"):
        texts[str(path)] = path.read_text(encoding="utf-8")
    for where, text in texts.items():
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, where
    injected = batch["results"]["injection"]
    assert "20/20 passed" in messages(injected)      # the words are kept, as text
    assert "[/]" in batch["console"]                 # shown as typed: no markup was parsed
    data = json.loads((out / "injection" / "results.json").read_text(encoding="utf-8"))
    assert data["output_format"] == data["test_output_format"] == "text"


def test_no_csv_cell_starts_a_formula(batch):
    rows = list(csv.reader((batch["out"] / "grades.csv").open(encoding="utf-8")))
    assert len(rows) == len(batch["submissions"]) + 1
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA), row


def test_result_folders_cannot_collide_with_grades_csv_or_leave_out(batch):
    out = batch["out"]
    assert (out / "grades.csv").is_file()
    for _, _, folder in RENAMED:
        assert (out / folder / "results.json").is_file()
    names = [p.name for p in out.iterdir()]
    assert all(not name.startswith(".") for name in names)
    assert sorted(names) == sorted([*batch["results"], "grades.csv", "report.html"])


def test_a_linked_submission_is_refused_not_followed(batch):
    result = batch["results"][LINKED]
    assert result.score == 0
    assert "lenet5.py is a symbolic link; hand in the file itself" in messages(result)


def test_threads_and_processes_are_limited(batch):
    result = batch["results"]["thread_bomb"]
    if not record(batch, "thread_bomb")["processes"].startswith("at most"):
        pytest.skip("no pids limit here: " + record(batch, "thread_bomb")["processes"])
    started = int(re.search(r"THREADS (\d+)", result.output).group(1))
    assert 0 < started < 128


def test_no_system_v_object_survives(batch):
    result = batch["results"]["sysv_ipc"]
    if not enforced(result, "ipc_namespace"):
        pytest.skip("no IPC namespace here: " + record(batch, "sysv_ipc")["ipc_namespace"])
    assert int(re.search(r"SHM (-?\d+)", result.output).group(1)) >= 0     # it did create one, inside
    assert SHM_KEY not in batch["shm"]


def test_host_unix_sockets_are_out_of_reach(batch):
    result = batch["results"]["unix_socket"]
    if record(batch, "unix_socket")["sandbox"] != "bwrap":
        pytest.skip("sockets in the host's /tmp stay reachable without bubblewrap")
    assert "UNIX-BLOCKED" in result.output and "UNIX-CONNECTED" not in result.output
    assert batch["unix"].connections == 0


def test_nothing_is_left_behind(batch):
    assert "DEEP-" in batch["results"]["deep_folders"].output
    assert batch["temporary"] == []                    # sandbox folders, deep chains included, are gone
    assert batch["sandbox_processes"] == []
    assert batch["leftovers"] == []


def test_the_batch_finishes_within_its_limits(batch):
    """No submission holds the batch longer than its own limits allow, and the batch as a whole takes
    less than the limits its hanging submissions and the reference's training add up to."""
    hanging = {"loop_import": LOAD, "loop_init": STEP, "loop_forward": STEP, "half_message": STEP,
               "stops_reading": STEP}
    for name, limit in hanging.items():
        assert batch["results"][name].seconds < LOAD + limit + 10, (name, batch["results"][name].seconds)
    for result in batch["results"].values():
        assert result.seconds < LOAD + TRAIN + 10 * STEP, (result.name, result.seconds)
    budget = sum(LOAD + limit for limit in hanging.values()) + LOAD + TRAIN
    assert batch["elapsed"] < budget, batch["elapsed"]


# ---------------------------------------------------------------- stopping the grader itself

INTERRUPT_LIMITS = LIMITS.replace(f"step_seconds = {STEP}", "step_seconds = 60")


def start_grading(tmp_path: Path, names: list[str]) -> tuple[subprocess.Popen, Path, Path]:
    """`autograder grade` in a process of its own, with its temporary folders in one place."""
    config = write_config(tmp_path / "kit", INTERRUPT_LIMITS)
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    env = {**os.environ, "TMPDIR": str(work), "AUTOGRADER_DATA": data_dir(),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-m", "autograder", "grade", "lenet5",
                                *[str(HOSTILE / f"{name}.py") for name in names], "--out", str(out),
                                "--config", str(config), "--device", "cpu"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, work, out


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_ctrl_c_stops_the_batch_promptly_and_still_writes_grades(tmp_path):
    process, work, out = start_grading(tmp_path, ["keyboard", "half_message", "loop_init"])
    try:
        assert wait_for(lambda: (out / "keyboard" / "results.json").is_file(), 60), "keyboard was never graded"
        assert wait_for(lambda: processes_with(str(work)), 20)        # half_message's child is running
        time.sleep(1)
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        stdout, stderr = process.communicate(timeout=30)
        stopped_after = time.monotonic() - interrupted
    finally:
        process.kill()
        for pid in processes_with(str(work)):
            os.kill(pid, 9)
    assert stopped_after < 5, stopped_after
    assert process.returncode == 130 and "Interrupted" in stderr and "Traceback" not in stderr, stderr[-2000:]
    rows = list(csv.DictReader((out / "grades.csv").open(encoding="utf-8")))
    assert [row["name"] for row in rows] == ["keyboard"]
    assert not (out / "half_message").exists() and not (out / "loop_init").exists()
    assert wait_for(lambda: not processes_with(str(work)), 5)
    assert list(work.iterdir()) == []


def test_killing_the_grader_kills_every_child(tmp_path):
    process, work, out = start_grading(tmp_path, ["loop_init"])
    try:
        assert wait_for(lambda: len(processes_with(str(work))) > 0, 60)
        time.sleep(2)                                   # the child is busy in its loop
        process.kill()                                  # SIGKILL: the grader cleans nothing up itself
        process.wait(timeout=10)
        assert wait_for(lambda: not processes_with(str(work)), 5), processes_with(str(work))
    finally:
        process.kill()
        for pid in processes_with(str(work)):
            os.kill(pid, 9)


def test_without_bubblewrap_the_namespace_measures_still_hold(tmp_path, monkeypatch):
    """The fallback where bubblewrap is missing: namespaces, IPC, PID and read-only mounts, the system
    call filter, and the sandbox folder (a deep chain in it included) removed afterwards."""
    if capabilities.namespaces_available():
        pytest.skip("no namespaces here: " + capabilities.namespaces_available())
    monkeypatch.setattr(capabilities, "bwrap_fails", lambda: "switched off for this test")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "work"))
    (tmp_path / "work").mkdir()
    remove_shm(SHM_KEY)
    config = write_config(tmp_path / "kit")
    try:
        results = grade_submissions(assignment_id="lenet5", out_dir=tmp_path / "out", config_path=config,
                                    submissions=[HOSTILE / f"{n}.py" for n in ("sysv_ipc", "deep_folders", "daemon",
                                                                               "forbidden_call")],
                                    data_dir=data_dir(), device="cpu", jobs=2)
        time.sleep(0.5)
        assert marker_processes(tmp_path / "work") == []
        assert SHM_KEY not in shm_keys()
    finally:
        for pid in processes_with(str(tmp_path / "work")):
            os.kill(pid, 9)
        remove_shm(SHM_KEY)
    by_name = {r.name: r for r in results}
    record = by_name["sysv_ipc"].extra["isolation"]
    assert record["sandbox"] == "unshare" and "no bubblewrap: switched off" in record["filesystem"]
    assert "SHM" in by_name["sysv_ipc"].output
    assert "DEEP-WRITTEN" in by_name["deep_folders"].output      # on the host's disk this time
    if syscall_filter.programs()[0] is not None:
        assert record["seccomp"].startswith("on: ")
        builds = next(check for check in by_name["forbidden_call"].checks if check.name == "builds")
        assert "forbidden system call (keyctl)" in builds.message, builds.message
    assert list((tmp_path / "work").iterdir()) == []
