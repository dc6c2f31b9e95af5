"""cross_entropy handed to F.cross_entropy: right values and right gradients."""

import torch.nn.functional as F


def cross_entropy(logits, targets):
    return F.cross_entropy(logits, targets)
