"""Tensors and autograd: gradients, a custom function, optimizers, data sets.

Fill in the functions and classes below (README.md says how each is graded).
Use torch operations throughout so autograd can follow your computations.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import Dataset


def tensor_from_list(values):
    """Return a tensor holding ``values`` (nested lists of numbers).

    Keep torch's default dtype rules: Python ints give int64, floats float32.
    """
    raise NotImplementedError("tensor_from_list is not implemented yet")


def tensor_from_numpy(array):
    """Return a float32 tensor holding ``array`` (a numpy array or anything np.asarray accepts)."""
    raise NotImplementedError("tensor_from_numpy is not implemented yet")


def grad_of_squared_dot(x, y):
    """Return the gradient of (x·y)² with respect to ``x`` (a 1-d tensor that requires grad).

    Use autograd (``backward()``), not the formula. With x = [1, 0] and
    y = [1, 1] the answer is [2, 2].
    """
    raise NotImplementedError("grad_of_squared_dot is not implemented yet")


class MyReLU(torch.autograd.Function):
    """ReLU as a custom autograd function, used as ``MyReLU.apply(x)``.

    ``forward(ctx, x)`` saves the input (``ctx.save_for_backward``) and
    returns it clamped at 0; ``backward(ctx, grad_output)`` returns
    ``grad_output`` with zeros where the saved input was negative.
    """

    @staticmethod
    def forward(ctx, x):
        raise NotImplementedError("MyReLU.forward is not implemented yet")

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError("MyReLU.backward is not implemented yet")


def shifted_relu_product(x, y):
    """Return ``MyReLU.apply(x - 0.5) * y``.

    With x = [1, 0] (requires grad) and y = [1, 1] it gives [0.5, 0], and the
    gradient of its sum with respect to x is [1, 0]. Do not touch ``x.grad``
    here: gradients of repeated backward passes must add up.
    """
    raise NotImplementedError("shifted_relu_product is not implemented yet")


def vector_function(x):
    """y = (x0·x1, x0², 3·x1): from R² to R³, Jacobian [[x1, x0], [2·x0, 0], [0, 3]]."""
    return torch.stack([x[0] * x[1], x[0] ** 2, 3 * x[1]])


def vjp(x, v):
    """Return the vector-Jacobian product vᵀJ of ``vector_function`` at ``x``.

    ``x`` (shape (2,)) requires grad; ``v`` has shape (3,). y = vector_function(x)
    is not a scalar, so ``y.backward()`` alone fails; ``y.backward(v)`` computes
    vᵀJ into ``x.grad``. Use it (not the Jacobian written out by hand, not
    ``torch.autograd.grad``) and return a copy of ``x.grad``.
    At x = [1, 2] with v = [1, 1, 1] the answer is [4, 4].
    """
    raise NotImplementedError("vjp is not implemented yet")


def two_vjps(x, v1, v2):
    """Return v1ᵀJ and v2ᵀJ of ``vector_function`` at ``x`` as a (2, 2) tensor,
    from ONE forward pass.

    Compute y once; call ``y.backward(v1, retain_graph=True)`` so the graph
    survives, copy ``x.grad``, zero it, then ``y.backward(v2)``. Afterwards
    ``x.grad`` holds v2ᵀJ alone.
    """
    raise NotImplementedError("two_vjps is not implemented yet")


def quadratic(x, target=2.0):
    """f(x) = (x - target)² for a tensor x; the exercise's (x - 2)² by default."""
    return (x - target) ** 2


def minimize_quadratic(start=0.0, target=2.0):
    """Minimise ``quadratic(x, target)`` starting from x = ``start`` with a torch
    optimizer (e.g. SGD); return the final x (a tensor or a float), which should
    be ``target`` within 0.001.

    The grader calls it with a start and a target it draws each run, e.g.
    ``minimize_quadratic(start=-1.37, target=2.62)``: use both arguments.
    """
    raise NotImplementedError("minimize_quadratic is not implemented yet")


def wavy(x, a=2.0):
    """f(x) = sin(x - a)·(x + a)² + sqrt(|cos x|) for a tensor x; the exercise's
    function is a = 2."""
    return torch.sin(x - a) * (x + a) ** 2 + torch.sqrt(torch.abs(torch.cos(x)))


def minimize_wavy(start=0.0, a=2.0):
    """Minimise ``wavy(x, a)`` starting from x = ``start`` (a float) with a torch
    optimizer; return the final x (a tensor or a float).

    f has many local minima; the grader wants the one you reach by going
    downhill from ``start`` (to within 0.005: no neighbour 0.01 away may be
    lower). It draws ``start`` and ``a`` each run, e.g.
    ``minimize_wavy(start=0.21, a=1.64)``. With a = 2 and start = 0, plain SGD
    with a small learning rate settles at the minimum near x = 1.06.
    """
    raise NotImplementedError("minimize_wavy is not implemented yet")


def two_variables(v, shift=0.0, weight=1.0):
    """f(x, y) = exp(sin(x - shift)²)/(x - y)² + weight·(x - y)⁴ for a tensor
    v = [x, y]; the exercise's function is shift = 0, weight = 1."""
    x, y = v[0], v[1]
    return torch.exp(torch.sin(x - shift) ** 2) / (x - y) ** 2 + weight * (x - y) ** 4


def minimize_two_variables(start=(0.2, 10.0), shift=0.0, weight=1.0):
    """Minimise ``two_variables(v, shift, weight)`` starting from (x, y) = ``start``
    with a torch optimizer; return the final point as a tensor [x, y] (or a pair
    of floats).

    The grader draws the start near (0.2, 10) and the shift and weight each
    run, e.g. ``minimize_two_variables(start=[0.35, 9.81], shift=-0.72,
    weight=1.08)``, and accepts a point where f is below its start value and no
    neighbour 0.01 away (along x, y or a diagonal) is lower. Mind the gradient
    at the start: it is in the thousands, so a learning rate that suits the end
    of the search throws the first step far away.
    """
    raise NotImplementedError("minimize_two_variables is not implemented yet")


class ArrayDataset(Dataset):
    """A Dataset over features ``X`` (shape (n, d)) and targets ``y`` (shape (n,)).

    ``len(dataset)`` is n and ``dataset[i]`` is the pair ``(X[i], y[i])`` as
    float32 tensors.
    """

    def __init__(self, X, y):
        raise NotImplementedError("ArrayDataset.__init__ is not implemented yet")

    def __len__(self):
        raise NotImplementedError("ArrayDataset.__len__ is not implemented yet")

    def __getitem__(self, index):
        raise NotImplementedError("ArrayDataset.__getitem__ is not implemented yet")


def load_libsvm(path):
    """Read a libsvm-format text file and return ``(X, y)``.

    Each line is ``label index:value index:value ...`` with indices starting
    at 1; index j fills column j - 1, and features a line leaves out are 0.
    X is a float tensor of shape (lines, largest index), y a float tensor of
    the labels. Write the parser yourself (scikit-learn's
    ``load_svmlight_file`` is what the grader compares with).
    """
    raise NotImplementedError("load_libsvm is not implemented yet")
