"""Run the exports here as their platforms would, to see them grade before students hand in.

- ``run_gradescope_archive``: unpack an archive into a folder laid out like
  Gradescope's ``/autograder``, hand in one file, run ``run_autograder`` and
  return its ``results.json``;
- ``run_nbgrader``: one of nbgrader's own commands in a course folder, with the
  kit importable by the kernels;
- ``nbgrader_round_trip``: release, hand in notebooks, autograde and export,
  returning the rows of nbgrader's ``grades.csv``.

Used by the tests and by ``benchmarks/export_pipelines.py``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from autograder.errors import AutograderError

KIT_ROOT = Path(__file__).resolve().parent.parent       # holds the autograder package
TIMEOUT_SECONDS = 1800


def _environment(**extra: str) -> dict:
    """This process's environment without the kit's own paths, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AUTOGRADER_CONFIG")}
    env.update(extra)
    return env


def _tail(done: subprocess.CompletedProcess) -> str:
    return f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"


def run_gradescope_archive(archive: Path, root: Path, submission: Path) -> dict:
    """Grade ``submission`` with the archive unpacked into ``root``/source; returns results.json."""
    if root.exists():
        shutil.rmtree(root)
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    with zipfile.ZipFile(archive) as z:
        z.extractall(root / "source")
    os.chmod(root / "source" / "run_autograder", 0o755)
    shutil.copy(submission, root / "submission" / submission.name)
    done = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, capture_output=True, text=True,
                          env=_environment(AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable),
                          timeout=TIMEOUT_SECONDS)
    if done.returncode != 0:
        raise AutograderError(f"run_autograder failed (status {done.returncode}):\n{_tail(done)}")
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def run_nbgrader(args: list[str], course: Path, *, config: Path | None = None,
                 check: bool = True) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` in ``course``; the kernels import the kit from this checkout and grade
    with ``config`` when given. With ``check``, a failing command raises with its output."""
    extra = {"PYTHONPATH": str(KIT_ROOT)}
    if config is not None:
        extra["AUTOGRADER_CONFIG"] = str(config)
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                          env=_environment(**extra), timeout=TIMEOUT_SECONDS)
    if check and done.returncode != 0:
        raise AutograderError(f"nbgrader {' '.join(args)} failed:\n{_tail(done)}")
    return done


def nbgrader_round_trip(course: Path, assignment_ids: list[str], students: dict[str, str], *,
                        config: Path | None = None) -> tuple[dict[tuple[str, str], dict], subprocess.CompletedProcess]:
    """In an exported course: release the assignments, hand in for each student the notebook
    of ``students[name]`` ("source": the reference, "release": what students get), autograde
    and export. Returns grades.csv's rows by (assignment, student) and autograde's run.

    Autograde runs once for all of them and may fail for some notebooks without hiding the others.
    """
    pattern = assignment_ids[0] if len(assignment_ids) == 1 else "*"     # nbgrader takes a glob of ids
    run_nbgrader(["generate_assignment", pattern, "--force"], course, config=config)
    for assignment_id in assignment_ids:
        for student, folder in students.items():
            target = course / "submitted" / student / assignment_id
            target.mkdir(parents=True)
            shutil.copy(course / folder / assignment_id / f"{assignment_id}.ipynb", target)
    autograde = run_nbgrader(["autograde", pattern], course, config=config, check=False)
    run_nbgrader(["export"], course, config=config)
    with open(course / "grades.csv", newline="") as f:
        rows = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(f)}
    return rows, autograde
