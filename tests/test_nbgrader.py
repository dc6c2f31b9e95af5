"""nbgrader: the exported course runs through nbgrader's own commands unchanged.

generate_assignment, then the reference notebook and the untouched release are
submitted, autograded (the test cells call the kit's checks) and exported to
CSV: full marks for the reference, zero for the release. Every assignment is
exported and released; the pipeline runs for each, all in one course.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from autograder.config import load_config
from autograder.integrations.nbgrader import BEGIN, END, export_nbgrader, mark_solutions
from autograder.integrations.solution_markers import MarkingError, released

from trial_runs import nbgrader_round_trip

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "grading.toml"
ASSIGNMENTS = load_config(CONFIG).assignments
ALL = list(ASSIGNMENTS)


def _solution_cell(notebook: Path) -> str:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return next("".join(c["source"]) for c in cells if c["metadata"].get("nbgrader", {}).get("solution"))


def _names(code: str) -> set[str]:
    """Qualified names of the functions and classes that code defines."""
    names = set()

    def visit(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(prefix + node.name)
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")
    visit(ast.parse(code).body, "")
    return names


def test_solution_markers_replace_only_the_todo_parts():
    stub = ["class A:", "    \"\"\"Stub text.\"\"\"", "    def f(self):", "        # TODO: write f",
            "        raise NotImplementedError", "", "def g():", "    return 1"]
    solution = ["class A:", "    \"\"\"Solution text.\"\"\"", "    def f(self):", "        return 42",
                "", "def g():", "    return 1"]
    marked = mark_solutions(stub, solution)
    assert marked == ["class A:", "    \"\"\"Stub text.\"\"\"", "    def f(self):", "        " + BEGIN,
                      "        return 42", "        " + END, "", "def g():", "    return 1"]


def test_solution_markers_keep_the_stub_text_and_hide_helpers():
    stub = ["def size(n, k):", "    \"\"\"Output size: the task, as the stub states it.\"\"\"",
            "    raise NotImplementedError", "", "", "def given(x):", "    return x", "", "",
            "class Net(Base):", "    def __init__(self):", "        super().__init__()",
            "        # TODO: the layers"]
    solution = ["def size(n, k):", "    \"\"\"Solution docstring.\"\"\"", "    return _helper(n) - k + 1", "", "",
                "def _helper(n):", "    return n", "", "", "def given(x):", "    return x", "", "",
                "class Net(Other):", "    def __init__(self):", "        super().__init__()",
                "        self.fc = 1", "", "    def features(self, x):", "        return x"]
    marked = mark_solutions(stub, solution)
    assert marked[:2] == stub[:2]                               # the stub's docstring stays
    assert "class Net(Other):" in marked                         # the solution's base class is needed
    assert marked[marked.index("        super().__init__()") + 1] == "        " + BEGIN
    namespace: dict = {"Other": object}
    exec("\n".join(marked), namespace)
    assert namespace["size"](5, 2) == 4 and namespace["Net"]().features(3) == 3
    release = "\n".join(released(marked))
    assert "_helper" not in release and "features" not in release and "self.fc" not in release
    assert _names(release) == {"size", "given", "Net", "Net.__init__"}


def test_a_helper_with_no_todo_part_to_hold_it_is_an_error():
    stub = ["def given(x):", "    return x"]
    solution = ["def _helper():", "    return 1", "", "", "def given(x):", "    return x"]
    with pytest.raises(MarkingError, match="no TODO"):
        mark_solutions(stub, solution)


@pytest.mark.parametrize("assignment_id", ALL)
def test_every_assignment_exports_a_notebook_with_its_checks(tmp_path, assignment_id):
    """Reference code in the notebook defines all the solution does; the release keeps only the stub's names."""
    [path] = export_nbgrader(out_dir=tmp_path, config_path=CONFIG, assignment_ids=[assignment_id])
    assignment = ASSIGNMENTS[assignment_id]
    cells = json.loads(path.read_text())["cells"]
    tests = {m["grade_id"]: m["points"] for m in (c["metadata"].get("nbgrader", {}) for c in cells) if m.get("grade")}
    assert tests == {f"test_{c.name}": c.points for c in assignment.checks}
    code = _solution_cell(path)
    solution = (ROOT / "solutions" / assignment_id / assignment.file).read_text(encoding="utf-8")
    stub = (ROOT / "assignments" / assignment_id / assignment.file).read_text(encoding="utf-8")
    assert _names(code) == _names(solution) | _names(stub)
    assert _names("\n".join(released(code.split("\n")))) == _names(stub)


def test_default_export_is_every_assignment(tmp_path):
    written = export_nbgrader(out_dir=tmp_path, config_path=CONFIG)
    assert sorted(p.stem for p in written) == sorted(ALL)
    settings = (tmp_path / "nbgrader_config.py").read_text()
    assert str(CONFIG.resolve()) in settings and "AUTOGRADER_CONFIG" in settings


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


def test_exported_notebooks_are_valid_and_their_test_cells_import_the_kernel_module(tmp_path):
    """nbformat reads each notebook back without a schema error; every test cell imports the module
    whose name marks grading cells, so `autograder grade` leaves those cells out."""
    import nbformat

    from autograder.integrations import nbgrader
    from autograder.notebook import is_grading_cell

    for path in export_nbgrader(out_dir=tmp_path, config_path=CONFIG):
        notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        nbformat.validate(notebook)
        assert (notebook.nbformat, notebook.nbformat_minor) == (4, 5)
        tests = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert tests and all(f"from {nbgrader.__name__} import assert_check_passed" in c.source for c in tests)
        assert all(is_grading_cell(c.source) for c in tests)
        assert not any(is_grading_cell(c.source) for c in notebook.cells if c not in tests)


STUDENTS = {"reference": "source", "untouched": "release"}     # student -> which notebook they hand in


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """One course for every assignment: released, handed in, autograded and exported at once (one run
    of each nbgrader command; the assignments that train read MNIST, or the suite's own digits)."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    export_nbgrader(out_dir=course, config_path=CONFIG, assignment_ids=ALL)
    rows, autograde = nbgrader_round_trip(course, ALL, STUDENTS, config=CONFIG)
    return course, rows, autograde


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", ALL)
def test_nbgrader_pipeline_full_marks_and_zero(course, assignment_id):
    course, rows, autograde = course
    log = f"nbgrader autograde:\n{autograde.stdout[-2000:]}\n{autograde.stderr[-4000:]}"
    assert autograde.returncode == 0, log
    release = course / "release" / assignment_id / f"{assignment_id}.ipynb"
    assert BEGIN not in release.read_text() and "YOUR CODE HERE" in release.read_text()
    assert (assignment_id, "reference") in rows, log
    max_score = ASSIGNMENTS[assignment_id].max_score
    reference, untouched = rows[assignment_id, "reference"], rows[assignment_id, "untouched"]
    assert float(reference["max_score"]) == max_score
    assert float(reference["score"]) == max_score, (reference, log)
    assert float(untouched["score"]) == 0.0, (untouched, log)
