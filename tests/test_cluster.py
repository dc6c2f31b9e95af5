"""Grading past one machine: a batch cut into shards and merged, and a batch graded on a local
two-node Ray cluster (the Ray tests need the kit's cluster extra, which CI installs)."""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path

import pytest

from autograder import commands
from autograder.commands import grade_submissions, merge_shards
from autograder.errors import AutograderError
from autograder.grading.shards import RECORD_FILE, Shard

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "conv_arithmetic"       # no training: each submission takes seconds
FILE = "conv_arithmetic.py"


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> list[Path]:
    """Five students' folders: two references, the stub, and two different mistakes."""
    folder = tmp_path_factory.mktemp("class")
    reference = (ROOT / "solutions" / ASSIGNMENT / FILE).read_text(encoding="utf-8")
    files = {
        "alice": reference,
        "bob": (ROOT / "assignments" / ASSIGNMENT / FILE).read_text(encoding="utf-8"),
        "carol": reference,
        "dave": reference.replace("padding", "pad"),
        "erin": "this is not python (\n",
    }
    for name, text in files.items():
        (folder / name).mkdir()
        (folder / name / FILE).write_text(text, encoding="utf-8")
    return sorted(folder.iterdir())


@pytest.fixture(scope="module")
def one_run(batch, tmp_path_factory, real_config) -> Path:
    out = tmp_path_factory.mktemp("one-run")
    grade_submissions(assignment_id=ASSIGNMENT, submissions=batch, out_dir=out, config_path=real_config)
    return out


def rows(out: Path) -> list[dict]:
    with (out / "grades.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_submission_falls_in_exactly_one_shard():
    names = [f"student{i:03d}" for i in range(37)][::-1]
    parts = [Shard(k, 5).picks(names) for k in range(5)]
    assert sorted(p for part in parts for p in part) == list(range(37))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    for text in ("5/5", "-1/5", "a/b", "3", "0/0"):
        with pytest.raises(AutograderError, match="K/N with 0 <= K < N"):
            Shard.parse(text)


def test_shards_merge_into_the_grades_of_one_run(batch, one_run, tmp_path, real_config):
    shard_dirs = [tmp_path / f"shard{k}" for k in range(2)]
    for k, folder in enumerate(shard_dirs):
        grade_submissions(assignment_id=ASSIGNMENT, submissions=batch, out_dir=folder,
                          config_path=real_config, shard=f"{k}/2")
        assert (folder / RECORD_FILE).is_file()
    assert sorted(len(rows(folder)) for folder in shard_dirs) == [2, 3]

    with pytest.raises(AutograderError, match="shards 1 of 2 are missing"):
        merge_shards(shard_dirs=shard_dirs[:1], out_dir=tmp_path / "merged")
    with pytest.raises(AutograderError, match="given twice"):
        merge_shards(shard_dirs=[shard_dirs[0], shard_dirs[0]], out_dir=tmp_path / "merged")

    merged = tmp_path / "merged"
    results = merge_shards(shard_dirs=shard_dirs, out_dir=merged)
    assert (merged / "grades.csv").read_text(encoding="utf-8") == (one_run / "grades.csv").read_text(encoding="utf-8")
    assert [r.name for r in results] == ["alice", "bob", "carol", "dave", "erin"]
    for result in results:
        assert (merged / result.name / "results.json").is_file()
        assert (merged / result.name / "feedback.html").is_file()
    assert "erin" in (merged / "report.html").read_text(encoding="utf-8")


def test_a_damaged_shard_record_is_refused_with_the_fix(tmp_path):
    (tmp_path / RECORD_FILE).write_text('{"format": "autograder shard 1", "expected": [[0, "../escape"]]}')
    with pytest.raises(AutograderError, match="grade that shard again"):
        merge_shards(shard_dirs=[tmp_path], out_dir=tmp_path / "merged")
    with pytest.raises(AutograderError, match="holds no shard.json"):
        merge_shards(shard_dirs=[tmp_path / "merged"], out_dir=tmp_path / "elsewhere")


def test_without_ray_the_cluster_option_says_how_to_install_it(monkeypatch, tmp_path, batch, real_config):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else
                        real_find_spec(name, *a))
    with pytest.raises(AutograderError, match=r'pip install -e "\.\[cluster\]"'):
        commands.grade_submissions(assignment_id=ASSIGNMENT, submissions=batch, out_dir=tmp_path,
                                   config_path=real_config, cluster="auto")


@pytest.fixture(scope="module")
def two_nodes():
    """A head and a second node on this machine, one core each: two grading slots."""
    ray = pytest.importorskip("ray", reason="the kit's cluster extra (Ray) is not installed")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    second = cluster.add_node(num_cpus=1)
    yield cluster, second
    ray.shutdown()
    cluster.shutdown()


def scores(out: Path) -> dict:
    """Every submission's results.json, without the timings."""
    found = {}
    for path in sorted(out.glob("*/results.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found[path.parent.name] = (data["score"], [(t["name"], t["score"], t["output"]) for t in data["tests"]])
    return found


def test_a_cluster_grades_like_one_machine_even_when_a_node_is_lost(two_nodes, batch, one_run, tmp_path,
                                                                  real_config):
    cluster, second = two_nodes
    out = tmp_path / "cluster"
    finished = {}

    def grade():
        finished["results"] = grade_submissions(assignment_id=ASSIGNMENT, submissions=batch, out_dir=out,
                                                config_path=real_config, cluster=cluster.address)

    thread = threading.Thread(target=grade)
    thread.start()
    deadline = time.monotonic() + 600
    while not list(out.glob("*/results.json")) and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    # Each slot is handed the next submission as soon as it returns one, so the second node's slot is busy.
    cluster.remove_node(second)
    thread.join(timeout=600)
    assert not thread.is_alive() and "results" in finished
    # Every submission graded once, to the score and messages one machine gives, in the same files.
    assert sorted(row["name"] for row in rows(out)) == ["alice", "bob", "carol", "dave", "erin"]
    assert (out / "grades.csv").read_text(encoding="utf-8") == (one_run / "grades.csv").read_text(encoding="utf-8")
    assert scores(out) == scores(one_run)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in one_run.iterdir())
    again = [r for r in finished["results"] if any("graded again on another cluster slot" in n for n in r.notes)]
    assert len(again) == 1
