"""Gradescope: the archive, unpacked into a folder laid out as /autograder, grades like `autograder grade`.

Every assignment is covered: lenet5 trains on MNIST (packed into the archive),
the others grade without data; for those, the notebook exported for nbgrader
is graded beside the .py, check by check.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from autograder.commands import archived_data, grade_submissions
from autograder.config import load_config
from autograder.errors import AutograderError
from autograder.integrations.gradescope import export_gradescope
from autograder.integrations.nbgrader import export_nbgrader
from autograder.runner import needs_data

from trial_runs import run_gradescope_archive

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "grading.toml"
ASSIGNMENT = "lenet5"
ASSIGNMENTS = load_config(CONFIG).assignments
NO_DATA = [i for i, a in ASSIGNMENTS.items() if not needs_data(a)]


def test_archive_layout(tmp_path):
    archive = export_gradescope(assignment_id=ASSIGNMENT, out_zip=tmp_path / "ag.zip", config_path=CONFIG)
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in z.infolist()}
        run = z.read("run_autograder").decode()
    assert {"setup.sh", "run_autograder", "kit/grading.toml", "kit/pyproject.toml",
            "kit/autograder/__init__.py", "kit/autograder/worker/main.py", "kit/autograder/batch.py",
            "kit/autograder/integrations/gradescope.py"} <= names
    assert not any(n.startswith("kit/autograder/autograder/") for n in names)
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert f"run {ASSIGNMENT}" in run and "AUTOGRADER_ROOT" in run
    assert not any(n.startswith("data/") for n in names)     # no data asked for: setup.sh downloads it
    with pytest.raises(AutograderError, match="MNIST/raw"):
        export_gradescope(assignment_id=ASSIGNMENT, out_zip=tmp_path / "x.zip", config_path=CONFIG,
                          data_dir=tmp_path)


def test_archive_of_an_assignment_without_data_holds_and_downloads_none(tmp_path):
    assignment_id = NO_DATA[0]
    archive = export_gradescope(assignment_id=assignment_id, out_zip=tmp_path / "ag.zip", config_path=CONFIG,
                                data_dir=tmp_path)        # no MNIST there, and none needed
    with zipfile.ZipFile(archive) as z:
        setup = z.read("setup.sh").decode()
    assert "MNIST" not in setup and "pip install" in setup
    assert archived_data(archive) == []
    lenet = export_gradescope(assignment_id=ASSIGNMENT, out_zip=tmp_path / "lenet.zip", config_path=CONFIG)
    with zipfile.ZipFile(lenet) as z:
        assert "datasets.MNIST" in z.read("setup.sh").decode()


@pytest.mark.slow
def test_archive_scores_match_autograder_grade(tmp_path):
    data = os.environ.get("AUTOGRADER_DATA")
    if not data:
        pytest.skip("AUTOGRADER_DATA is not set: the training check needs MNIST")
    archive = export_gradescope(assignment_id=ASSIGNMENT, out_zip=tmp_path / "ag.zip", config_path=CONFIG,
                                data_dir=data)     # MNIST travels inside the archive
    with zipfile.ZipFile(archive) as z:
        assert any(n.startswith("data/MNIST/raw/") for n in z.namelist())
    files = {"reference": ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.py",
             "stub": ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.py"}
    reference, stub = grade_submissions(assignment_id=ASSIGNMENT, out_dir=tmp_path / "grade",
                                        submissions=[files["reference"], files["stub"]], config_path=CONFIG)
    for role, path in files.items():
        results = run_gradescope_archive(archive, tmp_path / f"autograder-{role}", path)
        tests = {t["name"]: t["status"] for t in results["tests"]}
        if role == "reference":
            assert results["score"] == reference.score == reference.max_score, results["tests"]
            assert tests == {c.name: c.status for c in reference.checks}
        else:
            assert results["score"] == stub.score == 0 and set(tests.values()) == {"failed"}
            assert tests == {c.name: c.status for c in stub.checks}


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", NO_DATA)
def test_archive_without_data_scores_match_autograder_grade(tmp_path, assignment_id):
    """Reference and stub through the archive score as `autograder grade` does; the notebook as the .py."""
    assignment = ASSIGNMENTS[assignment_id]
    archive = export_gradescope(assignment_id=assignment_id, out_zip=tmp_path / "ag.zip", config_path=CONFIG)
    [notebook] = export_nbgrader(out_dir=tmp_path / "course", config_path=CONFIG, assignment_ids=[assignment_id])
    files = {"reference": ROOT / "solutions" / assignment_id / assignment.file,
             "stub": ROOT / "assignments" / assignment_id / assignment.file}
    reference, stub, from_notebook = grade_submissions(
        assignment_id=assignment_id, out_dir=tmp_path / "grade", config_path=CONFIG,
        submissions=[files["reference"], files["stub"], notebook])
    assert reference.score == reference.max_score and stub.score == 0
    assert [(c.name, c.passed) for c in from_notebook.checks] == [(c.name, c.passed) for c in reference.checks]
    for role, local in (("reference", reference), ("stub", stub)):
        results = run_gradescope_archive(archive, tmp_path / f"autograder-{role}", files[role])
        assert results["score"] == local.score, results["tests"]
        assert {t["name"]: t["status"] for t in results["tests"]} == {c.name: c.status for c in local.checks}
        # Gradescope renders the feedback page's text as Markdown, each check's message as plain text.
        assert results["output_format"] == "md" and "### Checks" in results["output"]
        assert {t["output_format"] for t in results["tests"]} == {"text"}
