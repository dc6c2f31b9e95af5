"""Fresh instances for the checks whose answers the submission's own process computes.

A minimiser, a training function, a Dataset or a file reader cannot be compiled
into a graph, so it runs in the submission's process and the parent judges what
it returns. Were the problem the same on every run (the same start, the same
data), a function could return the answer of an earlier run as a constant. So
these checks draw their instance when a submission is graded: the start of a
minimisation, the coefficients of its objective, the seed of a data set, the
sizes of the arrays. The draw mixes the grading seed with the bytes of the
handed-in file and the check's name, so

- grading the same file with the same seed poses the same problems (a grade can
  be reproduced, and a student's local ``autograder check`` shows what the
  instructor's run will ask);
- changing a single byte of the file, or the seed, poses new ones: an answer
  written into the file no longer belongs to the problem that file is given.

The parent computes its reference for the drawn instance itself; every range a
value is drawn from is written in grading.toml.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Sequence

from ..settings.model import CheckSpec


def submission_draw(seed: int, path: Path | str | None) -> int:
    """The number every drawn instance of one graded file derives from: the grading seed mixed
    with the file's bytes (only the seed when there is no file to read)."""
    digest = hashlib.sha256(f"autograder instance, seed {int(seed)}\n".encode())
    if path is not None:
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            pass            # an unreadable file fails at loading; its draw does not matter
    return int.from_bytes(digest.digest()[:8], "big")


def instance_random(check: CheckSpec) -> random.Random:
    """The random source of this grading run's instance of ``check``. A check planned outside a
    grading run (no draw set) gets the instance of draw 0, the same every time."""
    draw = check.draw if check.draw is not None else 0
    return random.Random(f"{draw}/{check.name}")


def seed_from(rng: random.Random) -> int:
    """A seed for torch, numpy or scikit-learn drawn from ``rng``."""
    return rng.randrange(2**31)


def uniform(rng: random.Random, bounds: Sequence[float], decimals: int) -> float:
    """A number drawn uniformly between ``bounds`` (low, high), rounded to ``decimals`` places so that
    messages can show it exactly and a student can repeat the call."""
    low, high = float(bounds[0]), float(bounds[1])
    return round(rng.uniform(low, high), decimals)


def integer(rng: random.Random, bounds: Sequence[int]) -> int:
    """An integer drawn uniformly from low to high, both included."""
    return rng.randint(int(bounds[0]), int(bounds[1]))


def check_bounds(name: str, bounds: Sequence, integers: bool = False) -> None:
    """Raise ValueError unless ``bounds`` is a pair low <= high (of integers when asked)."""
    if len(bounds) != 2 or any(isinstance(b, bool) or not isinstance(b, (int, float)) for b in bounds):
        raise ValueError(f"{name} must be a pair [low, high] of numbers, not {list(bounds)}")
    if integers and not all(isinstance(b, int) for b in bounds):
        raise ValueError(f"{name} must be a pair [low, high] of integers, not {list(bounds)}")
    if bounds[0] > bounds[1]:
        raise ValueError(f"{name}: low {bounds[0]} is above high {bounds[1]}")
