"""Looks for anything an earlier submission could have left, prints what it found, then fails."""

import os
import sys
import tempfile

import torch.nn as nn


def traces() -> list[str]:
    found = []
    for folder in {os.getcwd(), tempfile.gettempdir(), "/tmp", "/dev/shm", os.path.expanduser("~")}:
        for root, _, files in os.walk(folder):
            found += [os.path.join(root, name) for name in files if name == "left-by-the-previous-submission"]
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"left-behind-sleeper" in f.read():
                    found.append(f"process {pid}")
        except OSError:
            pass
    for kind in ("shm", "msg", "sem"):
        with open(f"/proc/sysvipc/{kind}") as f:
            found += [f"{kind}: {line.strip()}" for line in f.readlines()[1:]]
    if "left_behind_module" in sys.modules:
        found.append("module")
    return found


class LeNet5(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        print(f"LOOKER FOUND {traces()}", flush=True)
        raise RuntimeError("only looking")
