"""Shared fixtures: the data folder, a fast copy of grading.toml, the kit's paths.

The training checks read MNIST from $AUTOGRADER_DATA when set, else from the
shared datasets folder beside the kit ($AUTOGRADER_TEST_SHARED_DATA names
another folder to look in: point it at a missing one to run the suite as a
fresh machine does). Without MNIST the suite makes a small data set of its own
in MNIST's format (tests/synthetic_mnist.py), so every check kind runs
anywhere; each data set has its own shortened training recipe below.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from synthetic_mnist import write_mnist_format

ROOT = Path(__file__).resolve().parent.parent
BROKEN = Path(__file__).resolve().parent / "broken"

SHARED_DATA = Path(os.environ.get("AUTOGRADER_TEST_SHARED_DATA") or ROOT.parent / "shared" / "datasets")
MNIST_DIR = Path(os.environ.get("AUTOGRADER_DATA") or SHARED_DATA).resolve()
HAVE_MNIST = all((MNIST_DIR / "MNIST" / "raw" / f"{name}.gz").is_file() or
                 (MNIST_DIR / "MNIST" / "raw" / name).is_file()
                 for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))

# task1_cnn's extra-credit check: left out of the shortened recipe, where its marks mean nothing.
EXTRA_CREDIT = r"\[assignments\.task1_cnn\.checks\.accuracy_bonus\]\n(?:[^\[\n].*\n)*"

# The training recipe, shortened so a test batch stays quick; every check and its points are kept
# (but the extra credit).
FAST_TRAINING = {
    "mnist": [
        (r"max_steps = \d+", "max_steps = 500"),
        (r"eval_every = \d+", "eval_every = 50"),
        (r"stop_at_validation_accuracy = [\d.]+", "stop_at_validation_accuracy = 0.85"),
        (r"min_test_accuracy = 0\.9[05]\b", "min_test_accuracy = 0.75"),   # the checks that train
        (r"partial_credit_from = 0\.8\d*", "partial_credit_from = 0.65"),   # task1_cnn's 0.80, lenet5's 0.85
        (EXTRA_CREDIT, ""),
        (r"allow_download = true", "allow_download = false"),
    ],
    # The suite's own digits (7,000 training images, 1,000 test images).
    "synthetic": [
        (r"max_steps = \d+", "max_steps = 500"),
        (r"eval_every = \d+", "eval_every = 50"),
        (r"validation_size = \d+", "validation_size = 1000"),
        (r"stop_at_validation_accuracy = [\d.]+", "stop_at_validation_accuracy = 0.85"),
        (r"min_test_accuracy = 0\.9[05]\b", "min_test_accuracy = 0.75"),   # the checks that train
        (r"partial_credit_from = 0\.8\d*", "partial_credit_from = 0.65"),   # task1_cnn's 0.80, lenet5's 0.85
        (EXTRA_CREDIT, ""),
        (r"allow_download = true", "allow_download = false"),
    ],
}


@pytest.fixture(scope="session", autouse=True)
def training_data(tmp_path_factory) -> Path:
    """The folder the training checks read: MNIST when there, else the suite's own digits
    (made once per session, with a cache of their own so a user's MNIST cache stays untouched)."""
    saved = {key: os.environ.get(key) for key in ("AUTOGRADER_DATA", "AUTOGRADER_CACHE")}
    if HAVE_MNIST:
        os.environ["AUTOGRADER_DATA"] = str(MNIST_DIR)
        folder = MNIST_DIR
    else:
        folder = write_mnist_format(tmp_path_factory.mktemp("digits"))
        os.environ["AUTOGRADER_DATA"] = str(folder)
        os.environ["AUTOGRADER_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield folder
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def write_fast_config(folder: Path, data: str = "mnist") -> Path:
    """grading.toml with a shorter training run, in a folder that also shows solutions/ and assignments/."""
    text = (ROOT / "grading.toml").read_text(encoding="utf-8")
    for pattern, new in FAST_TRAINING[data]:
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
def fast_config(tmp_path_factory, training_data) -> Path:
    return write_fast_config(tmp_path_factory.mktemp("kit"), "mnist" if HAVE_MNIST else "synthetic")


@pytest.fixture(scope="session")
def real_config() -> Path:
    return ROOT / "grading.toml"


def write_config(folder: Path, text: str) -> Path:
    path = folder / "grading.toml"
    path.write_text(text, encoding="utf-8")
    return path
