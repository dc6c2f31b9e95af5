"""Linear regression and an MLP with PyTorch.

Reference solution.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class LM(nn.Module):
    """A linear model: one nn.Linear(n_inputs, 1)."""

    def __init__(self, n_inputs):
        super().__init__()
        self.linear = nn.Linear(n_inputs, 1)

    def forward(self, x):
        return self.linear(x)  # (N, n_inputs) -> (N, 1)


def gd_step(w, b, X, y, lr):
    """One step of gradient descent on the mean squared error of X @ w + b against y.

    Zero the gradients of w and b, compute the loss, backpropagate, then update
    every parameter in place with p -= lr * p.grad (under torch.no_grad()).
    Returns the loss (a float) before the update.
    """
    for p in (w, b):
        if p.grad is not None:
            p.grad.zero_()
    loss = ((X @ w + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        for p in (w, b):
            p -= lr * p.grad
    return loss.item()


def fit_linear(X, y, epochs, lr, batch_size):
    """Train LM(X.shape[1]) on (X, y) with plain SGD on the mean squared error; return the model.

    Each epoch visits the rows in a fresh random order, batch_size rows per step.
    """
    model = LM(X.shape[1])
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    targets = y.view(-1, 1)                              # (N,) -> (N, 1), the shape of the predictions
    for _ in range(epochs):
        order = torch.randperm(len(X))
        for start in range(0, len(X), batch_size):
            index = order[start:start + batch_size]
            loss = ((model(X[index]) - targets[index]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


class MLP(nn.Module):
    """net(n_inputs): n_inputs -> 64 -> ReLU -> 32 -> ReLU -> 1."""

    def __init__(self, n_inputs):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(n_inputs, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(),
                                    nn.Linear(32, 1))

    def forward(self, x):
        return self.layers(x)  # (N, n_inputs) -> (N, 1)


def batches(n_samples, batch_size):
    """Index tensors of the batches of one epoch in order: batch_size 1 is stochastic,
    batch_size >= n_samples is full-batch gradient descent. The last batch may be smaller."""
    return [torch.arange(start, min(start + batch_size, n_samples))
            for start in range(0, n_samples, batch_size)]


def collapse_linear(w1, b1, w2, b2):
    """The single layer (weight, bias) equal to Linear(w1, b1) followed by Linear(w2, b2), no activation:
    W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2)."""
    return w2 @ w1, w2 @ b1 + b2       # (out, hidden) @ (hidden, in) -> (out, in); (out,)
