"""Benchmark: what the operating-system isolation costs when grading a correct submission.

Grades the LeNet-5 reference solution alternately with every isolation measure
the machine allows (namespaces, read-only mounts, unprivileged user, memory
cgroup) and with none of them (the child still runs in its own folder, process
group and time, memory and output limits, as the sandbox always does). Both are
measured in the same run, alternating, so the ratio is fair on a noisy machine.

    AUTOGRADER_DATA=../shared/datasets python benchmarks/isolation_overhead.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.processes import isolation  # noqa: E402
from autograder.processes.isolation import capabilities, cgroups  # noqa: E402
from autograder.commands import grade_submissions  # noqa: E402

REFERENCE = ROOT / "solutions" / "lenet5" / "lenet5.py"


def grade_once(device: str) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        [result] = grade_submissions(assignment_id="lenet5", submissions=[REFERENCE], out_dir=out,
                                     device=device)
        seconds = time.perf_counter() - started
    if result.score != result.max_score:
        raise SystemExit(f"the reference scored {result.score}/{result.max_score}: {result.status}")
    return seconds, result.extra["isolation"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="measurements of each (default: 3)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    args = parser.parse_args()

    real = (capabilities.namespaces_available, cgroups.memory_parent)
    off = (lambda: "switched off for the benchmark", lambda: (None, "", "switched off for the benchmark"))

    def measures(chosen) -> None:
        # the package and the trials each hold the name, and the cgroups module its parent folder
        isolation.namespaces_available = capabilities.namespaces_available = chosen[0]
        cgroups.memory_parent = chosen[1]

    grade_once(args.device)  # warm the data cache and the page cache
    isolated, plain, record = [], [], {}
    for _ in range(args.repeats):
        measures(real)
        seconds, record = grade_once(args.device)
        isolated.append(seconds)
        measures(off)
        plain.append(grade_once(args.device)[0])
    measures(real)
    with_, without = statistics.median(isolated), statistics.median(plain)
    print(f"device {args.device}, {args.repeats} repeats, medians:")
    print(f"  with isolation:    {with_:.2f} s  {[round(s, 2) for s in isolated]}")
    print(f"  without isolation: {without:.2f} s  {[round(s, 2) for s in plain]}")
    print(f"  ratio: {with_ / without:.3f} (target: at most 1.20)")
    print("  measures in force:")
    for key, value in record.items():
        print(f"    {key}: {value}")


if __name__ == "__main__":
    main()
