"""A network that calls an op outside the grader's allow-list (a matrix decomposition)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        q, _ = torch.linalg.qr(x.T @ x)
        return F.log_softmax(self.fc(x @ q), dim=1)
