"""Notebook submissions: code cells become the module; magics are dropped with a note."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder.commands import check_submission
from autograder.intake.notebook import ModuleFile, NotebookError, cells_to_source, notebook_to_source
from autograder.intake.submission import find_submission

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "grading.toml"


def write_notebook(path: Path, cells: list[str], kind: str = "code") -> Path:
    notebook = {
        "cells": [{"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True),
                   **({"outputs": [], "execution_count": None} if kind == "code" else {})} for text in cells],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def test_magics_and_shell_lines_are_dropped_with_a_note():
    cells = [
        "%matplotlib inline\n!pip install torch\nimport math",
        "%%time\nraise SystemExit('cell magics must not run')",
        "from __future__ import annotations\nfiles = !ls\ndef f(x):\n    %time y = x\n    return 2 * x\nf?",
    ]
    source, notes = cells_to_source(cells)
    assert source.startswith("from __future__ import annotations\n")
    namespace: dict = {}
    exec(compile(source, "nb.py", "exec"), namespace)    # valid Python, nothing of IPython left
    assert namespace["f"](3) == 6 and "math" in namespace
    assert "SystemExit" not in source.replace("# code cell 2: dropped", "")
    assert any("5 IPython magic or shell line(s)" in n for n in notes), notes
    assert any("cell(s) 2" in n for n in notes), notes


def test_test_cells_of_an_exported_notebook_are_left_out(tmp_path):
    """A notebook exported for nbgrader, handed in as it is: its code is graded, not its test cells."""
    from autograder.integrations.nbgrader import export_nbgrader

    [path] = export_nbgrader(out_dir=tmp_path, config_path=CONFIG, assignment_ids=["conv_arithmetic"])
    source, notes = notebook_to_source(path)
    assert "assert_check_passed" not in source and "autograder" not in source
    assert any("test cell(s)" in n for n in notes), notes
    namespace: dict = {}
    exec(compile(source, "conv_arithmetic.py", "exec"), namespace)
    assert namespace["conv_output_size"](32, 3, 1, 2) == 16


def test_grading_cells_import_the_module_the_mark_names():
    """The mark that recognises a test cell is the module those cells import, so export and grading agree."""
    from autograder.integrations import nbgrader
    from autograder.intake.notebook import GRADING_CELL_MARK

    assert GRADING_CELL_MARK == nbgrader.__name__


def test_test_cells_of_a_notebook_exported_before_the_move_are_left_out(tmp_path):
    earlier = "from autograder.export_nbgrader import assert_check_passed\nassert_check_passed('lenet5', 'builds')"
    path = write_notebook(tmp_path / "lenet5.ipynb", ["def f(x):\n    return 2 * x", earlier])
    source, notes = notebook_to_source(path)
    assert "assert_check_passed" not in source and "def f(x)" in source
    assert any("1 autograder test cell(s)" in n for n in notes), notes


def test_broken_json_gets_a_clear_error(tmp_path):
    bad = tmp_path / "lenet5.ipynb"
    bad.write_text('{"cells": [', encoding="utf-8")
    with pytest.raises(NotebookError, match="not a valid notebook"):
        notebook_to_source(bad)
    (tmp_path / "other.ipynb").write_text('{"hello": 1}', encoding="utf-8")
    with pytest.raises(NotebookError, match="not a Jupyter notebook"):
        notebook_to_source(tmp_path / "other.ipynb")


@pytest.mark.parametrize("text, reason", [
    ('{"nbformat": 99, "nbformat_minor": 0, "metadata": {}, "cells": []}', "Unsupported nbformat version 99"),
    ('[1, 2, 3]', "its structure is not a notebook's"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}, 7]}',
     "its structure is not a notebook's"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_json_that_nbformat_cannot_read_gets_a_clear_error(tmp_path, text, reason):
    bad = tmp_path / "lenet5.ipynb"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(NotebookError, match="not a Jupyter notebook that can be read") as caught:
        notebook_to_source(bad)
    assert reason in caught.value.message and "hand in your code as a .py file" in caught.value.message


def test_notebook_nbformat_cannot_read_fails_every_check_with_the_reason(tmp_path):
    bad = tmp_path / "lenet5.ipynb"
    bad.write_text('{"nbformat": 99, "cells": []}', encoding="utf-8")
    result = check_submission(assignment_id="lenet5", path=bad, config_path=CONFIG)
    assert result.score == 0
    assert all("Unsupported nbformat version 99" in c.message for c in result.checks)


def test_older_notebook_formats_are_upgraded_and_graded(tmp_path):
    """A format-3 notebook (worksheets, 'input' instead of 'source') is read through nbformat's upgrade."""
    old = {"nbformat": 3, "nbformat_minor": 0, "metadata": {},
           "worksheets": [{"cells": [{"cell_type": "code", "input": "def f(x):\n    return 3 * x",
                                      "language": "python", "outputs": []}]}]}
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(old), encoding="utf-8")
    source, _ = notebook_to_source(path)
    namespace: dict = {}
    exec(compile(source, "old.py", "exec"), namespace)
    assert namespace["f"](2) == 6


def test_broken_notebook_fails_every_check_with_the_reason(tmp_path):
    bad = tmp_path / "lenet5.ipynb"
    bad.write_text("not json at all", encoding="utf-8")
    result = check_submission(assignment_id="lenet5", path=bad, config_path=CONFIG)
    assert result.score == 0
    assert all("not a valid notebook" in c.message for c in result.checks)


def test_notebook_without_the_model_says_what_is_missing(tmp_path):
    path = write_notebook(tmp_path / "lenet5.ipynb", ["import torch\nx = 1"])
    result = check_submission(assignment_id="lenet5", path=path, config_path=CONFIG)
    assert result.score == 0
    assert all("LeNet5" in c.message for c in result.checks), [c.message for c in result.checks]


def test_folder_with_a_notebook_is_found(tmp_path):
    path = write_notebook(tmp_path / "lenet5.ipynb", ["x = 1"])
    assert find_submission(tmp_path, "lenet5.py").path == path
    with ModuleFile(path, "lenet5.py") as module:
        assert module.path.name == "lenet5.py" and module.path.read_text().strip().endswith("x = 1")
        converted = module.path
    assert not converted.exists()


@pytest.mark.slow
def test_notebook_and_script_get_the_same_score(tmp_path):
    """The reference solution split into cells (with magics) scores as the .py does, check by check."""
    script = ROOT / "solutions" / "lenet5" / "lenet5.py"
    text = script.read_text(encoding="utf-8")
    head, rest = text.split("class LeNet5", 1)
    cells = ["%matplotlib inline\n!nvidia-smi\n" + head, "class LeNet5" + rest]
    notebook = write_notebook(tmp_path / "lenet5.ipynb", cells)
    from_py = check_submission(assignment_id="lenet5", path=script, config_path=CONFIG)
    from_nb = check_submission(assignment_id="lenet5", path=notebook, config_path=CONFIG)
    assert from_py.score == from_py.max_score
    assert [(c.name, c.passed) for c in from_nb.checks] == [(c.name, c.passed) for c in from_py.checks]
    assert from_nb.score == from_py.score
    assert any("IPython magic" in n for n in from_nb.notes)
