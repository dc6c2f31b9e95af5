"""Tensors and autograd: gradients, a custom function, optimizers, data sets.

Reference solution.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import Dataset


def tensor_from_list(values):
    """A tensor holding ``values`` (nested lists of numbers) with torch's default dtype rules."""
    return torch.tensor(values)


def tensor_from_numpy(array):
    """A float32 tensor holding the numpy ``array``."""
    return torch.from_numpy(np.asarray(array)).float()


def grad_of_squared_dot(x, y):
    """Return the gradient of (x·y)² with respect to ``x`` (x requires grad)."""
    x = x.detach().clone().requires_grad_(True)
    (torch.dot(x, y) ** 2).backward()
    return x.grad


class MyReLU(torch.autograd.Function):
    """ReLU as a custom autograd function."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        grad = grad_output.clone()
        grad[x < 0] = 0
        return grad


def shifted_relu_product(x, y):
    """MyReLU(x - 0.5) * y, built with ``MyReLU.apply``."""
    return MyReLU.apply(x - 0.5) * y


def vector_function(x):
    """y = (x0·x1, x0², 3·x1): from R² to R³, Jacobian [[x1, x0], [2·x0, 0], [0, 3]]."""
    return torch.stack([x[0] * x[1], x[0] ** 2, 3 * x[1]])


def vjp(x, v):
    """vᵀJ of vector_function at x, by y.backward(v); x.grad holds it afterwards."""
    y = vector_function(x)          # (3,): not a scalar, so backward() needs the vector v
    y.backward(v)
    return x.grad.clone()


def two_vjps(x, v1, v2):
    """v1ᵀJ and v2ᵀJ from one forward pass, stacked as a (2, 2) tensor."""
    y = vector_function(x)
    y.backward(v1, retain_graph=True)   # keep the graph: a second backward pass follows
    first = x.grad.clone()              # a copy: zero_() below changes x.grad in place
    x.grad.zero_()
    y.backward(v2)
    return torch.stack([first, x.grad.clone()])


def minimize(function, start, lr=0.1, steps=500):
    """Minimise ``function`` (tensor -> scalar tensor) from ``start`` with SGD; return the final point."""
    x = torch.tensor(start, dtype=torch.float32, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        function(x).backward()
        optimizer.step()
    return x.detach()


def quadratic(x, target=2.0):
    """f(x) = (x - target)²; the exercise's (x - 2)² by default."""
    return (x - target) ** 2


def minimize_quadratic(start=0.0, target=2.0):
    """Minimise ``quadratic`` from x = start with a torch optimizer; return x (close to target)."""
    return minimize(lambda x: quadratic(x, target), float(start), lr=0.1, steps=200)


def wavy(x, a=2.0):
    """f(x) = sin(x - a)·(x + a)² + sqrt(|cos x|); the exercise's function is a = 2."""
    return torch.sin(x - a) * (x + a) ** 2 + torch.sqrt(torch.abs(torch.cos(x)))


def minimize_wavy(start=0.0, a=2.0):
    """Minimise ``wavy`` (with this a) from x = start with SGD; return x (a local minimum)."""
    return minimize(lambda x: wavy(x, a), float(start), lr=0.05, steps=500)


def two_variables(v, shift=0.0, weight=1.0):
    """f(x, y) = exp(sin(x - shift)²)/(x - y)² + weight·(x - y)⁴ for v = [x, y]; the exercise's
    function is shift = 0, weight = 1."""
    x, y = v[0], v[1]
    return torch.exp(torch.sin(x - shift) ** 2) / (x - y) ** 2 + weight * (x - y) ** 4


def minimize_two_variables(start=(0.2, 10.0), shift=0.0, weight=1.0):
    """Minimise ``two_variables`` (with this shift and weight) from (x, y) = start; return the tensor [x, y].

    The gradient at the start is in the thousands, so large steps would throw the
    point far away: 300 small SGD steps (lr 0.001) close most of the gap
    between x and y, then 700 larger ones (lr 0.02) let (x, y) settle.
    """
    objective = lambda v: two_variables(v, shift, weight)
    v = minimize(objective, [float(s) for s in start], lr=0.001, steps=300)
    return minimize(objective, v.tolist(), lr=0.02, steps=700)


class ArrayDataset(Dataset):
    """A Dataset over a feature array X (n, d) and a target array y (n,)."""

    def __init__(self, X, y):
        self.X = torch.as_tensor(X, dtype=torch.float32)
        self.y = torch.as_tensor(y, dtype=torch.float32)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        return self.X[index], self.y[index]


def load_libsvm(path):
    """Read a libsvm-format file: each line 'label index:value ...' with 1-based indices.

    Returns (X, y): X a float32 tensor (rows, largest index), y a float32 tensor.
    """
    rows, labels, width = [], [], 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            label, *pairs = line.split()
            labels.append(float(label))
            row = {}
            for pair in pairs:
                index, value = pair.split(":")
                row[int(index) - 1] = float(value)
                width = max(width, int(index))
            rows.append(row)
    X = torch.zeros(len(rows), width)
    for i, row in enumerate(rows):
        for j, value in row.items():
            X[i, j] = value
    return X, torch.tensor(labels)
