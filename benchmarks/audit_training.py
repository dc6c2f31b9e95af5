"""Audit the assignments that train a network: how many of the sampled mutants the checks kill.

Each mutant of a training assignment costs a training run (up to max_steps of
the assignment's recipe, stopped early at its validation threshold), so these
audits are too slow for the test suite: they run here, with the kit's own
grading.toml (full training recipes, real MNIST) and a sample of mutants spread
evenly over the operators.

Prints, per assignment, the mutation score, the counts, the time and every
surviving mutant; writes DIR/audit.json and DIR/audit.html (default DIR:
benchmarks/results/audit_training). Usage:

    AUTOGRADER_DATA=../shared/datasets python benchmarks/audit_training.py [ID ...] [--max-mutants N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.commands import audit_assignments  # noqa: E402

TRAINING = ["task1_cnn", "lenet5", "max_conv_net", "cifar10_cnn"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=TRAINING,
                        help=f"assignments to audit (default: {' '.join(TRAINING)})")
    parser.add_argument("--max-mutants", type=int, default=12,
                        help="mutants per assignment, spread evenly over the operators (default: 12)")
    parser.add_argument("--seed", type=int, default=0, help="grading and sampling seed (default: 0)")
    parser.add_argument("--jobs", type=int, default=None, help="mutants graded at once (default: one per core)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "audit_training",
                        help="folder for audit.json, audit.html and the mutants")
    args = parser.parse_args()
    console = Console()
    started = time.perf_counter()
    audits = audit_assignments(assignment_ids=args.assignments, out_dir=args.out, config_path=ROOT / "grading.toml",
                               seed=args.seed, jobs=args.jobs, max_mutants=args.max_mutants, console=console)
    for audit in audits:
        score = "-" if audit.score is None else f"{audit.score:.0%}"
        console.print(f"{audit.assignment}: score {score} ({audit.count('killed')} killed, "
                      f"{audit.count('survived')} survived, {audit.count('equivalent')} equivalent of "
                      f"{len(audit.outcomes)} graded) in {audit.seconds:.0f} s", markup=False, highlight=False)
    console.print(f"all: {time.perf_counter() - started:.0f} s", markup=False, highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
