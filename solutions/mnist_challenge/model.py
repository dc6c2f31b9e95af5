"""MNIST challenge: a network of your own design, trained wherever you like.

Hand in this file (class ``Net``) and ``model.pt``, the network's trained
``state_dict()`` as ``torch.save`` writes it. ``train.py`` beside this file
trains this network and writes ``model.pt``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """Two convolution blocks with batch norm, then two fully connected layers (about 105,000 parameters).

    Input: normalised images, shape (N, 1, 28, 28) (pixels / 255, minus 0.1307, divided by 0.3081).
    Output: one score (logit) per digit, shape (N, 10).
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.dropout = nn.Dropout(0.25)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)   # (N, 1, 28, 28) -> (N, 16, 14, 14)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)   # -> (N, 32, 7, 7)
        x = torch.flatten(x, 1)                                 # -> (N, 1568)
        x = self.dropout(F.relu(self.fc1(x)))                   # -> (N, 64)
        return self.fc2(x)                                      # -> (N, 10)
