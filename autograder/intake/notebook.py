"""Turn a Jupyter notebook's code cells into the source of a module.

The code cells are joined in order. IPython-only lines cannot run as Python:
line magics (``%matplotlib inline``), shell lines (``!pip install ...``),
``x = !ls`` captures and help lookups (``obj?``) are replaced by comments (by
``pass`` inside a block, to keep it valid), and cells that start with a cell
magic (``%%time``) are dropped whole. Each drop is listed in the notes that go
into the report. ``from __future__`` imports move to the top of the module,
where Python requires them. The test cells of a notebook exported for nbgrader
(they import ``autograder.integrations.nbgrader``) are left out: the grader runs
the same checks itself.
"""

from __future__ import annotations

import json
import re
import tempfile
import warnings
from pathlib import Path

from ..errors import SubmissionError

NOTEBOOK_SUFFIX = ".ipynb"
MAGIC_LINE = re.compile(r"^(\s*)(%|!|[A-Za-z_][\w.]*\s*=\s*[%!])")
HELP_LINE = re.compile(r"^(\s*)[\w.]+\?{1,2}\s*$")
FUTURE_LINE = re.compile(r"^from\s+__future__\s+import\s+")
# Every test cell of an exported nbgrader notebook imports this module; no student cell needs to.
GRADING_CELL_MARK = "autograder.integrations.nbgrader"
# The module's earlier name: the test cells of notebooks exported before it moved import that one.
EARLIER_GRADING_CELL_MARKS = ("autograder.export_nbgrader",)


def is_grading_cell(source: str) -> bool:
    """Whether a code cell is one of the kit's own test cells (an exported notebook's)."""
    return any(mark in source for mark in (GRADING_CELL_MARK, *EARLIER_GRADING_CELL_MARKS))


class NotebookError(SubmissionError):
    """A notebook that cannot be read as a notebook."""


def _cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def read_code_cells(path: Path | str) -> list[str]:
    """The source of every code cell, in order; NotebookError names what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NotebookError(f"{path.name} is not a text file: save the notebook from Jupyter "
                            "(File > Save) and hand in the .ipynb file") from None
    notebook = _parse_notebook(path.name, text)
    if not isinstance(notebook.get("cells"), list):
        raise NotebookError(f"{path.name} is JSON but not a Jupyter notebook (no list of 'cells'); "
                            "hand in the .ipynb file Jupyter saves")
    return [_cell_text(cell) for cell in notebook["cells"]
            if isinstance(cell, dict) and cell.get("cell_type") == "code"]


def _parse_notebook(name: str, text: str) -> dict:
    """The notebook in ``text``, upgraded to format 4 by nbformat; NotebookError when it cannot be read.

    A notebook that breaks nbformat's schema in a detail (a missing cell id, say) but
    still holds its cells is graded as it is: schema errors are not refused.
    """
    # Imported here: nbformat pulls in jsonschema, seconds to import, and only notebooks need it.
    import nbformat
    from nbformat.reader import NotJSONError
    from nbformat.warnings import MissingIDFieldWarning

    # Cells without ids (notebooks saved before format 4.5, or written by other tools) are read as they are.
    warnings.filterwarnings("ignore", category=MissingIDFieldWarning)
    try:
        return nbformat.reads(text, as_version=4, capture_validation_error={})
    except NotJSONError as exc:
        broken = exc.__cause__
        where = (f" at line {broken.lineno}, column {broken.colno}: {broken.msg}"
                 if isinstance(broken, json.JSONDecodeError) else "")
        raise NotebookError(f"{name} is not a valid notebook (its JSON is broken{where}); open it in Jupyter, "
                            "save it again and hand it in, or hand in your code as a .py file") from None
    except Exception as exc:  # a hostile notebook makes nbformat raise many kinds of error: each is the student's
        raise NotebookError(f"{name} is JSON but not a Jupyter notebook that can be read "
                            f"({_unreadable_because(exc)}); open it in Jupyter, save it again and hand in "
                            "the .ipynb file Jupyter saves, or hand in your code as a .py file") from None


def _unreadable_because(exc: Exception) -> str:
    """nbformat's own words where it has some; a plain reason for the errors it lets through."""
    from nbformat import NBFormatError, ValidationError

    if isinstance(exc, RecursionError):
        return "it is nested too deeply"
    if isinstance(exc, (NBFormatError, ValidationError)):
        words = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if words and "object has no attribute" not in words:      # those words are Python's, not nbformat's
            return words[:200]
    return "its structure is not a notebook's"


def cells_to_source(cells: list[str]) -> tuple[str, list[str]]:
    """Join code cells into module source; returns (source, notes about what was dropped)."""
    future: list[str] = []
    parts: list[str] = []
    dropped_cells: list[int] = []
    dropped_lines: list[str] = []
    for number, cell in enumerate(cells, start=1):
        lines = cell.splitlines()
        first = next((line.strip() for line in lines if line.strip()), "")
        if first.startswith("%%"):
            dropped_cells.append(number)
            parts.append(f"# code cell {number}: dropped, it starts with the cell magic {first.split()[0]}")
            continue
        kept = [f"# code cell {number}"]
        for line in lines:
            magic = MAGIC_LINE.match(line) or HELP_LINE.match(line)
            if magic:
                indent = magic.group(1)
                dropped_lines.append(line.strip())
                kept.append(f"{indent}pass  # IPython line dropped" if indent else
                            f"# IPython line dropped: {line.strip()}")
            elif FUTURE_LINE.match(line):
                future.append(line)
                kept.append(f"# moved to the top: {line.strip()}")
            else:
                kept.append(line)
        parts.append("\n".join(kept))
    notes = []
    if dropped_lines:
        shown = "; ".join(dropped_lines[:4]) + ("; ..." if len(dropped_lines) > 4 else "")
        notes.append(f"{len(dropped_lines)} IPython magic or shell line(s) in the notebook were not run ({shown})")
    if dropped_cells:
        notes.append(f"notebook code cell(s) {', '.join(map(str, dropped_cells))} start with a cell magic "
                     "(%%...) and were not run")
    source = "\n".join(dict.fromkeys(future)) + ("\n\n" if future else "") + "\n\n".join(parts) + "\n"
    return source, notes


def notebook_to_source(path: Path | str) -> tuple[str, list[str]]:
    """A notebook's code cells as module source, with notes for the report."""
    cells = read_code_cells(path)
    student_cells = [cell for cell in cells if not is_grading_cell(cell)]
    source, notes = cells_to_source(student_cells)
    if not cells:
        notes.append(f"{Path(path).name} holds no code cells")
    if len(student_cells) < len(cells):
        notes.append(f"{len(cells) - len(student_cells)} autograder test cell(s) of the notebook were left out "
                     "(the grader runs those checks itself)")
    notes.insert(0, f"{Path(path).name} is a notebook: its code cells were joined in order and graded "
                 "as one module (line numbers refer to that module)")
    return source, notes


def is_notebook(path: Path | str) -> bool:
    return Path(path).suffix.lower() == NOTEBOOK_SUFFIX


class ModuleFile:
    """The file to grade: the submission itself, or a notebook converted in a temporary folder.

    Use ``with ModuleFile(path, "lenet5.py") as module:``; ``module.path`` is
    the Python file, ``module.notes`` what the conversion changed. A broken
    notebook raises NotebookError on entering.
    """

    def __init__(self, path: Path | str, file_name: str) -> None:
        self.original = Path(path)
        self.file_name = file_name
        self.path = self.original
        self.notes: list[str] = []
        self._scratch: tempfile.TemporaryDirectory | None = None

    def open(self) -> "ModuleFile":
        """Convert a notebook now (idempotent); NotebookError when it cannot be read."""
        if is_notebook(self.original) and self._scratch is None:
            source, self.notes = notebook_to_source(self.original)
            self._scratch = tempfile.TemporaryDirectory(prefix="autograder-notebook-")
            name = Path(self.file_name).stem + ".py"
            self.path = Path(self._scratch.name) / name
            self.path.write_text(source, encoding="utf-8")
        return self

    def __enter__(self) -> "ModuleFile":
        return self.open()

    def __exit__(self, *exc) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None
