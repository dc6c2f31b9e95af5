"""Reads the user keyring's id through keyctl as it builds, without catching anything: the report
must name the call the sandbox refused."""

import ctypes
import os

import torch.nn as nn

KEYCTL = {"x86_64": 250, "aarch64": 219}       # the call's number on each machine
KEYCTL_GET_KEYRING_ID, USER_KEYRING = 0, -4


class LeNet5(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        libc = ctypes.CDLL(None, use_errno=True)
        print(f"KEYRING {libc.syscall(KEYCTL[os.uname().machine], KEYCTL_GET_KEYRING_ID, USER_KEYRING, 0)}", flush=True)
        self.fc = nn.Linear(784, n_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
