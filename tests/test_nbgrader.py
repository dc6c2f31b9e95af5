"""nbgrader: the exported course runs through nbgrader's own commands unchanged.

generate_assignment, then the reference notebook, the untouched release and the
release with a solution cell that replaces the kit's test function are
submitted, autograded (the kit grades each notebook outside any kernel and sets
the test cells' scores) and exported to CSV: full marks for the reference, zero
for the release, patched or not. Every assignment is exported and released; the
pipeline runs for each, all in one course.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from autograder.checks import load_config
from autograder.errors import AutograderError
from autograder.integrations import nbgrader_autograde
from autograder.integrations.nbgrader import BEGIN, END, KERNEL_SKIP_VARIABLE, export_nbgrader, mark_solutions
from autograder.integrations.nbgrader_autograde import GradeWithKit, SetKitScores, autograde_preprocessors
from autograder.integrations.solution_markers import MarkingError, released
from autograder.grading.results import CheckResult, SubmissionResult

from trial_runs import nbgrader_round_trip

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "grading.toml"
ASSIGNMENTS = load_config(CONFIG).assignments
# A trained-weights assignment (mnist_challenge) is graded with the model.pt its student saves beside the
# notebook: it has a round trip of its own; every other one goes through the shared course below.
ALL = [a for a, spec in ASSIGNMENTS.items() if not any(c.kind == "weights_accuracy" for c in spec.checks)]
# The course round trip below takes one assignment of each family (a trained CNN, a model with by-hand
# functions, by-hand layers, training functions, a second class beside the model): the notebook each exports
# is built the same way, and test_every_assignment_exports_a_notebook_with_its_checks reads every one.
ROUND_TRIP = ["task1_cnn", "conv_arithmetic", "dropout_batchnorm", "training_loop", "cifar10_cnn"]


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


@pytest.mark.parametrize("assignment_id", list(ASSIGNMENTS))
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
    assert sorted(p.stem for p in written) == sorted(ASSIGNMENTS)
    settings = (tmp_path / "nbgrader_config.py").read_text()
    assert str(CONFIG.resolve()) in settings and "AUTOGRADER_CONFIG" in settings
    assert "c.Autograde.autograde_preprocessors = autograde_preprocessors(run_kernel=False)" in settings


def test_exported_settings_install_the_kit_in_autograde_and_stop_without_it(tmp_path, monkeypatch):
    """nbgrader_config.py, run as nbgrader runs it, scores with the kit; where the kit cannot be
    imported it stops nbgrader, which would otherwise go on with its own (kernel) steps."""
    from nbgrader.preprocessors import Execute, SaveAutoGrades
    from traitlets.config import Config

    export_nbgrader(out_dir=tmp_path, config_path=CONFIG, assignment_ids=["tensors_autograd"])
    settings = (tmp_path / "nbgrader_config.py").read_text()
    monkeypatch.setenv("AUTOGRADER_CONFIG", str(CONFIG))      # the settings set it where it is unset
    c = Config()
    exec(compile(settings, "nbgrader_config.py", "exec"), {"get_config": lambda: c})
    steps = c.Autograde.autograde_preprocessors
    assert steps[0] is GradeWithKit and Execute not in steps
    assert steps[steps.index(SaveAutoGrades) - 1] is SetKitScores
    broken = settings.replace("integrations.nbgrader_autograde", "integrations.no_such_module")
    with pytest.raises(SystemExit, match="autograder kit cannot be imported"):
        exec(compile(broken, "nbgrader_config.py", "exec"), {"get_config": Config})


def test_autograde_steps_grade_before_any_kernel_and_score_last():
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute, SaveAutoGrades

    nbgrader_steps = Autograde.class_traits()["autograde_preprocessors"].default()
    with_kernel = autograde_preprocessors(run_kernel=True)
    assert with_kernel[:2] == [GradeWithKit, Execute]
    assert [s for s in with_kernel if s not in (GradeWithKit, SetKitScores)] == nbgrader_steps
    assert with_kernel.index(SetKitScores) == with_kernel.index(SaveAutoGrades) - 1
    assert autograde_preprocessors() == [s for s in with_kernel if s is not Execute]


def _test_cells(notebook) -> list:
    return [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]


def test_kit_scores_replace_the_kernels_and_refuse_cells_it_did_not_write(tmp_path):
    """Test cells a kernel left passing score what the kit's verdict says; no verdict, or a grade cell
    the kit did not write, stops the notebook's autograde instead of scoring it."""
    import nbformat
    from nbgrader.utils import determine_grade

    [path] = export_nbgrader(out_dir=tmp_path, config_path=CONFIG, assignment_ids=["conv_arithmetic"])
    notebook = nbformat.read(path, as_version=4)
    tests = _test_cells(notebook)
    for cell in tests:          # what a patched kernel leaves: no error, so nbgrader's full marks
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="passed\n")]
    assert all(determine_grade(c)[0] == c.metadata.nbgrader.points for c in tests)
    names = [c.metadata.nbgrader.grade_id.removeprefix("test_") for c in tests]
    verdict = SubmissionResult("conv_arithmetic", "x", "x.ipynb", [
        CheckResult(name, "", c.metadata.nbgrader.points, passed=(i == 0), message=f"message {i}")
        for i, (name, c) in enumerate(zip(names[:-1], tests))])           # grading.toml lost the last check
    resources = {nbgrader_autograde.VERDICT_KEY: verdict}
    with pytest.raises(AutograderError, match="GradeWithKit must come first"):
        SetKitScores().preprocess(notebook, {})
    SetKitScores().preprocess(notebook, resources)
    assert [determine_grade(c)[0] for c in tests] == [tests[0].metadata.nbgrader.points] + [0] * (len(tests) - 1)
    assert "Scored by the autograder kit" in tests[0].outputs[0].text and "message 0" in tests[0].outputs[1].text
    assert tests[1].outputs[0].evalue == f"{names[1]} failed: message 1"
    assert "no check" in tests[-1].outputs[0].evalue
    tests[1].source = "print('my own test')"
    with pytest.raises(AutograderError, match="not one of the kit's test cells"):
        SetKitScores().preprocess(notebook, resources)


PATCH = ("import importlib\n"
         "m = importlib.import_module('autograder.integ' + 'rations.nbgrader')\n"
         "m.assert_check_passed = lambda *args, **kwargs: None\n")


def patched_release(source: Path, target: Path) -> None:
    """The release of a source notebook, handed in untouched but for PATCH at the end of its solution
    cell: the kit's test function replaced in the student's own kernel."""
    notebook = json.loads(source.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            stub = "\n".join(released("".join(cell["source"]).split("\n")))
            cell["source"] = f"{stub}\n\n{PATCH}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(notebook), encoding="utf-8")


@pytest.mark.slow
def test_a_kernel_that_replaces_the_test_function_still_scores_zero(tmp_path, monkeypatch):
    """With nbgrader's Execute step kept (run_kernel=True), the patched release passes every test cell in
    its kernel, which nbgrader alone would score full marks; the kit's scores replace them: zero."""
    import nbformat
    from nbgrader.preprocessors import Execute
    from nbgrader.utils import determine_grade

    monkeypatch.setenv("AUTOGRADER_CONFIG", str(CONFIG))
    monkeypatch.delenv(KERNEL_SKIP_VARIABLE, raising=False)     # GradeWithKit sets it: put it back afterwards
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    [source] = export_nbgrader(out_dir=tmp_path, config_path=CONFIG, assignment_ids=["tensors_autograd"])
    handed_in = tmp_path / "patched.ipynb"
    patched_release(source, handed_in)
    notebook = nbformat.read(handed_in, as_version=4)
    resources = {"nbgrader": {"assignment": "tensors_autograd", "notebook": "tensors_autograd",
                              "student": "patched"}, "metadata": {"path": str(tmp_path)}}
    try:
        notebook, resources = GradeWithKit().preprocess(notebook, resources)
    finally:
        nbgrader_autograde.close_setups()
    assert resources[nbgrader_autograde.VERDICT_KEY].score == 0
    notebook, resources = Execute(timeout=600).preprocess(notebook, resources)
    tests = _test_cells(notebook)
    assert tests and all(determine_grade(c)[0] == c.metadata.nbgrader.points for c in tests), \
        [c.outputs for c in tests]               # the patch works in the kernel: nbgrader alone gives full marks
    notebook, resources = SetKitScores().preprocess(notebook, resources)
    assert [determine_grade(c)[0] for c in tests] == [0] * len(tests)


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
    from autograder.intake.notebook import is_grading_cell

    for path in export_nbgrader(out_dir=tmp_path, config_path=CONFIG):
        notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        nbformat.validate(notebook)
        assert (notebook.nbformat, notebook.nbformat_minor) == (4, 5)
        tests = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert tests and all(f"from {nbgrader.__name__} import assert_check_passed" in c.source for c in tests)
        assert all(is_grading_cell(c.source) for c in tests)
        assert not any(is_grading_cell(c.source) for c in notebook.cells if c not in tests)


# student -> which notebook they hand in ("patched": the release with PATCH, made beside source/)
STUDENTS = {"reference": "source", "untouched": "release", "patched": "patched"}


def test_the_round_trip_takes_assignments_of_the_shared_course():
    assert set(ROUND_TRIP) <= set(ALL)


@pytest.fixture(scope="module")
def course(tmp_path_factory, fast_config):
    """One course for every assignment: released, handed in, autograded and exported at once (one run
    of each nbgrader command; the assignments that train read MNIST, or the suite's own digits, with
    the suite's shorter recipe: same checks and points)."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    export_nbgrader(out_dir=course, config_path=fast_config, assignment_ids=ROUND_TRIP)
    for assignment_id in ROUND_TRIP:
        name = f"{assignment_id}/{assignment_id}.ipynb"
        patched_release(course / "source" / name, course / "patched" / name)
    rows, autograde = nbgrader_round_trip(course, ROUND_TRIP, STUDENTS, config=fast_config)
    return course, rows, autograde


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", ROUND_TRIP)
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
    # the patched notebook is the release itself plus PATCH, and replacing the test function earns nothing
    patched = course / "submitted" / "patched" / assignment_id / f"{assignment_id}.ipynb"
    assert _solution_cell(patched) == f"{_solution_cell(release)}\n\n{PATCH}"
    assert float(rows[assignment_id, "patched"]["score"]) == 0.0, (rows[assignment_id, "patched"], log)
    graded = json.loads((course / "autograded" / "patched" / assignment_id / f"{assignment_id}.ipynb").read_text())
    tests = [c for c in graded["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    assert "Scored by the autograder kit" in "".join(tests[0]["outputs"][0]["text"])
    assert all(c["outputs"][-1]["output_type"] == "error" for c in tests)


@pytest.mark.slow
def test_a_trained_weights_notebook_is_graded_with_the_weights_handed_in_beside_it(tmp_path):
    """nbgrader hands in the student's folder: the model.pt saved beside the notebook reaches the
    grader's executor (scored: random weights, so a low accuracy), and a folder without one is told so."""
    import shutil

    import torch

    from trial_runs import run_nbgrader

    course = tmp_path / "course"
    [source] = export_nbgrader(out_dir=course, config_path=CONFIG, assignment_ids=["mnist_challenge"])
    assert "Save the trained weights as `model.pt` in the folder of this notebook" in source.read_text()
    defined: dict = {}
    exec((ROOT / "solutions" / "mnist_challenge" / "model.py").read_text(encoding="utf-8"), defined)
    torch.manual_seed(0)
    run_nbgrader(["generate_assignment", "mnist_challenge", "--force"], course, config=CONFIG)
    for student in ("with_weights", "without"):
        folder = course / "submitted" / student / "mnist_challenge"
        folder.mkdir(parents=True)
        shutil.copy(source, folder)
        if student == "with_weights":
            torch.save(defined["Net"]().state_dict(), folder / "model.pt")
    done = run_nbgrader(["autograde", "mnist_challenge"], course, config=CONFIG, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    said = {}
    for student in ("with_weights", "without"):
        graded = json.loads((course / "autograded" / student / "mnist_challenge" / "mnist_challenge.ipynb").read_text())
        said[student] = " ".join(str(output.get("evalue", "")) for cell in graded["cells"]
                                 for output in cell.get("outputs", []))
    assert "no model.pt was handed in" not in said["with_weights"], said["with_weights"]
    assert "test accuracy" in said["with_weights"] and "parameters" in said["with_weights"]
    assert "no model.pt was handed in" in said["without"], said["without"]
