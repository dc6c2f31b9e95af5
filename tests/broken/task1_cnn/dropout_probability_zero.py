"""Both dropouts are in place but with probability 0: they never drop anything."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """Two convolutions, a dropout, two fully connected layers; log-probabilities out."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)     # (N, 1, 28, 28) -> (N, 10, 24, 24)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)    # (N, 10, 12, 12) -> (N, 20, 8, 8)
        self.conv2_drop = nn.Dropout2d(p=0.0)   # bug: drops nothing
        self.fc1 = nn.Linear(320, 50)                    # 20 * 4 * 4 = 320 features in
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))                   # (N, 10, 12, 12)
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))  # (N, 20, 4, 4)
        x = torch.flatten(x, 1)                                      # (N, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, p=0.0, training=self.training)   # bug: drops nothing
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)
