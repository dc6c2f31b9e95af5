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

from autograder.processes import isolation# noqa: E402
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

    real_namespaces, real_cgroup = isolation.namespaces_available, isolation._cgroup_parent
    grade_once(args.device)  # warm the data cache and the page cache
    isolated, plain, record = [], [], {}
    for _ in range(args.repeats):
        isolation.namespaces_available, isolation._cgroup_parent = real_namespaces, real_cgroup
        seconds, record = grade_once(args.device)
        isolated.append(seconds)
        isolation.namespaces_available = lambda: "switched off for the benchmark"
        isolation._cgroup_parent = lambda: (None, "", "switched off for the benchmark")
        plain.append(grade_once(args.device)[0])
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
