"""Convolution arithmetic: output sizes, convolution and pooling written by hand, CNN shapes.

Reference solution.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.model_selection import train_test_split


def conv_output_size(size, kernel_size, padding=0, stride=1):
    """Output size of a convolution or pooling along one side: (H - F + 2P) // S + 1."""
    return (size - kernel_size + 2 * padding) // stride + 1


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


def _zero_pad(x, padding, dims):
    """``x`` with ``padding`` zeros added on both sides of its last ``dims`` dimensions."""
    if not padding:
        return x
    shape = list(x.shape)
    for d in range(1, dims + 1):
        shape[-d] += 2 * padding
    padded = x.new_zeros(shape)
    inner = [slice(None)] * (x.dim() - dims) + [slice(padding, padding + n) for n in x.shape[-dims:]]
    padded[tuple(inner)] = x
    return padded


def conv1d(x, weight, stride=1, padding=0):
    """Cross-correlation of x (N, C_in, L) with weight (C_out, C_in, K), as F.conv1d without a bias."""
    x = _zero_pad(x, padding, 1)
    k = weight.shape[-1]
    out_len = (x.shape[-1] - k) // stride + 1
    outputs = []
    for i in range(out_len):
        window = x[:, :, i * stride:i * stride + k]                          # (N, C_in, K)
        outputs.append((window.unsqueeze(1) * weight).sum(dim=(2, 3)))      # (N, C_out)
    return torch.stack(outputs, dim=-1)                                      # (N, C_out, L_out)


def conv2d(x, weight, stride=1, padding=0):
    """Cross-correlation of x (N, C_in, H, W) with weight (C_out, C_in, KH, KW), as F.conv2d without a bias."""
    x = _zero_pad(x, padding, 2)
    kh, kw = weight.shape[-2:]
    out_h = (x.shape[-2] - kh) // stride + 1
    out_w = (x.shape[-1] - kw) // stride + 1
    rows = []
    for i in range(out_h):
        row = []
        for j in range(out_w):
            window = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]   # (N, C_in, KH, KW)
            row.append((window.unsqueeze(1) * weight).sum(dim=(2, 3, 4)))           # (N, C_out)
        rows.append(torch.stack(row, dim=-1))                                         # (N, C_out, W_out)
    return torch.stack(rows, dim=-2)                                                  # (N, C_out, H_out, W_out)


def conv_parameter_count(in_channels, out_channels, kernel_size, bias=True):
    """Trainable parameters of nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias):
    one kernel_size x kernel_size filter per input channel for each output channel, plus a bias each."""
    return out_channels * (in_channels * kernel_size * kernel_size + (1 if bias else 0))


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
