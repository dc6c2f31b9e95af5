"""The layout is the architecture: the import rules in pyproject.toml hold, and the packages that
run before torch is loaded never load it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "autograder"


def test_the_import_contracts_hold():
    linter = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(linter).exists():
        pytest.fail("lint-imports is missing: pip install -e '.[test]' installs import-linter")
    done = subprocess.run([linter, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_settings_and_processes_load_without_torch():
    modules = sorted(".".join(("autograder", *path.relative_to(PACKAGE).with_suffix("").parts))
                     for folder in ("settings", "processes") for path in (PACKAGE / folder).rglob("*.py")
                     if path.stem != "__init__")
    assert len(modules) >= 8
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "loaded = sorted(m for m in ('torch', 'numpy', 'torchvision') if m in sys.modules)\n"
            "assert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_top_of_the_package_holds_only_the_front_door():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "cli.py", "commands.py", "errors.py"]
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert {"settings", "intake", "grading", "checks", "processes", "wire", "child", "executor", "reports",
            "integrations"} <= packages
