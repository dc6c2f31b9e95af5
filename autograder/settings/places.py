"""Where the kit finds its data and keeps its cache, and which folders a sandbox must not show.

No torch here: the parent reads these before it imports torch, to start a batch's warm
processes early (processes/prestart.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from .model import Config


def resolve_data_dir(*, option: str | Path | None, config_value: str, config_root: Path) -> Path:
    """--data-dir, else $AUTOGRADER_DATA, else grading.toml's kit.data_dir, else ./data."""
    if option:
        return Path(option).expanduser()
    if os.environ.get("AUTOGRADER_DATA"):
        return Path(os.environ["AUTOGRADER_DATA"]).expanduser()
    if config_value:
        path = Path(config_value).expanduser()
        return path if path.is_absolute() else config_root / path
    return Path("data")


def cache_dir() -> Path:
    """Where extracted and downloaded data go: $AUTOGRADER_CACHE, else ~/.cache/autograder."""
    if os.environ.get("AUTOGRADER_CACHE"):
        return Path(os.environ["AUTOGRADER_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "autograder"


def hidden_folders(config: Config, data_dir: Path | None, path: Path | str | None) -> tuple:
    """Folders the child must not see: the kit, the data, where submissions and reports live
    (``path``: the submission; None for the executor, which runs no submission code)."""
    folders = [config.root, Path.cwd(), cache_dir()]
    if path is not None:
        folders.append(Path(path).resolve().parent)
    for value in (data_dir, os.environ.get("AUTOGRADER_DATA"), config.kit.data_dir):
        if value:
            folders.append(config.root / value if not Path(value).is_absolute() else Path(value))
    return tuple(folders)
