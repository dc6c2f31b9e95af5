"""Benchmark: a whole `autograder grade lenet5 <reference>` against one naive epoch.

The naive epoch is the loop the course material uses: a DataLoader over
torchvision's MNIST with ToTensor() and Normalize, batch 64, Adam, LeNet-5.
The grade is timed as a user meets it: a fresh `python -m autograder grade`
process, start-up, data loading and every check included.

Both are measured in the same run, alternating, so that the ratio is fair on a
noisy machine. Usage:

    AUTOGRADER_DATA=../shared/datasets python benchmarks/grade_vs_epoch.py [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def naive_epoch(data_root: Path, device: str) -> float:
    """One epoch of LeNet-5 the way the course scripts train it; returns seconds."""
    import torch
    import torch.nn.functional as F
    from torchvision import datasets, transforms

    sys.path.insert(0, str(ROOT / "solutions" / "lenet5"))
    from lenet5 import LeNet5

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    started = time.perf_counter()
    train_set = datasets.MNIST(str(data_root), train=True, download=False, transform=transform)
    loader = torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True)
    model = LeNet5(10).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        F.cross_entropy(model(data), target).backward()
        optimizer.step()
    return time.perf_counter() - started


def full_grade(device: str) -> tuple[float, float]:
    """Wall time of `python -m autograder grade lenet5 <reference>` in a fresh process, and the
    seconds its training check took (training, validation and test predictions)."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "autograder", "grade", "lenet5",
             str(ROOT / "solutions" / "lenet5" / "lenet5.py"), "--out", out, "--device", device],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - started
        results = json.loads(next(Path(out).glob("*/results.json")).read_text(encoding="utf-8"))
        return seconds, results["extra_data"]["check_details"]["training"]["train_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="measurements of each (default: 3)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    args = parser.parse_args()

    from autograder.grading.datasets import load_mnist
    from autograder.settings.places import cache_dir

    data_dir = Path(os.environ.get("AUTOGRADER_DATA", "data"))
    load_mnist(data_dir)  # extracts into the cache once; torchvision then reads from there
    epochs, grades, trainings = [], [], []
    for _ in range(args.repeats):
        epochs.append(naive_epoch(cache_dir(), args.device))
        grade, training = full_grade(args.device)
        grades.append(grade)
        trainings.append(training)
    epoch, grade, training = statistics.median(epochs), statistics.median(grades), statistics.median(trainings)
    print(f"device {args.device}, {args.repeats} repeats, medians:")
    print(f"  one naive epoch (DataLoader + ToTensor, batch 64, Adam): {epoch:.1f} s  {[round(e, 1) for e in epochs]}")
    print(f"  autograder grade lenet5 <reference>, whole process:      {grade:.1f} s  {[round(g, 1) for g in grades]}")
    print(f"    of which the training check (train, validate, predict): {training:.1f} s")
    print(f"  ratio grade / epoch: {grade / epoch:.2f} (targets: at most 1.00, then 0.70)")
    print(f"  ratio training check alone / epoch: {training / epoch:.2f} (the floor without start-up or other checks)")


if __name__ == "__main__":
    main()
