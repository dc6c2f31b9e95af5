"""Hostile and broken submissions, graded in one batch next to the reference solution.

Each file in tests/hostile/ defines a LeNet5 whose attack happens on import, in
__init__ or in forward. The batch is graded once with small limits; the tests
then look at each result, at the processes left running and at what a
loopback server received.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
import torch

from autograder import isolation
from autograder.commands import grade_submissions
from autograder.data import cache_dir

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).resolve().parent / "hostile"
REFERENCE = ROOT / "solutions" / "lenet5" / "lenet5.py"
PORT = 47613                       # the port tests/hostile/network.py connects to
DAEMON_MARKER = "hostile-daemon-4f1c9e"

LIMITS = """
[kit]
data_dir = ""
seed = 0
device = "cpu"
allow_download = true

[limits]
load_seconds = 30.0
step_seconds = 8.0
train_seconds = 150.0
memory_gib = 1.5
output_kib = 16
"""

BATCH = ["loop_import", "loop_init", "loop_forward", "memory_hog", "sys_exit", "os_exit", "segfault",
         "keyboard", "daemon", "network", "flood", "snoop", "monkeypatch", "cuda"]


def data_dir() -> str:
    for candidate in (os.environ.get("AUTOGRADER_DATA"), str(ROOT / "data"), "/work/shared/datasets"):
        if candidate and (Path(candidate) / "MNIST" / "raw").is_dir():
            return candidate
    pytest.skip("MNIST is not available: set AUTOGRADER_DATA to the folder holding MNIST/raw")


def write_config(folder: Path) -> Path:
    """grading.toml with lenet5 only, small limits and a short training recipe."""
    text = (ROOT / "grading.toml").read_text(encoding="utf-8")
    start = text.index("[assignments.lenet5]")
    end = text.find("\n# ----", start)
    section = text[start:] if end < 0 else text[start:end]
    section = re.sub(r"(?m)^max_steps = .*$", "max_steps = 600", section)
    section = re.sub(r"(?m)^stop_at_validation_accuracy = .*$", "stop_at_validation_accuracy = 0.9", section)
    section = re.sub(r"(?m)^min_test_accuracy = .*$", "min_test_accuracy = 0.85", section)
    (folder / "solutions" / "lenet5").mkdir(parents=True)
    (folder / "assignments" / "lenet5").mkdir(parents=True)
    path = folder / "grading.toml"
    path.write_text(LIMITS + "\n" + section, encoding="utf-8")
    return path


class Listener(threading.Thread):
    """A loopback server that records every byte anyone sends it."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.received = bytearray()
        self.connections = 0
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", PORT))
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


def marker_processes() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if DAEMON_MARKER.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    config = write_config(folder / "kit")
    submissions = [HOSTILE / f"{name}.py" for name in BATCH] + [REFERENCE]
    out = folder / "out"
    data = data_dir()
    saved = os.environ.get("AUTOGRADER_DATA")
    os.environ["AUTOGRADER_DATA"] = data    # so the grader knows which folder to hide
    try:
        listener = Listener()
    except OSError:
        pytest.skip(f"port {PORT} is busy on this machine")
    listener.start()
    try:
        results = grade_submissions(assignment_id="lenet5", submissions=submissions, out_dir=out,
                                    config_path=config, data_dir=data, device="cpu", jobs=2)
        time.sleep(0.5)
        leftovers = marker_processes()
    finally:
        listener.stop()
        if saved is None:
            os.environ.pop("AUTOGRADER_DATA", None)
        else:
            os.environ["AUTOGRADER_DATA"] = saved
        for pid in marker_processes():
            try:
                os.kill(pid, 9)
            except OSError:
                pass
    by_name = {r.name: r for r in results}
    return {"results": by_name, "out": out, "listener": listener, "leftovers": leftovers, "data": data}


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
    assert set(BATCH) <= set(results)
    for name in BATCH:
        if name == "monkeypatch":
            continue   # its model has the right shape, so shape checks may pass
        # an attack in forward() leaves "builds" honestly earned, and nothing else
        earned = [c.name for c in results[name].checks if c.passed]
        allowed = {"builds", "parameter_count"} if name in ("loop_forward", "cuda") else set()
        assert set(earned) <= allowed, \
            (name, messages(results[name]))
        assert (batch["out"] / name / "results.json").is_file()


@pytest.mark.parametrize("name, limit, stage", [
    ("loop_import", 30, "loading"),
    ("loop_init", 8, ""),
    ("loop_forward", 8, "forward"),
])
def test_infinite_loops_end_at_the_limit(batch, name, limit, stage):
    result = batch["results"][name]
    assert f"timed out after {limit} s while" in result.status
    assert stage in result.status
    assert all("timed out after" in c.message for c in result.checks if not c.passed), messages(result)
    assert not any(c.passed for c in result.checks if c.name != "builds")


def test_memory_hog_is_stopped(batch):
    result = batch["results"]["memory_hog"]
    assert "memory limit (1.5 GiB) exceeded" in result.status, result.status


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
    secret = [Path(batch["data"]).resolve(), ROOT, HOSTILE, cache_dir().resolve()]
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
        assert set(record) >= {"network", "pid_namespace", "memory", "user", "filesystem"}


def test_degraded_mode_still_limits_time_and_memory(tmp_path, monkeypatch):
    """Without namespaces or cgroups, time and memory are still enforced and the gaps recorded."""
    monkeypatch.setattr(isolation, "namespaces_available", lambda: "the grader is not running as root")
    monkeypatch.setattr(isolation, "_cgroup_parent", lambda: (None, "", "no cgroup (test)"))
    config = write_config(tmp_path / "kit")
    results = grade_submissions(assignment_id="lenet5", out_dir=tmp_path / "out", config_path=config,
                                submissions=[HOSTILE / "memory_hog.py", HOSTILE / "loop_forward.py"],
                                data_dir=data_dir(), device="cpu", jobs=2)
    by_name = {r.name: r for r in results}
    assert "memory limit (1.5 GiB) exceeded" in by_name["memory_hog"].status
    assert "timed out after 8 s while" in by_name["loop_forward"].status
    record = by_name["loop_forward"].extra["isolation"]
    assert record["network"].startswith("not isolated")
    assert record["pid_namespace"].startswith("no")
    assert "polling" in record["memory"]


def test_unprivileged_user_when_grading_as_root(batch):
    record = batch["results"]["lenet5"].extra["isolation"]
    if os.geteuid() != 0 or isolation.namespaces_available():
        assert not record["user"].startswith("unprivileged (uid 65534")
        return
    assert record["user"].startswith("unprivileged (uid 65534"), record["user"]


def test_covers_hide_the_kit_but_keep_a_virtual_environment_inside_it(tmp_path, monkeypatch):
    """A kit with its .venv inside (as CI installs it): the kit is covered, the venv shown again,
    the data cache inside the venv covered again, a submission folder inside the kit left covered."""
    kit, box = tmp_path / "kit", tmp_path / "boxes" / "box-1"
    for folder in (kit / ".venv" / "lib", kit / ".venv" / "cache", kit / "submissions", box):
        folder.mkdir(parents=True)
    iso = isolation.Isolation(box, 0.0, [kit, kit / ".venv" / "cache", kit / "submissions"], probing=True)
    monkeypatch.setattr(iso, "_needed_paths", lambda: [box, kit / ".venv", kit / ".venv" / "lib"])
    covers = {folder: (mode, shown) for folder, mode, shown in iso.covers(None)}
    assert covers[str(kit)] == ("711", [str(kit / ".venv")])
    assert covers[str(kit / ".venv" / "cache")] == ("000", [])
    assert str(kit / "submissions") not in covers            # gone with the kit already
    assert covers[str(box.parent)] == ("711", [str(box)])    # other sandboxes beside it are covered
