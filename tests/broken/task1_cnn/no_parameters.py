"""__init__ defines no layers; forward only pools, so nothing can be trained."""
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return F.log_softmax(F.adaptive_avg_pool2d(x, (1, 10)).flatten(1), dim=1)
