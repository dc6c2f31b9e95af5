"""Lean installs: a student's install is the kit, torch, torchvision and what `check` needs; nbgrader
(which brings JupyterLab) is the 'nbgrader' extra, which the test extra includes so CI runs its tests."""

from __future__ import annotations

import importlib.util
import re
import tomllib

import pytest

from conftest import ROOT

from autograder import commands
from autograder.errors import AutograderError


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_students_install_leaves_nbgrader_and_jupyterlab_out():
    base = names(project()["dependencies"])
    assert {"torch", "torchvision", "nbformat", "matplotlib"} <= base      # nbformat: notebook submissions
    assert not base & {"nbgrader", "jupyterlab", "notebook", "jupyter-server"}


def test_the_test_extra_includes_the_nbgrader_extra():
    extras = project()["optional-dependencies"]
    assert "nbgrader" in names(extras["nbgrader"])
    assert "autograder[nbgrader]" in extras["test"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install -q -e ".[test,cluster]"' in ci       # CI runs the Ray cluster tests too
    assert "ray" in names(extras["cluster"])


def test_the_nbgrader_export_without_the_extra_names_it(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nbgrader" else real(name, *a))
    with pytest.raises(AutograderError) as caught:
        commands.export_nbgrader_course(out_dir=tmp_path / "course")
    assert 'pip install -e ".[nbgrader]"' in caught.value.message and "'nbgrader' extra" in caught.value.message
    assert not (tmp_path / "course").exists()


def test_the_readme_says_which_install_to_use():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme[readme.index("## Quickstart"):readme.index("## Commands")]
    assert "pip install -e ." in quickstart and 'pip install -e ".[nbgrader]"' in quickstart
    assert 'pip install -e ".[test]"' in quickstart
