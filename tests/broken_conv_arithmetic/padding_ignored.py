"""Convolution arithmetic: output sizes, pooling written by hand, CNN shapes.

Broken on purpose: conv_output_size ignores the padding.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.model_selection import train_test_split


def conv_output_size(size, kernel_size, padding=0, stride=1):
    """Output size of a convolution or pooling along one side: (H - F + 2P) // S + 1."""
    return (size - kernel_size) // stride + 1  # bug: padding ignored


def _pool(x, kernel_size, stride, reduce):
    stride = kernel_size if stride is None else stride
    n, c, h, w = x.shape
    out_h = conv_output_size(h, kernel_size, 0, stride)
    out_w = conv_output_size(w, kernel_size, 0, stride)
    out = torch.zeros(n, c, out_h, out_w, dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            out[:, :, i, j] = reduce(window.reshape(n, c, -1))
    return out


def max_pool2d(x, kernel_size, stride=None):
    """Max pooling of an (N, C, H, W) tensor with loops; stride defaults to kernel_size."""
    return _pool(x, kernel_size, stride, lambda window: window.max(dim=-1).values)


def avg_pool2d(x, kernel_size, stride=None):
    """Average pooling of an (N, C, H, W) tensor with loops; stride defaults to kernel_size."""
    return _pool(x, kernel_size, stride, lambda window: window.mean(dim=-1))


def report_cnn_shapes(batch_size=1):
    """Shapes (C, H, W) after each stage of the report's MNIST CNN for a 1x28x28 input:
    conv 1->4 (5x5), max-pool 2, conv 4->8 (5x5), max-pool 2."""
    x = torch.zeros(batch_size, 1, 28, 28)
    shapes = []
    for layer in (nn.Conv2d(1, 4, 5), nn.MaxPool2d(2), nn.Conv2d(4, 8, 5), nn.MaxPool2d(2)):
        x = layer(x)
        shapes.append(list(x.shape[1:]))
    return shapes


def validation_split(X, y):
    """Hold out 20% of (X, y) for validation, as the slide deck does:
    returns (X_train, X_val, y_train, y_val)."""
    return train_test_split(X, y, test_size=0.2, random_state=1212)


class CNNModel(nn.Module):
    """The slide deck's CNN: conv 1->16 (3x3), max-pool 2, conv 16->32 (3x3), max-pool 2, linear 800->10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.fc = nn.Linear(32 * 5 * 5, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)   # (N, 1, 28, 28) -> (N, 16, 13, 13)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)   # -> (N, 32, 5, 5)
        return self.fc(x.flatten(1))                 # (N, 800) -> (N, 10)
