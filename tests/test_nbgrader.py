"""nbgrader: the exported course runs through nbgrader's own commands unchanged.

generate_assignment, then the reference notebook and the untouched release are
submitted, autograded (the test cells call the kit's checks) and exported to
CSV: full marks for the reference, zero for the release.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.config import load_config
from autograder.export_nbgrader import BEGIN, END, export_nbgrader, mark_solutions

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "grading.toml"
NBGRADER = [sys.executable, "-m", "nbgrader"]


def _nbgrader(args: list[str], course: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # The kernel imports the kit: from the checkout, installed or not.
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["AUTOGRADER_CONFIG"] = str(CONFIG)
    done = subprocess.run(NBGRADER + args, cwd=course, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done


def test_solution_markers_replace_only_the_todo_parts():
    stub = ["class A:", "    \"\"\"Stub text.\"\"\"", "    def f(self):", "        # TODO: write f",
            "        raise NotImplementedError", "", "def g():", "    return 1"]
    solution = ["class A:", "    \"\"\"Solution text.\"\"\"", "    def f(self):", "        return 42",
                "", "def g():", "    return 1"]
    marked = mark_solutions(stub, solution)
    assert marked == ["class A:", "    \"\"\"Stub text.\"\"\"", "    def f(self):", "        " + BEGIN,
                      "        return 42", "        " + END, "", "def g():", "    return 1"]


def test_source_notebooks_carry_points_and_solution_cells(tmp_path):
    written = export_nbgrader(out_dir=tmp_path, config_path=CONFIG, assignment_ids=["lenet5", "task1_cnn"])
    assert (tmp_path / "nbgrader_config.py").is_file()
    config = load_config(CONFIG)
    for path in written:
        assignment = config.assignment(path.stem)
        cells = json.loads(path.read_text())["cells"]
        meta = [c["metadata"].get("nbgrader", {}) for c in cells]
        tests = {m["grade_id"]: m["points"] for m in meta if m.get("grade")}
        assert tests == {f"test_{c.name}": c.points for c in assignment.checks}
        solutions = [c for c, m in zip(cells, meta) if m.get("solution")]
        assert len(solutions) == 1 and BEGIN in "".join(solutions[0]["source"])
        code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert "__main__" not in code       # script code would start training in the kernel


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", ["lenet5", "task1_cnn"])
def test_nbgrader_pipeline_full_marks_and_zero(tmp_path, assignment_id):
    if not os.environ.get("AUTOGRADER_DATA"):
        pytest.skip("AUTOGRADER_DATA is not set: the training check needs MNIST")
    course = tmp_path / "course"
    export_nbgrader(out_dir=course, config_path=CONFIG, assignment_ids=[assignment_id])
    _nbgrader(["generate_assignment", assignment_id, "--force"], course)
    release = course / "release" / assignment_id / f"{assignment_id}.ipynb"
    assert BEGIN not in release.read_text() and "YOUR CODE HERE" in release.read_text()

    for student, notebook in (("reference", course / "source"), ("untouched", course / "release")):
        folder = course / "submitted" / student / assignment_id
        folder.mkdir(parents=True)
        shutil.copy(notebook / assignment_id / f"{assignment_id}.ipynb", folder)
    _nbgrader(["autograde", assignment_id], course)
    _nbgrader(["export"], course)

    with open(course / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    max_score = load_config(CONFIG).assignment(assignment_id).max_score
    assert float(rows["reference"]["max_score"]) == max_score
    assert float(rows["reference"]["score"]) == max_score, rows
    assert float(rows["untouched"]["score"]) == 0.0, rows
