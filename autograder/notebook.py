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
from pathlib import Path

from .errors import SubmissionError

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
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise NotebookError(f"{path.name} is not a text file: save the notebook from Jupyter "
                            "(File > Save) and hand in the .ipynb file") from None
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{path.name} is not a valid notebook (its JSON is broken at line {exc.lineno}, "
                            f"column {exc.colno}: {exc.msg}); open it in Jupyter, save it again and "
                            "hand it in, or hand in your code as a .py file") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError(f"{path.name} is JSON but not a Jupyter notebook (no list of 'cells'); "
                            "hand in the .ipynb file Jupyter saves")
    return [_cell_text(cell) for cell in data["cells"]
            if isinstance(cell, dict) and cell.get("cell_type") == "code"]


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
