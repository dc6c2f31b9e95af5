"""Makes a POSIX message queue and a key in the user keyring as it builds, says which it could make,
then fails. Each try is made twice: through ctypes here, and from a program of its own (which the
kit's naming of refused calls does not watch, so there the kernel's answer shows)."""

import ctypes
import os
import subprocess
import sys

import torch.nn as nn

QUEUE = b"/hostile-queue-4f1c9e"
KEY = b"hostile-key-4f1c9e"
ADD_KEY = {"x86_64": 248, "aarch64": 217}      # the call's number on each machine
USER_KEYRING = -4
RAW = """
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def answer(result):
    return "made" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
queue = answer(libc.mq_open(QUEUE, os.O_CREAT | os.O_RDWR, 0o666, None))
key = answer(libc.syscall(ADD_KEY, b"user", KEY, b"secret answers", 14, USER_KEYRING))
print(f"mq_open={queue} add_key={key}")
"""


def attempt(what, call):
    try:
        result = call()
        print(f"{what} {'made' if result >= 0 else 'failed: ' + os.strerror(ctypes.get_errno())}", flush=True)
    except PermissionError as exc:
        print(f"{what} refused: {exc}", flush=True)


class LeNet5(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        libc = ctypes.CDLL(None, use_errno=True)
        add_key = ADD_KEY[os.uname().machine]
        attempt("QUEUE", lambda: libc.mq_open(QUEUE, os.O_CREAT | os.O_RDWR, 0o666, None))
        attempt("KEY", lambda: libc.syscall(add_key, b"user", KEY, b"secret answers", 14, USER_KEYRING))
        given = f"QUEUE, KEY, ADD_KEY, USER_KEYRING = {QUEUE!r}, {KEY!r}, {add_key}, {USER_KEYRING}\n"
        raw = subprocess.run([sys.executable, "-c", given + RAW], capture_output=True, text=True)
        print(f"RAW {raw.stdout.strip()} {raw.stderr.strip()[-200:]}", flush=True)
        raise RuntimeError("left a message queue and a key behind")
