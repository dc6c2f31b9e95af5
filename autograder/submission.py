"""Find the file to grade in what was handed in: a file, or a folder holding it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SOURCE_SUFFIXES = (".py", ".ipynb")   # a notebook is graded from its code cells


@dataclass(frozen=True)
class Submission:
    """One submission: the name its results go under, and its file or the reason there is none."""

    name: str
    path: Path | None
    problem: str = ""


def find_submission(path: Path | str, expected_file: str) -> Submission:
    path = Path(path)
    if path.is_file():
        if path.suffix not in SOURCE_SUFFIXES:
            return Submission(path.stem, None, f"{path.name} is not a Python file or notebook ({', '.join(SOURCE_SUFFIXES)})")
        return Submission(path.stem, path)
    if path.is_dir():
        name = path.resolve().name
        exact = path / expected_file
        if exact.is_file():
            return Submission(name, exact)
        notebook = exact.with_suffix(".ipynb")
        if notebook.is_file():
            return Submission(name, notebook)
        candidates = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in SOURCE_SUFFIXES)
        if len(candidates) == 1:
            return Submission(name, candidates[0])
        found = ", ".join(p.name for p in candidates) or "no Python files or notebooks"
        return Submission(name, None, f"folder {path} holds no {expected_file} (found: {found})")
    return Submission(path.stem or str(path), None, f"{path} does not exist")
