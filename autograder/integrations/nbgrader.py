"""Write an nbgrader course folder whose notebooks are graded by the kit's checks.

For each assignment with both a stub and a reference solution, the source
notebook ``source/<id>/<id>.ipynb`` is generated (never hand-edited) from:

- ``assignments/<id>/README.md``: the instructions (a markdown cell);
- the stub and the solution: the imports (a read-only cell), then the
  definitions: the stub's code, where each function body with a TODO or
  ``NotImplementedError`` holds the solution's lines between ``### BEGIN
  SOLUTION`` / ``### END SOLUTION`` (helpers only the solution has go inside
  those regions too; see ``solution_markers``), so ``nbgrader
  generate_assignment`` turns them back into the stub;
- ``grading.toml``: one read-only test cell per check, worth its points, that
  asserts the check passed. The first test cell grades the notebook's own code
  cells with the kit (same sandbox and checks as ``autograder grade``); the
  others reuse that result. These cells are for students running their
  notebook: they run in the student's kernel, after the student's code, so they
  decide no score.

``nbgrader_config.py`` makes ``nbgrader autograde`` score with the kit instead
(see ``nbgrader_autograde``): the nbgrader process grades each submitted
notebook in the kit's sandbox and writes each check's verdict into its test
cell before nbgrader saves the scores; no kernel runs the students' code.

Script code (``if __name__ == "__main__":`` blocks, calls at module level) is
left out of the notebook: in a notebook ``__name__`` is ``"__main__"`` and it
would start training.
"""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path

from ..settings.model import Assignment, Config

from ..checks import load_config
from ..errors import AutograderError
from ..intake.notebook import GRADING_CELL_MARK as KERNEL_MARK, is_grading_cell
from .solution_markers import BEGIN, END, MarkingError, mark_solutions
from ..wire.definitions import is_definition

__all__ = ["BEGIN", "END", "assert_check_passed", "export_nbgrader", "mark_solutions", "source_notebook"]

# Execution time nbgrader allows one cell: the first test cell runs every check, training included.
CELL_TIMEOUT_SECONDS = 1800
# Set by the kit's autograde step in the nbgrader process; a kernel nbgrader starts inherits it, and its test
# cells then leave the scoring to the kit instead of grading the notebook a second time.
KERNEL_SKIP_VARIABLE = "AUTOGRADER_NBGRADER_SCORES"


# ------------------------------------------------------------------ notebook cells

def _nbgrader_meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
                   points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


# nbformat is imported where notebooks are written, not at the top: it takes seconds to import
# (jsonschema), and the notebook's kernel imports this module for the test cells, which need none of it.

def _code(text: str, metadata: dict | None = None) -> dict:
    from nbformat import v4

    return v4.new_code_cell(text.removesuffix("\n"), metadata=metadata or {})


def _markdown(text: str, metadata: dict | None = None) -> dict:
    from nbformat import v4

    return v4.new_markdown_cell(text.removesuffix("\n"), metadata=metadata or {})


def _notebook(cells: list[dict]) -> dict:
    from nbformat import v4

    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number:02d}"          # stable ids: an export twice gives the same file
    return v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })


# ------------------------------------------------------------------ code from the stub and the solution

def _split_script(path: Path) -> tuple[list[str], list[str]]:
    """(import lines, definition lines) of a script; script code and the module docstring left out."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=path.name)
    imports, definitions = [], []
    for node in tree.body:
        if not is_definition(node):
            continue
        if isinstance(node, ast.Expr):                          # the module docstring
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        segment = source.splitlines()[start - 1:node.end_lineno]
        target = imports if isinstance(node, (ast.Import, ast.ImportFrom)) else definitions
        if target and target is definitions:
            target.append("")
            target.append("")
        target.extend(segment)
    return imports, definitions


# ------------------------------------------------------------------ the notebook

def _check_cell(assignment: Assignment, check) -> dict:
    text = (f"# Test: {check.name} ({check.points:g} points): {check.description}\n"
            f"# Grades the code cells above with the autograder kit (the first test cell runs every check).\n"
            f"from {KERNEL_MARK} import assert_check_passed\n"
            f"assert_check_passed({assignment.id!r}, {check.name!r})")
    return _code(text, _nbgrader_meta(f"test_{check.name}", grade=True, locked=True, points=check.points))


def source_notebook(config: Config, assignment: Assignment) -> dict:
    """The nbgrader source notebook of one assignment, from its stub, solution, README and checks."""
    stub_path = config.assignment_dir(assignment.id) / assignment.file
    solution_path = config.solution_dir(assignment.id) / assignment.file
    for path in (stub_path, solution_path):
        if not path.is_file():
            raise AutograderError(f"{path} is missing: the notebook is generated from the stub and the solution")
    imports, solution_defs = _split_script(solution_path)
    _, stub_defs = _split_script(stub_path)
    try:
        marked = mark_solutions(stub_defs, solution_defs)
    except MarkingError as exc:
        raise MarkingError(f"{assignment.id}: cannot merge {stub_path} and {solution_path} into a notebook: "
                           f"{exc.message}") from None
    readme = config.assignment_dir(assignment.id) / "README.md"
    intro = readme.read_text(encoding="utf-8") if readme.is_file() else f"# {assignment.title}"
    cells = [
        _markdown(intro, _nbgrader_meta("instructions", locked=True)),
        _markdown("Write your code in the cell marked `YOUR CODE HERE` (replace the "
                  "`raise NotImplementedError()` lines). The test cells at the end grade your code with the "
                  "same checks as `autograder check " + assignment.id + "`; run them to see your score."),
        _code("\n".join(imports), _nbgrader_meta("imports", locked=True)),
        _code("\n".join(marked), _nbgrader_meta("solution", solution=True)),
    ]
    beside = sorted({str(check.params["weights_file"]) for check in assignment.checks if "weights_file" in check.params})
    if beside:      # a trained-weights assignment: the file travels in the submission's folder
        names = " and ".join(f"`{name}`" for name in beside)
        cells.append(_markdown(f"Save the trained weights as {names} in the folder of this notebook "
                               "(`torch.save(model.state_dict(), ...)`): the folder is handed in with the notebook, "
                               "and the grader reads the weights from beside it."))
    cells.append(_markdown(f"## Tests ({assignment.max_score:g} points)", _nbgrader_meta("tests_title", locked=True)))
    cells += [_check_cell(assignment, check) for check in assignment.checks]
    return _notebook(cells)


def nbgrader_config_text(ids: list[str], course_id: str, config_path: Path) -> str:
    return (
        "# nbgrader settings for the course generated by `autograder export nbgrader`.\n"
        "# Regenerate instead of editing the notebooks in source/: they come from the kit's\n"
        "# solutions/, assignments/ and grading.toml.\n"
        "import os\n\n"
        "c = get_config()  # noqa: F821 (provided by nbgrader)\n\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
        f"# Assignments in this course: {', '.join(ids)}\n"
        "# Where a kernel runs a notebook (nbgrader validate), its first test cell runs every check,\n"
        "# a short training run included.\n"
        f"c.Execute.timeout = {CELL_TIMEOUT_SECONDS}\n\n"
        "# `nbgrader autograde` scores with the kit, not with the students' kernels: this process grades\n"
        "# each submitted notebook in the kit's sandbox and writes each check's verdict into its test cell\n"
        "# before nbgrader saves the scores. nbgrader's Execute step is left out, so no kernel runs the\n"
        "# students' code; autograde_preprocessors(run_kernel=True) keeps it, for feedback that shows what\n"
        "# their cells print (the scores stay the kit's).\n"
        "try:\n"
        "    from autograder.integrations.nbgrader_autograde import autograde_preprocessors\n"
        "except ImportError as exc:   # nbgrader would go on with its own steps: stop instead\n"
        "    raise SystemExit(f\"nbgrader_config.py: the autograder kit cannot be imported ({exc}). Install it \"\n"
        "                     \"where nbgrader runs: without it the students' kernels would decide the scores.\")\n"
        "c.Autograde.autograde_preprocessors = autograde_preprocessors(run_kernel=False)\n\n"
        "# The kit grades with this grading.toml unless $AUTOGRADER_CONFIG names another\n"
        "# (kernels started by nbgrader inherit the variable).\n"
        f"GRADING_TOML = {str(config_path)!r}\n"
        "if not os.environ.get(\"AUTOGRADER_CONFIG\") and os.path.isfile(GRADING_TOML):\n"
        "    os.environ[\"AUTOGRADER_CONFIG\"] = GRADING_TOML\n"
        "# Assignments with a training check find MNIST through $AUTOGRADER_DATA (or grading.toml's\n"
        "# kit.data_dir): set it before `nbgrader autograde`.\n"
    )


def export_nbgrader(*, out_dir: str | Path, config_path: str | Path | None = None,
                    assignment_ids: list[str] | None = None, course_id: str = "autograder-course") -> list[Path]:
    """Write nbgrader_config.py and source/<id>/<id>.ipynb; returns the notebooks written.

    Without ``assignment_ids``, every assignment that has a stub and a
    solution is exported.
    """
    config = load_config(config_path)
    if assignment_ids:
        chosen = [config.assignment(i) for i in assignment_ids]
    else:
        chosen = [a for a in config.assignments.values()
                  if (config.solution_dir(a.id) / a.file).is_file()
                  and (config.assignment_dir(a.id) / a.file).is_file()]
    if not chosen:
        raise AutograderError("no assignment to export: each needs a stub in assignments/ and a solution in "
                              "solutions/")
    import nbformat

    out = Path(out_dir)
    written = []
    for assignment in chosen:
        notebook = source_notebook(config, assignment)
        path = out / "source" / assignment.id / f"{assignment.id}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.validate(notebook)                # a schema error here is the kit's own bug: say so now
        nbformat.write(notebook, path)
        written.append(path)
    settings = nbgrader_config_text([a.id for a in chosen], course_id, config.path)
    (out / "nbgrader_config.py").write_text(settings, encoding="utf-8")
    return written


# ------------------------------------------------------------------ inside the notebook's kernel

_RESULTS: dict[tuple[str, str], object] = {}


def kernel_code_cells() -> list[str]:
    """The code cells this kernel has run so far, in order, grading cells left out."""
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None
    shell = get_ipython() if get_ipython else None
    if shell is None:
        raise AutograderError("the autograder test cells must run inside a Jupyter notebook")
    history = list(shell.history_manager.input_hist_raw)
    return [cell for cell in history[1:] if cell.strip() and not is_grading_cell(cell)]


def assert_check_passed(assignment_id: str, check_name: str) -> None:
    """Grade the notebook's code cells (once per version of the code) and assert one check passed.

    For the student running the notebook: nbgrader's autograde scores with the kit outside the kernel
    and replaces what this prints (see ``nbgrader_autograde``); a kernel it starts skips the grading."""
    import os

    if os.environ.get(KERNEL_SKIP_VARIABLE) and os.environ.get("NBGRADER_EXECUTION") == "autograde":
        print(f"{check_name}: scored by the autograder kit outside this notebook")
        return
    from ..grading.batch import grading_setup
    from ..intake.notebook import cells_to_source
    from ..grading.grade import grade_submission

    source, _ = cells_to_source(kernel_code_cells())
    key = (assignment_id, source)
    if key not in _RESULTS:
        try:
            config = load_config()
            assignment = config.assignment(assignment_id)
            with tempfile.TemporaryDirectory(prefix="autograder-kernel-") as folder:
                path = Path(folder) / assignment.file
                path.write_text(source, encoding="utf-8")
                # as `autograder check` grades one file: grading.toml's device, seed and data folder
                with grading_setup(config=config, assignment=assignment, data_dir=None, device=None,
                                   seed=None) as setup:
                    _RESULTS[key] = grade_submission(setup, path)
            print(f"graded with the autograder: {_RESULTS[key].score:g} / {_RESULTS[key].max_score:g}")
        except AutograderError as exc:    # no data, no grading.toml: every test cell says why
            _RESULTS[key] = f"the autograder could not grade this notebook: {exc.message}"
    result = _RESULTS[key]
    if isinstance(result, str):
        raise AssertionError(result)
    check = next((c for c in result.checks if c.name == check_name), None)
    if check is None:
        raise AssertionError(f"grading.toml has no check '{check_name}' for {assignment_id}: "
                             "export the nbgrader course again")
    if not check.passed:
        raise AssertionError(f"{check_name} failed: {check.message}")
    print(f"{check_name} passed: {check.message}")
