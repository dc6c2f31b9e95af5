"""Looks for the message queue and the key tests/hostile/keys_and_queues.py makes, prints what it found
and which child of its warm process it is, then fails."""

import ctypes
import errno
import os
from pathlib import Path

import torch.nn as nn

QUEUE = b"/hostile-queue-4f1c9e"
KEY = b"hostile-key-4f1c9e"
KEYCTL = {"x86_64": 250, "aarch64": 219}       # the call's number on each machine
KEYCTL_SEARCH = 10
KEYRINGS = {"user": -4, "session": -3, "user session": -5}


def found() -> list[str]:
    libc = ctypes.CDLL(None, use_errno=True)
    seen = []
    try:
        if libc.mq_open(QUEUE, os.O_RDWR) >= 0:
            seen.append("queue")
        elif ctypes.get_errno() != errno.ENOENT:
            seen.append(f"queue? ({os.strerror(ctypes.get_errno())})")
    except PermissionError:
        pass            # refused: nothing can be found either
    for name, keyring in KEYRINGS.items():
        try:
            if libc.syscall(KEYCTL[os.uname().machine], KEYCTL_SEARCH, keyring, b"user", KEY, 0) >= 0:
                seen.append(f"key in the {name} keyring")
        except PermissionError:
            pass
    try:
        if KEY.decode() in Path("/proc/keys").read_text():
            seen.append("key in /proc/keys")
    except OSError:
        pass
    return seen


class LeNet5(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        # a warm child's file lies in submission-N, N counting the children of its warm process
        print(f"LOOKER CHILD {Path(__file__).parent.name} FOUND {found()}", flush=True)
        raise RuntimeError("only looking")
