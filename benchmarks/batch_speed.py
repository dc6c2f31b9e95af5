"""Benchmark: what a batch costs per submission, and what grading several at once gains.

Two figures, each a ratio of times measured in the same run (the machine may be noisy):

1. The marginal cost of one more no-training submission: (time to grade 12 copies of the
   conv_arithmetic reference - time for 2) / 10, against the time of `python -c "import torch"`.
2. 30 copies of the task1_cnn reference graded with --jobs 2 against --jobs 1.

Every time is a whole `python -m autograder grade` process, start-up included.

The second figure is bounded by the machine: with --jobs 1 a submission trains
with a thread per core, with --jobs N each trains on its share of the cores. So
the benchmark also times task1_cnn's training steps alone, the same number of
steps run by one process with every core's threads against N processes at once
with their shares. Training is most of each submission's time, so a batch
cannot do much better than that ratio.
Usage:

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
sys.path.insert(0, str(ROOT))


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


def train_steps(threads: int, steps: int) -> None:
    """Train task1_cnn's reference with its recipe (SGD, batch 64) for ``steps`` steps on random images."""
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, str(ROOT / "solutions" / "task1_cnn"))
    from task1_cnn import Net

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    images, labels = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()


def training_ceiling(jobs: int, steps: int = 400) -> float:
    """(``jobs`` processes at once, each with its share of the cores' threads and ``steps`` steps) /
    (one process with a thread per core and ``jobs`` x ``steps`` steps): the best --jobs N / --jobs 1
    ratio that training allows."""
    from autograder.settings.plan import threads_per_job, usable_cores

    def run(processes: int, threads: int, each: int) -> float:
        command = [sys.executable, __file__, "--train-steps", str(each), "--threads", str(threads)]
        started = time.perf_counter()
        running = [subprocess.Popen(command) for _ in range(processes)]
        if any(p.wait() for p in running):
            raise RuntimeError("the training step benchmark failed")
        return time.perf_counter() - started

    run(1, 1, 20)                                   # page cache, first imports
    together = run(jobs, threads_per_job(jobs), steps)
    alone = run(1, usable_cores(), jobs * steps)
    return together / alone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-jobs", action="store_true", help="only the marginal cost")
    parser.add_argument("--train-steps", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_steps:
        train_steps(args.threads, args.train_steps)
        return
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
        ceiling = training_ceiling(2)
        print(f"30 task1_cnn submissions: --jobs 1 {one:.1f} s, --jobs 2 {two:.1f} s; "
              f"ratio {two / one:.2f} (target: at most 0.6)")
        print(f"  training steps alone, two processes at once (half the cores each) against one (every core): "
              f"{ceiling:.2f}; training is most of each submission's time, so this bounds the ratio above")


if __name__ == "__main__":
    main()
