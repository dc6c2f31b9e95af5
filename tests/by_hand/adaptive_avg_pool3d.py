"""avg_pool2d handed to F.adaptive_avg_pool3d: an (N, C, H, W) tensor read as one unbatched 3-D
volume, pooled to (C, H // k, W // k), gives the same non-overlapping k x k means."""

import torch.nn.functional as F


def avg_pool2d(x, kernel_size, stride=None):
    n, c, h, w = x.shape
    return F.adaptive_avg_pool3d(x, (c, h // kernel_size, w // kernel_size))
