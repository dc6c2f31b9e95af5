"""BROKEN on purpose (MyDropout does not scale the survivors by 1/(1-p)).

Dropout and batch normalisation written by hand, to match torch.nn's modules."""

from __future__ import annotations

import torch
import torch.nn as nn


class MyDropout(nn.Module):
    """Dropout with probability ``p``.

    Train mode: zero each element independently with probability p and scale
    the survivors by 1 / (1 - p). Eval mode: the identity.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = (torch.rand_like(x) >= self.p).to(x.dtype)   # 1 where the element survives
        return x * keep


class MyBatchNorm2d(nn.Module):
    """Batch normalisation over (N, H, W) for each of ``num_features`` channels.

    Learnable ``weight`` (γ, starts at 1) and ``bias`` (β, starts at 0); buffers
    ``running_mean`` (starts at 0) and ``running_var`` (starts at 1) updated in
    train mode with ``momentum`` (0.1) using the unbiased batch variance; eval
    mode normalises with the running statistics. ``eps`` = 1e-5.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x):
        # x: (N, C, H, W); statistics per channel, shape (C,)
        if self.training:
            mean = x.mean(dim=(0, 2, 3))
            var = x.var(dim=(0, 2, 3), unbiased=False)
            count = x.numel() / x.size(1)
            with torch.no_grad():
                unbiased = var * count / max(count - 1, 1)
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * unbiased)
        else:
            mean, var = self.running_mean, self.running_var
        shape = (1, -1, 1, 1)
        x_hat = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        return x_hat * self.weight.view(shape) + self.bias.view(shape)
