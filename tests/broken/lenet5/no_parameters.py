"""__init__ defines no layers yet."""
import torch.nn as nn
import torch.nn.functional as F


class LeNet5(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.n_classes = n_classes

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, (1, self.n_classes)).flatten(1)
