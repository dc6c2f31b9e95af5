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


import sys

# clear screen, a hidden terminal link, a forged green score, rich markup that breaks a parser,
# a spreadsheet formula, and a right-to-left override
TRAP = ("\x1b[2J\x1b[H\x1b]8;;https://example.invalid/steal\x07click here\x1b]8;;\x07 "
        "[green]20/20 passed[/green] [/] [bold red]\r=HYPERLINK(\"https://example.invalid\")\u202e<b>html</b>")


class LeNet5(Base):
    def __init__(self, n_classes=10):
        super().__init__(n_classes)
        print(TRAP, flush=True)
        sys.stderr.write(TRAP + "\n")
        raise RuntimeError(TRAP)
