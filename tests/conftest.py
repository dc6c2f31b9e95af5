"""Shared fixtures: the data folder, a fast copy of grading.toml, the kit's paths."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BROKEN = Path(__file__).resolve().parent / "broken"

# MNIST: $AUTOGRADER_DATA when set, else the shared datasets folder beside the kit.
DATA_DIR = Path(os.environ.get("AUTOGRADER_DATA") or ROOT.parent / "shared" / "datasets").resolve()
HAVE_DATA = all((DATA_DIR / "MNIST" / "raw" / f"{name}.gz").is_file() or
                (DATA_DIR / "MNIST" / "raw" / name).is_file()
                for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
if HAVE_DATA:
    os.environ["AUTOGRADER_DATA"] = str(DATA_DIR)

needs_data = pytest.mark.skipif(not HAVE_DATA, reason=f"MNIST not found in {DATA_DIR}/MNIST/raw "
                                                       "(set AUTOGRADER_DATA to a folder holding MNIST/raw/)")

# The training recipe, shortened so a test batch stays quick; every check and its points are kept.
FAST_TRAINING = [
    (r"max_steps = \d+", "max_steps = 500"),
    (r"eval_every = \d+", "eval_every = 50"),
    (r"stop_at_validation_accuracy = [\d.]+", "stop_at_validation_accuracy = 0.85"),
    (r"min_test_accuracy = [\d.]+", "min_test_accuracy = 0.75"),
    (r"allow_download = true", "allow_download = false"),
]


def write_fast_config(folder: Path) -> Path:
    """grading.toml with a shorter training run, in a folder that also shows solutions/ and assignments/."""
    text = (ROOT / "grading.toml").read_text(encoding="utf-8")
    for pattern, new in FAST_TRAINING:
        text, count = re.subn(pattern, new, text)
        assert count, f"grading.toml no longer has '{pattern}'"
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("solutions", "assignments"):
        link = folder / sub
        if not link.exists():
            link.symlink_to(ROOT / sub, target_is_directory=True)
    path = folder / "grading.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def fast_config(tmp_path_factory) -> Path:
    return write_fast_config(tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="session")
def real_config() -> Path:
    return ROOT / "grading.toml"


def write_config(folder: Path, text: str) -> Path:
    path = folder / "grading.toml"
    path.write_text(text, encoding="utf-8")
    return path
