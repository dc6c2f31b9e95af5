"""The reference solution of a trained-weights assignment, as a student hands it in.

An assignment graded on handed-in weights (a ``weights_accuracy`` check) ships
its reference as the model's file and ``train.py`` in ``solutions/<id>/``; no
weights file is committed. ``verify`` runs ``python train.py OUT --data-dir DIR``
once, keeps what it writes in the cache (``~/.cache/autograder`` or
``$AUTOGRADER_CACHE``) under a name drawn from the script, the model's file and
the data's sums, and grades a folder holding the model's file and those weights.
The script is the instructor's own code and runs as such, outside any sandbox.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

from ..settings.model import Assignment
from ..errors import AutograderError
from ..settings.places import cache_dir

TRAIN_SCRIPT = "train.py"


def weights_file(assignment: Assignment) -> str | None:
    """The weights file the assignment's students hand in, or None when it grades no weights."""
    for check in assignment.checks:
        if check.kind == "weights_accuracy":
            return check.params["weights_file"]
    return None


def _key(script: Path, model_file: Path, data_dir: Path) -> str:
    from .datasets import expected_sums

    digest = hashlib.sha256()
    for path in (script, model_file):
        digest.update(path.read_bytes())
    raw = data_dir / "MNIST" / "raw"
    digest.update(" ".join(expected_sums(raw).values()).encode())
    return digest.hexdigest()[:16]


def reference_submission(assignment: Assignment, solution_file: Path, data_dir: Path,
                         say: Callable[[str], None] | None = None) -> Path:
    """``solution_file`` itself, or for a trained-weights assignment a folder holding it and the weights
    its ``train.py`` writes (trained on the first call, then taken from the cache)."""
    name = weights_file(assignment)
    if name is None:
        return solution_file
    script = solution_file.parent / TRAIN_SCRIPT
    if not script.is_file():
        raise AutograderError(f"{script} is missing: a trained-weights assignment's reference solution ships the "
                              f"script that writes its {name} (python {TRAIN_SCRIPT} OUT.pt --data-dir DIR)")
    folder = cache_dir() / "references" / f"{assignment.id}-{_key(script, solution_file, data_dir)}"
    weights = folder / name
    if not weights.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"{name}.{os.getpid()}.partial"
        if say is not None:
            say(f"training the reference weights of {assignment.id} with {script} (once: kept in {folder})")
        done = subprocess.run([sys.executable, str(script), str(partial), "--data-dir", str(data_dir)],
                              cwd=script.parent, capture_output=True, text=True)
        if done.returncode != 0 or not partial.is_file():
            tail = (done.stdout + done.stderr).strip()[-2000:]
            partial.unlink(missing_ok=True)
            raise AutograderError(f"{script} failed (exit status {done.returncode}) while writing the reference "
                                  f"weights:\n{tail}")
        partial.replace(weights)
    submission = folder / assignment.id           # the result goes under the assignment's name
    submission.mkdir(exist_ok=True)
    shutil.copyfile(solution_file, submission / solution_file.name)
    shutil.copyfile(weights, submission / name)
    return submission
