"""Benchmark: what grading on a Ray cluster costs against grading on this machine alone.

Grades 12 task1_cnn submissions (the reference under six names, the stub three times, and three
broken ones) twice: with ``autograder grade`` on this machine (one job per core), and with
``--cluster`` on a local two-node Ray cluster (a head and a second node, one core each: as many
grading slots as the local run has jobs). The cluster is started before the clock starts, as it
would be for a course; connecting to it is timed. Both runs must write the same files: the same
grades.csv, and the same scores and messages in every results.json (feedback pages by name).

    AUTOGRADER_DATA=../shared/datasets python benchmarks/cluster_overhead.py
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.commands import grade_submissions  # noqa: E402

FILE = "task1_cnn.py"


def write_class(folder: Path) -> list[Path]:
    reference = (ROOT / "solutions" / "task1_cnn" / FILE).read_text(encoding="utf-8")
    stub = (ROOT / "assignments" / "task1_cnn" / FILE).read_text(encoding="utf-8")
    texts = {f"correct{i}": reference for i in range(6)}
    texts.update({f"stub{i}": stub for i in range(3)})
    texts["no_pooling"] = reference.replace("F.max_pool2d(self.conv1(x), 2)", "self.conv1(x)")
    texts["no_log_softmax"] = reference.replace("return F.log_softmax(x, dim=1)", "return x")
    texts["does_not_parse"] = reference.replace("def forward(self, x):", "def forward(self, x)")
    paths = []
    for name, text in texts.items():
        (folder / name).mkdir(parents=True)
        (folder / name / FILE).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    return paths


def untimed(text: str) -> str:
    """A message without the seconds it reports (a training run's own time differs run to run)."""
    return re.sub(r"\d+(\.\d+)? s\b", "- s", text)


def graded_files(out: Path) -> dict:
    """Every file the run wrote, by path, with each results.json read without its timings."""
    files = {}
    for path in sorted(out.rglob("*")):
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            files[str(path.relative_to(out))] = (data["score"], [(t["name"], t["score"], untimed(t["output"]))
                                                                 for t in data["tests"]])
        elif path.is_file():
            files[str(path.relative_to(out))] = None if path.suffix == ".html" else path.read_text(encoding="utf-8")
    return files


def timed(submissions: list[Path], out: Path, jobs: int, cluster: str | None) -> float:
    started = time.perf_counter()
    grade_submissions(assignment_id="task1_cnn", submissions=submissions, out_dir=out, jobs=jobs, device="cpu",
                      cluster=cluster)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="measurements of each (default: 1)")
    args = parser.parse_args()
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    try:
        with tempfile.TemporaryDirectory() as folder:
            submissions = write_class(Path(folder) / "class")
            here, there = [], []
            for repeat in range(args.repeats):
                here.append(timed(submissions, Path(folder) / f"here{repeat}", 2, None))
                there.append(timed(submissions, Path(folder) / f"cluster{repeat}", 2, cluster.address))
                if graded_files(Path(folder) / f"here{repeat}") != graded_files(Path(folder) / f"cluster{repeat}"):
                    raise SystemExit("the cluster wrote other files or scores than this machine")
            print((Path(folder) / "here0" / "grades.csv").read_text().split("\n", 1)[1]
                  .replace("\n", "\n  ")[:2000])
    finally:
        ray.shutdown()
        cluster.shutdown()
    local, remote = statistics.median(here), statistics.median(there)
    print(f"12 task1_cnn submissions, {args.repeats} repeat(s), medians; the same files, grades.csv and scores")
    print(f"  this machine, 2 jobs:            {local:.1f} s  {[round(s, 1) for s in here]}")
    print(f"  local Ray cluster, 2 nodes/slots: {remote:.1f} s  {[round(s, 1) for s in there]}")
    print(f"  ratio: {remote / local:.3f} (target: at most 1.15)")


if __name__ == "__main__":
    main()
