import torch
import torch.nn as nn
import torch.nn.functional as F


class Base(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.c2 = nn.Conv2d(6, 16, 5)
        self.c3 = nn.Conv2d(16, 120, 5)
        self.f1 = nn.Linear(120, 84)
        self.f2 = nn.Linear(84, n_classes)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.c1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.c2(x)), 2)
        x = torch.tanh(self.c3(x)).flatten(1)
        return self.f2(torch.tanh(self.f1(x)))


import ctypes

KEY = 0x4F1C9E01          # the test looks for this key in /proc/sysvipc/shm afterwards
IPC_CREAT = 0o1000


class LeNet5(Base):
    def __init__(self, n_classes=10):
        super().__init__(n_classes)
        libc = ctypes.CDLL(None, use_errno=True)
        segment = libc.shmget(KEY, 4096, IPC_CREAT | 0o666)
        print(f"SHM {segment}", flush=True)
        raise RuntimeError("left a shared memory segment behind")
