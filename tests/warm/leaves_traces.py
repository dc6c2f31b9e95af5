"""Leaves everything it can behind in its sandbox, then fails: files in each writable folder,
a process that outlives it, a System V shared memory segment and a module in sys.modules."""

import ctypes
import os
import subprocess
import sys
import tempfile

import torch.nn as nn

KEY = 0x5EED0001


class LeNet5(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        for folder in (os.getcwd(), tempfile.gettempdir(), "/tmp", "/dev/shm", os.path.expanduser("~")):
            try:
                with open(os.path.join(folder, "left-by-the-previous-submission"), "w") as f:
                    f.write("secret answers")
            except OSError:
                pass
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)  # left-behind-sleeper"],
                         start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmget(KEY, 4096, 0o1000 | 0o666)
        sys.modules["left_behind_module"] = sys
        print("LEAVER WAS HERE", flush=True)
        raise RuntimeError("left traces behind")
