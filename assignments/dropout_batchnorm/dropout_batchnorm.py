"""Dropout and batch normalisation written by hand, to match torch.nn's modules.

Fill in both classes (README.md says how they are graded). Use plain tensor
operations: nn.Dropout, F.dropout, nn.BatchNorm2d and F.batch_norm are what
your code is compared with, not what it may call.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class MyDropout(nn.Module):
    """Dropout with probability ``p``.

    Train mode (``self.training`` True): zero each element independently with
    probability p and multiply the survivors by 1 / (1 - p), with a fresh
    random mask on every call. Eval mode: return the input unchanged.
    No parameters.
    """

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        raise NotImplementedError("MyDropout.forward is not implemented yet")


class MyBatchNorm2d(nn.Module):
    """Batch normalisation of (N, C, H, W) inputs, per channel, as nn.BatchNorm2d.

    - Learnable ``weight`` (γ, starts at 1) and ``bias`` (β, starts at 0), one
      per channel, as nn.Parameter.
    - Buffers ``running_mean`` (starts at 0) and ``running_var`` (starts at 1),
      registered with self.register_buffer.
    - Train mode: normalise with the batch mean and the biased batch variance
      over (N, H, W); update running = (1 - momentum) * running + momentum * batch
      statistic, using the unbiased variance for running_var.
    - Eval mode: normalise with the running statistics.
    - Output: (x - mean) / sqrt(var + eps) * γ + β, with eps = 1e-5, momentum = 0.1.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        # TODO: the parameters weight and bias, the buffers running_mean and running_var.

    def forward(self, x):
        raise NotImplementedError("MyBatchNorm2d.forward is not implemented yet")
