"""nbgrader's ``autograde`` scores each notebook with the kit, never with the student's kernel.

nbgrader's own pipeline runs a submitted notebook in a Jupyter kernel and scores
each test cell by its output: no error means full marks. The kernel runs the
student's code first, so that code can replace whatever the test cells call and
every test cell then "passes". Here the verdict comes from the kit instead, in
the nbgrader process itself:

- ``GradeWithKit`` runs first in the autograde step, before any kernel exists:
  it writes the notebook nbgrader is grading (the submission, its locked cells
  already restored by nbgrader's sanitizing step) to a private folder and grades
  it as ``autograder check`` would (the kit's sandbox and checks); the result
  stays in this process;
- ``SetKitScores`` runs just before nbgrader's ``SaveAutoGrades``: each test
  cell's outputs become the kit's verdict for its check (its message; an error
  for a failed check), whatever a kernel printed there, so ``SaveAutoGrades``
  stores the kit's scores in the gradebook and the feedback shows the kit's
  messages.

``autograde_preprocessors()`` is nbgrader's list of autograde steps with these two
added; by default nbgrader's ``Execute`` step is left out, so no kernel runs the
students' code outside the sandbox during autograde (and no check runs twice).
``nbgrader_config.py`` of an exported course installs it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from pathlib import Path

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from ..errors import AutograderError
from ..intake.notebook import is_grading_cell
from .nbgrader import KERNEL_SKIP_VARIABLE

__all__ = ["GradeWithKit", "SetKitScores", "autograde_preprocessors", "close_setups"]

# Where GradeWithKit leaves its verdict for SetKitScores: in the resources nbconvert hands from one step
# to the next, in this process's memory.
VERDICT_KEY = "autograder_verdict"
TEST_CELL_PREFIX = "test_"


class _Setups:
    """The kit's grading setup of the assignment being graded, kept open from one notebook to the next.

    nbgrader goes through the submissions student by student; a setup stays open while the assignment
    stays the same, and the training data each dataset needs is read once for all of them."""

    def __init__(self) -> None:
        self.assignment_id: str | None = None
        self.setup = None
        self.stack = contextlib.ExitStack()
        self.datasets: dict = {}
        atexit.register(self.close)

    def get(self, config, assignment):
        from ..grading.batch import grading_setup

        if self.assignment_id != assignment.id:
            self.close()
            # as `autograder check` grades a file: grading.toml's device, seed and data folder
            self.setup = self.stack.enter_context(grading_setup(
                config=config, assignment=assignment, data_dir=None, device=None, seed=None,
                datasets=self.datasets))
            self.assignment_id = assignment.id
        return self.setup

    def close(self) -> None:
        self.assignment_id, self.setup = None, None
        self.stack.close()


_SETUPS = _Setups()


def kit_assignment_id(config, resources: ResourcesDict) -> str:
    """The kit's assignment for a notebook nbgrader grades: the nbgrader assignment's id (the export names
    both alike), else the notebook's name."""
    names = resources["nbgrader"]
    for candidate in (names["assignment"], names["notebook"]):
        if candidate in config.assignments:
            return candidate
    raise AutograderError(f"nbgrader assignment '{names['assignment']}' (notebook {names['notebook']}.ipynb) is "
                          f"not an assignment of {config.path}: the course must keep the ids `autograder export "
                          f"nbgrader` gave it (known: {', '.join(sorted(config.assignments))})")


def grade_notebook(nb: NotebookNode, resources: ResourcesDict):
    """The kit's result for this notebook, graded in the kit's sandbox as `autograder check` grades a file."""
    import nbformat

    from ..checks import load_config
    from ..grading.grade import grade_submission

    config = load_config()             # $AUTOGRADER_CONFIG, which nbgrader_config.py sets
    assignment = config.assignment(kit_assignment_id(config, resources))
    setup = _SETUPS.get(config, assignment)
    # files handed in beside the notebook (a trained model's weights) are read from its own folder
    beside = resources.get("metadata", {}).get("path")
    with tempfile.TemporaryDirectory(prefix="autograder-nbgrader-") as folder:
        path = Path(folder) / (Path(assignment.file).stem + ".ipynb")
        path.write_text(nbformat.writes(nb), encoding="utf-8")
        return grade_submission(setup, path, companions=Path(beside) if beside else None)


class GradeWithKit(NbGraderPreprocessor):
    """Grade the notebook with the kit before any kernel runs; the verdict goes to ``SetKitScores``."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        names = resources["nbgrader"]
        where = f"{names['student']}'s {names['assignment']}/{names['notebook']}.ipynb"
        try:
            result = grade_notebook(nb, resources)
        except AutograderError as exc:     # no grading.toml, no data: a person must fix it; no score is made up
            raise AutograderError(f"the autograder kit could not grade {where}: {exc.message}") from None
        self.log.info("autograder kit: %s scores %g / %g", where, result.score, result.max_score)
        resources[VERDICT_KEY] = result
        os.environ[KERNEL_SKIP_VARIABLE] = "1"
        return nb, resources


def _stream(text: str) -> NotebookNode:
    from nbformat import v4

    return v4.new_output("stream", name="stdout", text=text)


def _error(message: str) -> NotebookNode:
    from nbformat import v4

    return v4.new_output("error", ename="AssertionError", evalue=message,
                         traceback=[f"AssertionError: {message}"])


def is_kit_test_cell(cell: NotebookNode) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return (cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")
            and str(meta.get("grade_id", "")).startswith(TEST_CELL_PREFIX) and is_grading_cell(cell.source))


def _kernel_scored(cell: NotebookNode) -> bool:
    """A cell nbgrader would score from a kernel's output (a code grade cell that is not an answer)."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


class SetKitScores(NbGraderPreprocessor):
    """Replace each test cell's outputs with the kit's verdict for its check, so that nbgrader's
    ``SaveAutoGrades`` scores the kit's result and nothing a kernel printed."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        result = resources.get(VERDICT_KEY)
        if result is None:
            raise AutograderError("SetKitScores found no verdict of the kit: GradeWithKit must come first in "
                                  "c.Autograde.autograde_preprocessors (use autograde_preprocessors() from "
                                  f"{__name__}, as the exported nbgrader_config.py does)")
        checks = {check.name: check for check in result.checks}
        first = True
        for cell in nb.cells:
            if not _kernel_scored(cell):
                continue                # markdown and answer cells: graded by hand, as nbgrader does
            grade_id = str(cell.metadata["nbgrader"].get("grade_id", ""))
            if not grade_id:         # nbgrader's sanitizing step drops the id of a cell the course does not have
                raise AutograderError("the notebook holds a grade cell that the course's notebook does not have "
                                      "(added in the submission): nbgrader cannot score it")
            if not is_kit_test_cell(cell):
                raise AutograderError(f"grade cell '{grade_id}' is not one of the kit's test cells, and nbgrader "
                                      "would score it from what the student's kernel printed: export the course "
                                      "again with `autograder export nbgrader` instead of editing the notebook")
            outputs = []
            if first:
                lines = [f"Scored by the autograder kit, which graded this notebook in its sandbox: "
                         f"{result.score:g} / {result.max_score:g}. What the test cells print in a kernel "
                         "counts for nothing."]
                if result.status != "graded":
                    lines.append(f"Grading stopped early: {result.status}")
                lines += [f"Note: {note}" for note in result.notes]
                outputs.append(_stream("\n".join(lines) + "\n\n"))
                first = False
            name = grade_id[len(TEST_CELL_PREFIX):]
            check = checks.get(name)
            if check is None:
                outputs.append(_error(f"grading.toml has no check '{name}' for {result.assignment}: "
                                      "export the nbgrader course again"))
            elif check.passed:
                outputs.append(_stream(f"{name} passed: {check.message}\n"))
            else:
                outputs.append(_error(f"{name} failed: {check.message}"))
            cell.outputs = outputs
        return nb, resources


def autograde_preprocessors(*, run_kernel: bool = False) -> list:
    """nbgrader's autograde steps, scored by the kit: ``GradeWithKit`` first, ``SetKitScores`` just
    before ``SaveAutoGrades``. Without ``run_kernel`` nbgrader's ``Execute`` step is left out: the
    students' code runs only in the kit's sandbox. With it, nbgrader also runs each notebook in a kernel,
    so the feedback shows what the students' cells print; the scores are the kit's all the same."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute, SaveAutoGrades

    def is_step(step, kind) -> bool:
        return step is kind or (isinstance(step, type) and issubclass(step, kind)) or step in (
            kind.__name__, f"{kind.__module__}.{kind.__name__}", f"nbgrader.preprocessors.{kind.__name__}")

    steps = [step for step in Autograde.class_traits()["autograde_preprocessors"].default()
             if run_kernel or not is_step(step, Execute)]
    saves = [index for index, step in enumerate(steps) if is_step(step, SaveAutoGrades)]
    if not saves:
        raise AutograderError("this nbgrader's autograde steps have no SaveAutoGrades: the kit cannot tell "
                              "where to put its scores")
    steps.insert(saves[0], SetKitScores)
    return [GradeWithKit, *steps]


def close_setups() -> None:
    """Close the grading setup kept open between notebooks (its warm processes); done at exit anyway."""
    _SETUPS.close()
