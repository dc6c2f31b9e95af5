"""Linear regression and an MLP with PyTorch.

Fill in the classes and functions below (README.md says how each is graded).
"""

from __future__ import annotations

import torch
import torch.nn as nn


class LM(nn.Module):
    """A linear model: exactly one nn.Linear(n_inputs, 1).

    forward maps (N, n_inputs) to (N, 1); LM(10) has 11 parameters.
    """

    def __init__(self, n_inputs):
        super().__init__()
        raise NotImplementedError("LM.__init__ is not implemented yet")

    def forward(self, x):
        raise NotImplementedError("LM.forward is not implemented yet")


def gd_step(w, b, X, y, lr):
    """One step of gradient descent on the mean squared error of X @ w + b against y.

    ``w`` (shape (d,)) and ``b`` (shape (1,)) require grad. Zero their
    gradients, compute the loss, call backward(), then update every parameter
    in place with p -= lr * p.grad (under torch.no_grad()). Return the loss
    (a float) computed before the update.
    """
    raise NotImplementedError("gd_step is not implemented yet")


def fit_linear(X, y, epochs, lr, batch_size):
    """Train a fresh ``LM(X.shape[1])`` on the data and return the trained model.

    ``X`` has shape (N, d) and ``y`` shape (N,) (float32 tensors, as made by
    ``sklearn.datasets.make_regression``). Use plain SGD
    (``torch.optim.SGD(model.parameters(), lr=lr)``) on the mean squared error;
    each of the ``epochs`` epochs visits the rows in a new random order,
    ``batch_size`` rows per step. The model predicts shape (N, 1): reshape y to
    (N, 1) before comparing, or the loss broadcasts to (N, N).
    Trained on ``make_regression(100, 10, n_informative=3)`` data, the model's
    weights should be the three informative coefficients and about 0 elsewhere.
    """
    raise NotImplementedError("fit_linear is not implemented yet")


class MLP(nn.Module):
    """net(n_inputs): n_inputs -> 64 -> ReLU -> 32 -> ReLU -> 1."""

    def __init__(self, n_inputs):
        super().__init__()
        raise NotImplementedError("MLP.__init__ is not implemented yet")

    def forward(self, x):
        raise NotImplementedError("MLP.forward is not implemented yet")


def batches(n_samples, batch_size):
    """Return the index tensors of one epoch's batches, in order.

    Batch i holds indices i*batch_size .. (i+1)*batch_size - 1; the last batch
    may be smaller. batch_size 1 is stochastic gradient descent, 32 mini-batch,
    and a batch size >= n_samples full-batch gradient descent (one batch).
    """
    raise NotImplementedError("batches is not implemented yet")


def collapse_linear(w1, b1, w2, b2):
    """Return ``(weight, bias)`` of the one linear layer that computes the same as two
    stacked layers with no activation between them.

    The first layer has weight ``w1`` (hidden, in) and bias ``b1`` (hidden,); the
    second ``w2`` (out, hidden) and ``b2`` (out,), as ``nn.Linear`` stores them:
    y = w2 (w1 x + b1) + b2. Multiply it out: weight has shape (out, in) and
    bias (out,). This is why an MLP needs its ReLUs.
    """
    raise NotImplementedError("collapse_linear is not implemented yet")
