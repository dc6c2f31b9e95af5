"""Benchmark: submissions a minute on a GPU, with the same verdicts as on the CPU.

For lenet5 and task1_cnn: grades ``--count`` copies of the reference solution
(default 100) in one `python -m autograder grade` process on ``--device``
(default cuda, default --jobs), then one copy on the CPU, and compares every
check's status and the test accuracy of the two. Prints submissions a minute
and the time for the batch; writes benchmarks/results/gpu_throughput.json.

    AUTOGRADER_DATA=../shared/datasets python benchmarks/gpu_throughput.py [--count 100] [--jobs J]

With ``--device cpu --count 4`` it runs anywhere, to try the benchmark itself.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = {"lenet5": "lenet5.py", "task1_cnn": "task1_cnn.py"}


def grade(assignment: str, submissions: list[Path], out: Path, device: str, jobs: int | None) -> float:
    command = [sys.executable, "-m", "autograder", "grade", assignment, *map(str, submissions),
               "--out", str(out), "--device", device]
    if jobs:
        command += ["--jobs", str(jobs)]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def verdicts(out: Path) -> list[dict]:
    """Per submission: its score, each check's status, and the training check's test accuracy."""
    found = []
    for path in sorted(out.glob("*/results.json")):
        results = json.loads(path.read_text(encoding="utf-8"))
        training = results["extra_data"].get("check_details", {}).get("training", {})
        found.append({"score": results["score"],
                      "statuses": {test["name"]: test["status"] for test in results["tests"]},
                      "test_accuracy": training.get("test_accuracy")})
    return found


def measure(assignment: str, count: int, device: str, jobs: int | None, where: Path) -> dict:
    reference = ROOT / "solutions" / assignment / ASSIGNMENTS[assignment]
    folders = []
    for i in range(count):
        folder = where / assignment / f"student{i:03d}"
        folder.mkdir(parents=True)
        shutil.copyfile(reference, folder / reference.name)
        folders.append(folder)
    seconds = grade(assignment, folders, where / f"{assignment}-{device}", device, jobs)
    on_cpu = grade(assignment, folders[:1], where / f"{assignment}-cpu-one", "cpu", None)
    batch, cpu = verdicts(where / f"{assignment}-{device}"), verdicts(where / f"{assignment}-cpu-one")[0]
    accuracies = [v["test_accuracy"] for v in batch if v["test_accuracy"] is not None]
    return {
        "assignment": assignment, "device": device, "count": count, "seconds": round(seconds, 1),
        "per_minute": round(60 * count / seconds, 1),
        "graded": len(batch), "same_score_as_cpu": sum(v["score"] == cpu["score"] for v in batch),
        "same_statuses_as_cpu": sum(v["statuses"] == cpu["statuses"] for v in batch),
        "test_accuracy": {"cpu": cpu["test_accuracy"],
                          "device_min": min(accuracies, default=None), "device_max": max(accuracies, default=None)},
        "one_on_cpu_seconds": round(on_cpu, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="copies of each reference (default: 100)")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--jobs", type=int, default=None, help="--jobs for the batch (default: the grader's)")
    parser.add_argument("assignments", nargs="*", default=list(ASSIGNMENTS), help="lenet5 and/or task1_cnn")
    args = parser.parse_args()

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    if args.device == "cuda" and gpu is None:
        sys.exit("torch sees no CUDA device here: run with --device cpu to try the benchmark itself")
    figures = []
    with tempfile.TemporaryDirectory() as where:
        for assignment in args.assignments:
            figure = measure(assignment, args.count, args.device, args.jobs, Path(where))
            figures.append(figure)
            print(f"{assignment} on {args.device}: {figure['count']} submissions in {figure['seconds']} s, "
                  f"{figure['per_minute']} a minute (target for lenet5 on a GPU: at least 60); "
                  f"{figure['same_statuses_as_cpu']} of {figure['graded']} with every check as on the CPU; "
                  f"test accuracy CPU {figure['test_accuracy']['cpu']}, here "
                  f"{figure['test_accuracy']['device_min']} to {figure['test_accuracy']['device_max']}")
    record = {"gpu": gpu, "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
              "figures": figures}
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "gpu_throughput.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
