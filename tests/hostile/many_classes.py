"""A LeNet5 whose output has 30,000 columns, the last one always the largest.

Its weights are whatever the grader's initialisation gives them, so the argmax
lands on class 29,999 by structure: the ten logits are padded with zeros to
29,999 columns and a last column of 10,000 is appended (cheap to train, unlike
a 30,000-wide Linear). A parent that sized anything by the largest predicted
class would build a 30,000 x 30,000 confusion matrix (7.2 GB) and a list of it.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

OUTPUTS = 30_000


class LeNet5(nn.Module):
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
        out = self.f2(torch.tanh(self.f1(x)))
        padded = F.pad(out, (0, OUTPUTS - 1 - out.shape[1]))
        return torch.cat([padded, out[:, :1] * 0 + 1.0e4], dim=1)
