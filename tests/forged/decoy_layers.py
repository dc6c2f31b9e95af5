"""A logistic regression that computes convolutions, ReLUs and dropout only to throw them away."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, 5)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.fc1 = nn.Linear(320, 50)
        self.linear = nn.Linear(784, 10)

    def forward(self, x):
        decoy = F.relu(F.max_pool2d(self.conv1(x), 2))
        decoy = F.relu(F.max_pool2d(F.dropout2d(self.conv2(decoy), training=self.training), 2))
        decoy = F.dropout(F.relu(self.fc1(torch.flatten(decoy, 1))), training=self.training)
        return F.log_softmax(self.linear(torch.flatten(x, 1)), dim=1)
