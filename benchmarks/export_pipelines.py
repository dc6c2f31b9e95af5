"""Run the nbgrader and Gradescope pipelines end to end for every assignment.

For each assignment, in a temporary folder:

1. nbgrader: `autograder export nbgrader`, then nbgrader's own commands
   unchanged (`generate_assignment`, `autograde` of two students, `export`
   to CSV). Student "reference" hands in the source notebook (the solution
   between solution markers), student "untouched" the released notebook as
   it is. Wanted: full marks and zero.
2. Gradescope: the archive from `autograder export gradescope`, unpacked into
   a folder laid out as /autograder, grades the reference .py, the stub .py
   and the reference notebook; wanted: the same scores, check by check, as
   `autograder grade` gives for the same files.
3. Notebook against script: `autograder grade` of the reference notebook
   and of the reference .py; wanted: the same result for every check.

Prints a table and writes benchmarks/results/export_pipelines.json. Usage:

    AUTOGRADER_DATA=../shared/datasets python benchmarks/export_pipelines.py [ID ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))         # trial_runs: the exports run as their platforms would

from autograder.commands import grade_submissions  # noqa: E402
from autograder.checks import load_config  # noqa: E402
from autograder.integrations.gradescope import export_gradescope, reads_mnist  # noqa: E402
from autograder.integrations.nbgrader import BEGIN, export_nbgrader  # noqa: E402
from trial_runs import nbgrader_round_trip, run_gradescope_archive  # noqa: E402

CONFIG = ROOT / "grading.toml"


def nbgrader_pipeline(assignment_id: str, folder: Path) -> dict:
    course = folder / "course"
    started = time.perf_counter()
    export_nbgrader(out_dir=course, config_path=CONFIG, assignment_ids=[assignment_id])
    rows, autograde = nbgrader_round_trip(course, [assignment_id],
                                          {"reference": "source", "untouched": "release"})
    if autograde.returncode != 0:
        raise RuntimeError(f"nbgrader autograde failed:\n{autograde.stdout[-2000:]}\n{autograde.stderr[-4000:]}")
    release = course / "release" / assignment_id / f"{assignment_id}.ipynb"
    if BEGIN in release.read_text(encoding="utf-8"):
        raise RuntimeError(f"{release} still holds solution markers")
    reference, untouched = rows[assignment_id, "reference"], rows[assignment_id, "untouched"]
    return {"reference": float(reference["score"]), "untouched": float(untouched["score"]),
            "max_score": float(reference["max_score"]), "seconds": time.perf_counter() - started,
            "source_notebook": str(course / "source" / assignment_id / f"{assignment_id}.ipynb")}


def gradescope_and_notebook(assignment_id: str, folder: Path, notebook: Path, data_dir: str | None) -> dict:
    assignment = load_config(CONFIG).assignment(assignment_id)
    files = {"reference": ROOT / "solutions" / assignment_id / assignment.file,
             "stub": ROOT / "assignments" / assignment_id / assignment.file,
             "notebook": notebook}
    started = time.perf_counter()
    graded = grade_submissions(assignment_id=assignment_id, out_dir=folder / "grade",
                               submissions=list(files.values()), config_path=CONFIG, data_dir=data_dir)
    grade_seconds = time.perf_counter() - started
    local = dict(zip(files, graded))
    started = time.perf_counter()
    archive = export_gradescope(assignment_id=assignment_id, out_zip=folder / "autograder.zip", config_path=CONFIG,
                                data_dir=data_dir if reads_mnist(assignment) else None)
    out = {"grade_seconds": grade_seconds, "max_score": assignment.max_score}
    for role, path in files.items():
        results = run_gradescope_archive(archive, folder / f"gradescope-{role}", path)
        same = ({t["name"]: t["status"] for t in results["tests"]} ==
                {c.name: c.status for c in local[role].checks})
        out[role] = {"grade": local[role].score, "gradescope": results["score"], "same_checks": same}
    out["gradescope_seconds"] = time.perf_counter() - started
    out["notebook_matches_py"] = ([(c.name, c.passed) for c in local["notebook"].checks] ==
                                  [(c.name, c.passed) for c in local["reference"].checks])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "export_pipelines.json"))
    args = parser.parse_args()
    data_dir = os.environ.get("AUTOGRADER_DATA")
    ids = args.assignments or list(load_config(CONFIG).assignments)
    report, ok = {}, True
    for assignment_id in ids:
        with tempfile.TemporaryDirectory(prefix=f"pipeline-{assignment_id}-") as tmp:
            folder = Path(tmp)
            try:
                nb = nbgrader_pipeline(assignment_id, folder)
                gs = gradescope_and_notebook(assignment_id, folder, Path(nb.pop("source_notebook")), data_dir)
            except Exception as exc:   # one assignment's failure is reported; the others still run
                print(f"{assignment_id}: FAILED\n{type(exc).__name__}: {exc}", flush=True)
                report[assignment_id] = {"error": str(exc)}
                ok = False
                continue
        good = (nb["reference"] == nb["max_score"] and nb["untouched"] == 0
                and gs["reference"]["grade"] == gs["reference"]["gradescope"] == gs["max_score"]
                and gs["stub"]["grade"] == gs["stub"]["gradescope"] == 0
                and gs["notebook"]["gradescope"] == gs["max_score"]
                and all(gs[r]["same_checks"] for r in ("reference", "stub", "notebook"))
                and gs["notebook_matches_py"])
        ok &= good
        report[assignment_id] = {"nbgrader": nb, "gradescope": gs, "ok": good}
        print(f"{'ok ' if good else 'BAD'} {assignment_id:18s} nbgrader reference {nb['reference']:g}/"
              f"{nb['max_score']:g}, untouched {nb['untouched']:g} ({nb['seconds']:.0f} s) | gradescope "
              f"reference {gs['reference']['gradescope']:g}, stub {gs['stub']['gradescope']:g}, notebook "
              f"{gs['notebook']['gradescope']:g} (grade: {gs['reference']['grade']:g}, {gs['stub']['grade']:g}, "
              f"{gs['notebook']['grade']:g}; {gs['gradescope_seconds']:.0f} s) | notebook = .py: "
              f"{gs['notebook_matches_py']}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
