"""Convolution arithmetic: output sizes, convolution and pooling written by hand, CNN shapes.

Fill in the functions and the class below (README.md says how each is graded).
Write the convolution and pooling functions with loops over the output
positions; do not call torch's own convolution, pooling or unfold there.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.model_selection import train_test_split


def conv_output_size(size, kernel_size, padding=0, stride=1):
    """Return the output size (an int) of a convolution or pooling along one side.

    The formula is (H - F + 2P) / S + 1, rounded down, with H = ``size``,
    F = ``kernel_size``, P = ``padding`` and S = ``stride``.
    Example: conv_output_size(28, 5) == 24.
    """
    raise NotImplementedError("conv_output_size is not implemented yet")


def max_pool2d(x, kernel_size, stride=None):
    """Max pooling of ``x`` (shape (N, C, H, W)) written with loops.

    Windows are ``kernel_size`` x ``kernel_size``; ``stride`` defaults to
    ``kernel_size``. Returns a tensor of shape (N, C, H_out, W_out) with the
    sizes given by ``conv_output_size``; it must equal ``nn.MaxPool2d``'s output.
    """
    raise NotImplementedError("max_pool2d is not implemented yet")


def avg_pool2d(x, kernel_size, stride=None):
    """Average pooling of ``x`` (shape (N, C, H, W)) written with loops.

    Same windows as ``max_pool2d``; each output is the mean of its window.
    It must equal ``nn.AvgPool2d``'s output.
    """
    raise NotImplementedError("avg_pool2d is not implemented yet")


def conv1d(x, weight, stride=1, padding=0):
    """A 1D convolution written with a loop over the output positions.

    ``x`` has shape (N, C_in, L) and ``weight`` (C_out, C_in, K). Add
    ``padding`` zeros at both ends of each row, then slide the kernel by
    ``stride``: output ``[n, o, i]`` is the sum over channels c and offsets k of
    ``x[n, c, i * stride + k] * weight[o, c, k]`` (the kernel is not flipped,
    as in PyTorch). Return shape (N, C_out, L_out); it must equal
    ``F.conv1d(x, weight, stride=stride, padding=padding)``.
    Example: [1, 0, 2, -1, 1, 2] with the kernel [1, 0, -1] gives [-1, 1, 1, -3].
    Keep to torch operations so gradients flow back to ``x`` and ``weight``.
    """
    raise NotImplementedError("conv1d is not implemented yet")


def conv2d(x, weight, stride=1, padding=0):
    """A 2D convolution written with loops over the output positions.

    ``x`` has shape (N, C_in, H, W) and ``weight`` (C_out, C_in, KH, KW).
    Pad ``padding`` zeros on every side, slide the kernel by ``stride`` along
    both axes; return shape (N, C_out, H_out, W_out), equal to
    ``F.conv2d(x, weight, stride=stride, padding=padding)``.
    """
    raise NotImplementedError("conv2d is not implemented yet")


def conv_parameter_count(in_channels, out_channels, kernel_size, bias=True):
    """Return the number of trainable parameters (an int) of
    ``nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias)``, computed
    with arithmetic: each output channel has one kernel_size x kernel_size
    filter per input channel, plus one bias when ``bias`` is True.
    Example: conv_parameter_count(1, 1, 3) == 10.
    """
    raise NotImplementedError("conv_parameter_count is not implemented yet")


def report_cnn_shapes(batch_size=1):
    """Return the shape [C, H, W] after each of the four stages of the report's
    MNIST CNN for a 1x28x28 input, as a list of four lists:
    conv 1->4 (5x5), max-pool 2, conv 4->8 (5x5), max-pool 2.
    Build the layers and run a tensor through them.
    """
    raise NotImplementedError("report_cnn_shapes is not implemented yet")


def validation_split(X, y):
    """Split off a validation set the way the slide deck does before training CNNModel.

    Use scikit-learn's ``train_test_split`` with 20% of the rows held out and
    ``random_state=1212``, and return its four parts in its order:
    ``(X_train, X_val, y_train, y_val)``. With 60 rows, 48 train and 12 validate.
    """
    raise NotImplementedError("validation_split is not implemented yet")


class CNNModel(nn.Module):
    """The slide deck's CNN for 1x28x28 images.

    conv 1->16 (3x3) + ReLU -> 16x26x26, max-pool 2 -> 16x13x13,
    conv 16->32 (3x3) + ReLU -> 32x11x11, max-pool 2 -> 32x5x5,
    flatten 800 -> linear 10 (logits).
    """

    def __init__(self):
        super().__init__()
        raise NotImplementedError("CNNModel.__init__ is not implemented yet")

    def forward(self, x):
        raise NotImplementedError("CNNModel.forward is not implemented yet")
