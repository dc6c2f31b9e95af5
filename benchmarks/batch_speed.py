"""Benchmark: what a batch costs per submission, and what grading several at once gains.

Two figures, each a ratio of times measured in the same run (the machine may be noisy):

1. The marginal cost of one more no-training submission: (time to grade 12 copies of the
   conv_arithmetic reference - time for 2) / 10, against the time of `python -c "import torch"`.
2. 30 copies of the task1_cnn reference graded with --jobs 2 against --jobs 1.

Every time is a whole `python -m autograder grade` process, start-up included. Usage:

    AUTOGRADER_DATA=../shared/datasets python benchmarks/batch_speed.py [--skip-jobs]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def copies(assignment: str, file: str, count: int, where: Path) -> list[str]:
    """``count`` folders, each holding the reference solution of ``assignment``."""
    folders = []
    for i in range(count):
        folder = where / assignment / f"student{i:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "solutions" / assignment / file, folder / file)
        folders.append(str(folder))
    return folders


def grade(assignment: str, submissions: list[str], jobs: int | None) -> float:
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "autograder", "grade", assignment, *submissions, "--out", out,
                   "--device", "cpu"]
        if jobs:
            command += ["--jobs", str(jobs)]
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started


def import_torch() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-jobs", action="store_true", help="only the marginal cost")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as where:
        folders = copies("conv_arithmetic", "conv_arithmetic.py", 12, Path(where))
        grade("conv_arithmetic", folders[:1], None)        # warm the page cache
        torch_seconds = min(import_torch() for _ in range(3))
        two, twelve = grade("conv_arithmetic", folders[:2], None), grade("conv_arithmetic", folders, None)
        marginal = (twelve - two) / 10
        print(f"no-training submissions (conv_arithmetic), default --jobs: 2 in {two:.1f} s, 12 in {twelve:.1f} s")
        print(f"  marginal cost of one more: {marginal:.2f} s; python -c 'import torch': {torch_seconds:.2f} s; "
              f"ratio {marginal / torch_seconds:.2f} (target: at most 0.5)")
        if args.skip_jobs:
            return
        folders = copies("task1_cnn", "task1_cnn.py", 30, Path(where))
        one = grade("task1_cnn", folders, 1)
        two = grade("task1_cnn", folders, 2)
        print(f"30 task1_cnn submissions: --jobs 1 {one:.1f} s, --jobs 2 {two:.1f} s; "
              f"ratio {two / one:.2f} (target: at most 0.6)")


if __name__ == "__main__":
    main()
