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


import os
import subprocess
import sys

MARKER = "hostile-daemon-4f1c9e"


class LeNet5(Base):
    def __init__(self, n_classes=10):
        super().__init__(n_classes)
        # a child in its own session, and a double-forked daemon, both meant to outlive grading;
        # their command lines name the marker and the sandbox folder (which tells one test run's from another's)
        here = os.getcwd()
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", MARKER, here],
                         start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", MARKER, here])
            os._exit(0)
        raise RuntimeError("daemons started")
