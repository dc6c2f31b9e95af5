"""MNIST challenge: a network of your own design, trained wherever you like.

Fill in the class Net below, train it (on your machine, a lab computer or a
notebook with a GPU), and save its weights:

    torch.save(model.state_dict(), "model.pt")

Hand in a folder holding this file and model.pt; README.md says exactly what
the grader does with them.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """Your network: any layers you like, at most 1,000,000 parameters.

    Input: normalised images, shape (N, 1, 28, 28): pixels / 255, minus 0.1307, divided by 0.3081.
    Output: one score per digit (logits, log-probabilities or probabilities), shape (N, 10).
    """

    def __init__(self):
        super().__init__()
        # TODO: define your layers.

    def forward(self, x):
        # TODO: compute the ten scores of each image of the batch.
        raise NotImplementedError("Net.forward is not implemented yet")
