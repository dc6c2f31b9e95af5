"""Build a Gradescope autograder archive for one assignment, and run it there.

The archive holds, at its top level as Gradescope expects:

- ``setup.sh``: installs the kit (and its dependencies) with pip;
- ``run_autograder``: grades the file in ``/autograder/submission`` (a ``.py``
  or a notebook) and writes ``/autograder/results/results.json``;
- ``kit/``: the ``autograder`` package, ``pyproject.toml`` and ``grading.toml``;
- ``data/MNIST/raw/``: the dataset, for an assignment whose checks train on
  MNIST, when the export was given a data folder. Without it, ``setup.sh``
  downloads MNIST into ``data/`` with torchvision while the image is built
  (Gradescope builds it online). Assignments that grade functions and layers
  read no dataset: their archive holds none and downloads none.
- ``data/cifar-10-batches-py/``: for a check that uses CIFAR-10 images when
  the data folder has them (``overfit_batch``), packed when the given data
  folder holds them, so the archive grades with the same images as
  ``autograder grade`` does with that folder.

The roots are environment variables so the archive can be tried anywhere:
``AUTOGRADER_ROOT`` (default ``/autograder``) holds ``source/`` (the unpacked
archive), ``submission/`` and ``results/``; ``AUTOGRADER_DATA`` (default
``$AUTOGRADER_ROOT/source/data``) is the data folder.
"""

from __future__ import annotations

import argparse
import stat
import sys
import zipfile
from pathlib import Path

from ..settings.model import Assignment

from ..checks import load_config
from ..errors import AutograderError

PACKAGE = Path(__file__).resolve().parent.parent     # the autograder package

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once while building the autograder image.
set -euo pipefail
SOURCE="${AUTOGRADER_ROOT:-/autograder}/source"
python3 -m pip install --upgrade pip
python3 -m pip install "$SOURCE/kit"
"""

DOWNLOAD_MNIST = """if [ ! -d "$SOURCE/data/MNIST/raw" ]; then
    # No data in the archive: download MNIST once, now, while the image is built online.
    python3 -c "import sys; from torchvision import datasets; datasets.MNIST(sys.argv[1], train=True, download=True); datasets.MNIST(sys.argv[1], train=False, download=True)" "$SOURCE/data"
fi
"""

# Folders of the data folder that a check kind reads when they are there (else it makes its own images).
OPTIONAL_DATA = {"overfit_batch": "cifar-10-batches-py"}

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade it, write results/results.json.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
export AUTOGRADER_DATA="${{AUTOGRADER_DATA:-$ROOT/source/data}}"
export AUTOGRADER_CONFIG="$ROOT/source/kit/grading.toml"
export PYTHONPATH="$ROOT/source/kit${{PYTHONPATH:+:$PYTHONPATH}}"
cd "$ROOT/source"
exec "${{AUTOGRADER_PYTHON:-python3}}" -m autograder.integrations.gradescope run {assignment} \\
    --submission "$ROOT/submission" --results "$ROOT/results/results.json"
"""


def _add_text(archive: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name)
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def reads_mnist(assignment: Assignment) -> bool:
    """Whether the assignment's checks train on MNIST (so the archive needs it)."""
    from ..grading.setup import needs_data

    return needs_data(assignment)


def data_folders(assignment: Assignment, data_dir: str | Path | None) -> list[Path]:
    """The folders of ``data_dir`` the archive carries for this assignment (none without ``data_dir``)."""
    if data_dir is None:
        return []
    folders = []
    if reads_mnist(assignment):
        raw = Path(data_dir) / "MNIST" / "raw"
        if not raw.is_dir():
            raise AutograderError(f"{raw} does not exist: --data-dir must hold MNIST/raw/ "
                                  "(or leave it out and setup.sh downloads MNIST)")
        folders.append(raw)
    for check in assignment.checks:
        optional = OPTIONAL_DATA.get(check.kind)
        if optional and (Path(data_dir) / optional).is_dir() and Path(data_dir) / optional not in folders:
            folders.append(Path(data_dir) / optional)
    return folders


def export_gradescope(*, assignment_id: str, out_zip: str | Path, config_path: str | Path | None = None,
                      data_dir: str | Path | None = None) -> Path:
    """Write the autograder archive; with ``data_dir``, the data the checks read goes in too."""
    config = load_config(config_path)
    assignment = config.assignment(assignment_id)
    out = Path(out_zip)
    if out.suffix != ".zip":
        raise AutograderError(f"{out} should end in .zip: Gradescope takes the autograder as a zip archive")
    folders = data_folders(assignment, data_dir)
    setup = SETUP_SH + (DOWNLOAD_MNIST if reads_mnist(assignment) else "")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        _add_text(archive, "setup.sh", setup, executable=True)
        _add_text(archive, "run_autograder", RUN_AUTOGRADER.format(assignment=assignment.id), executable=True)
        _add_text(archive, "kit/grading.toml", config.path.read_text(encoding="utf-8"))
        pyproject = PACKAGE.parent / "pyproject.toml"
        if pyproject.is_file():
            _add_text(archive, "kit/pyproject.toml", pyproject.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py")):
            if "__pycache__" not in path.parts:
                archive.write(path, "kit/autograder/" + path.relative_to(PACKAGE).as_posix())
        for folder in folders:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, "data/" + path.relative_to(Path(data_dir)).as_posix())
    return out


def gradescope_results(result, *, output_kib: int = 16) -> dict:
    """results.json as Gradescope renders it: the feedback page's text as Markdown in the top-level
    ``output`` (whatever came from the submission only inside code blocks: see feedback_text), and each
    check's message shown as plain text, line breaks kept. Written through ``write_gradescope_results``,
    which caps its size."""
    from ..reports.feedback_text import feedback_markdown
    from ..reports.results_files import results_json

    data = results_json(result)
    data["output"] = feedback_markdown(result, output_kib=output_kib)
    data["output_format"] = "md"
    data["test_output_format"] = "text"
    data["test_name_format"] = "text"
    for test in data["tests"]:
        test["output_format"] = "text"
    return data


def run_gradescope(*, assignment_id: str, submission: str | Path, results: str | Path) -> dict:
    """Grade the file in ``submission`` (a folder or a file) and write Gradescope's results.json."""
    import json

    from ..grading.batch import grade_safely, grading_setup
    from ..grading.results import every_check_failed

    config = load_config()
    assignment = config.assignment(assignment_id)
    out = Path(results)
    try:
        with grading_setup(config=config, assignment=assignment, data_dir=None, device=None, seed=None) as setup:
            result = grade_safely(setup, submission)
    except AutograderError as exc:   # no data, say: still a results.json, with the reason and no points
        reason = f"the autograder could not grade this submission: {exc.message}"
        result = every_check_failed(assignment, Path(submission).name, str(submission), reason)
    write_gradescope_results(result, out, output_kib=config.kit.feedback_output_kib)
    return json.loads(out.read_text(encoding="utf-8"))


def write_gradescope_results(result, path: str | Path, *, output_kib: int = 16) -> Path:
    """Write Gradescope's results.json atomically, under the same size cap as ``autograder grade``'s."""
    from ..reports.results_files import write_results_json

    return write_results_json(result, Path(path), gradescope_results(result, output_kib=output_kib))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.integrations.gradescope",
                                     description="Inside Gradescope: grade a submission folder.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="grade SUBMISSION and write RESULTS (results.json)")
    run.add_argument("assignment")
    run.add_argument("--submission", required=True)
    run.add_argument("--results", required=True)
    args = parser.parse_args(argv)
    data = run_gradescope(assignment_id=args.assignment, submission=args.submission, results=args.results)
    print(f"{args.assignment}: {data['score']} points; wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
