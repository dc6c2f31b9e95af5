"""Calibration: test accuracy of every reference solution's training check over several seeds.

Grades each reference (full grade, out of process) with seeds 0..N-1 and
prints, per assignment, the test accuracy, steps and time of the training
check, and the margin of the worst seed above the threshold in grading.toml.

    AUTOGRADER_DATA=../shared/datasets python benchmarks/calibrate_training.py [--seeds 5] [lenet5 task1_cnn]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.commands import grading_setup  # noqa: E402
from autograder.checks import load_config  # noqa: E402
from autograder.grading.grade import grade_submission  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=["lenet5", "task1_cnn"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    config = load_config(ROOT / "grading.toml")
    for assignment_id in args.assignments:
        assignment = config.assignment(assignment_id)
        training = [c for c in assignment.checks if c.kind == "test_accuracy"]
        if not training:
            continue
        threshold = training[0].params["min_test_accuracy"]
        accuracies = []
        for seed in range(args.seeds):
            with grading_setup(config=config, assignment=assignment, data_dir=None, device=args.device,
                               seed=seed) as setup:
                result = grade_submission(setup, config.solution_dir(assignment_id) / assignment.file)
            details = result.extra["check_details"].get(training[0].name, {})
            accuracy = details.get("test_accuracy", 0.0)
            accuracies.append(accuracy)
            print(f"{assignment_id} seed {seed}: score {result.score:g}/{result.max_score:g}, "
                  f"test accuracy {accuracy:.2%}, {details.get('steps')} steps, "
                  f"{details.get('train_seconds')} s training, {result.seconds:.1f} s in all", flush=True)
        worst = min(accuracies)
        print(f"{assignment_id}: threshold {threshold:.0%}, worst seed {worst:.2%}, "
              f"margin {100 * (worst - threshold):.1f} points\n", flush=True)


if __name__ == "__main__":
    main()
