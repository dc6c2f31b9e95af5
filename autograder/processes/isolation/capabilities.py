"""What this machine allows a sandbox: trials run once per grader process, and the level they choose.

Each trial runs a small command and answers with an empty string when it
succeeds, else the reason in words (which the record repeats). Trials of a
whole sandbox build their command as a real child's is built, through a level
and a ``View`` of a fresh folder, so that what was tried is what runs.
``choose_level`` takes the strongest level that starts Python and finds torch
here, as the sandbox user where possible: a Python whose packages an
unprivileged user cannot read, or a kernel that refuses a mount, falls back
instead of failing every submission.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .levels import LEVELS, Level
from .view import View


@dataclass(frozen=True)
class Reasons:
    """Why a measure is missing, in words (empty where it is in force)."""

    namespaces: str = ""        # no namespaces at all
    bubblewrap: str = ""        # bubblewrap is not used
    user: str = ""              # the sandbox user is not applied


def run_trial(command: list[str], cwd: Path | None = None) -> str:
    """Empty when ``command`` exits 0, else its last line of output in words."""
    try:
        done = subprocess.run(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the probe could not run ({exc})"
    if done.returncode != 0:
        text = done.stdout.decode(errors="replace").strip().splitlines()
        return f"status {done.returncode}: {text[-1][:160] if text else 'no output'}"
    return ""


@functools.lru_cache(maxsize=None)
def namespaces_available() -> str:
    """Empty when namespaces can be used here, else the reason they cannot."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the grader is not running as root"
    for tool in ("unshare", "setpriv", "mount"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed"
    failed = run_trial(["unshare", "-n", "-i", "-m", "--pid", "--fork", "--kill-child", "--mount-proc",
                        "setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "true"])
    return f"unshare failed ({failed})" if failed else ""


@functools.lru_cache(maxsize=None)
def parent_death_prefix() -> tuple[str, ...]:
    """A command prefix that kills the child when the grader dies (also by SIGKILL), or () if none works."""
    setpriv = shutil.which("setpriv")
    if setpriv and not run_trial([setpriv, "--pdeathsig", "KILL", "true"]):
        return (setpriv, "--pdeathsig", "KILL")
    return ()


@functools.lru_cache(maxsize=None)
def bwrap_fails() -> str:
    """Empty when bubblewrap can build the sandbox here, else the reason it cannot."""
    if namespaces_available():
        return namespaces_available()
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    return ""


def _python_in_sandbox_fails(level_name: str, uid: int | None, code: str) -> str:
    """Run ``python -I -c code`` in a sandbox of the level, in a fresh folder prepared for ``uid``."""
    folder = Path(tempfile.mkdtemp(prefix="autograder-trial-"))
    try:
        level = LEVELS[level_name]
        level.prepare_folder(folder, uid)
        command = level.wrap([sys.executable, "-I", "-c", code], View(folder, user=uid))
        return run_trial([*parent_death_prefix(), *command], cwd=folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


FINDS_TORCH = ("import importlib.util as u, sys; spec = u.find_spec('torch'); open(spec.origin, 'rb').read(64); "
               "sys.exit(0 if u.find_spec('numpy') else 3)")
MAKES_OWN_NAMESPACES = ("import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True)\n"
                        "if libc.unshare(0x18000000): sys.exit(os.strerror(ctypes.get_errno()))")


@functools.lru_cache(maxsize=None)
def setup_fails(level_name: str, uid: int | None) -> str:
    """Empty when a sandbox of the level (as ``uid``) can start Python and find torch, else why not."""
    return _python_in_sandbox_fails(level_name, uid, FINDS_TORCH)


@functools.lru_cache(maxsize=None)
def own_namespaces_fail(level_name: str, uid: int | None) -> str:
    """Empty when a process in a sandbox of the level (as ``uid``) may make its own user and IPC
    namespaces, as each submission's child does (wire/confine.py), else why not."""
    return _python_in_sandbox_fails(level_name, uid, MAKES_OWN_NAMESPACES)


def choose_level(uid: int | None) -> tuple[Level, int | None, Reasons]:
    """The best level that starts Python here, the user applied (``uid`` where it works, else None),
    and why anything stronger is missing."""
    namespaces = namespaces_available()
    if namespaces:
        return LEVELS["none"], None, Reasons(namespaces=namespaces)
    bubblewrap, user = bwrap_fails(), ""
    for name in (["unshare"] if bubblewrap else ["bwrap", "unshare"]):
        if uid:
            user = setup_fails(name, uid)
            if not user:
                return LEVELS[name], uid, Reasons(namespaces, bubblewrap, user)
        reason = setup_fails(name, None)
        if not reason:
            return LEVELS[name], None, Reasons(namespaces, bubblewrap, user)
        if name == "bwrap":
            bubblewrap = f"bubblewrap could not start Python here ({reason})"
        else:
            namespaces = f"the sandbox's mounts could not be set up ({reason})"
    return LEVELS["none"], None, Reasons(namespaces, bubblewrap, user)
