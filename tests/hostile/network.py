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

PORTS = range(47613, 47621)     # the test listens on the first of these that is free


class LeNet5(Base):
    def __init__(self, n_classes=10):
        super().__init__(n_classes)
        for host in ("127.0.0.1", "localhost"):
            for port in PORTS:
                try:
                    with socket.create_connection((host, port), timeout=2) as s:
                        s.sendall(b"stolen-data")
                    print("NETWORK-CONNECTED", port, flush=True)
                except OSError as exc:
                    print("NETWORK-BLOCKED", port, type(exc).__name__, flush=True)
        raise RuntimeError("network attempted")
