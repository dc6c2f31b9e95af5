"""The optimisers a training recipe in grading.toml may name: torch's SGD and Adam update rules.

They are written here with torch's multi-tensor (``_foreach``) ops rather than
taken from ``torch.optim``, whose first use imports ``torch._dynamo`` (about
0.9 s of CPU in every executor, which runs nothing else that needs it). The
updates are the ones torch documents for its defaults (no weight decay, no
Nesterov, no AMSGrad); a test holds them to ``torch.optim``'s results.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..wire.answers import SubmissionFact


class TrainingFailure(SubmissionFact):
    """The training run cannot go on; the message is for the student."""


class _Optimizer:
    def __init__(self, parameters, lr: float) -> None:
        self.parameters = [p for p in parameters if p.requires_grad]
        self.lr = float(lr)

    def zero_grad(self) -> None:
        for p in self.parameters:
            p.grad = None

    def _with_grads(self) -> list[nn.Parameter]:
        return [p for p in self.parameters if p.grad is not None]


class SGD(_Optimizer):
    """p -= lr * v, with v = momentum * v + grad (v starts as the first gradient), as torch.optim.SGD."""

    def __init__(self, parameters, lr: float, momentum: float = 0.0) -> None:
        super().__init__(parameters, lr)
        self.momentum = float(momentum)
        self.velocity: dict[nn.Parameter, torch.Tensor] = {}

    @torch.no_grad()
    def step(self) -> None:
        params = self._with_grads()
        if not params:
            return
        grads = [p.grad for p in params]
        if self.momentum:
            moving = [p for p in params if p in self.velocity]
            if moving:
                buffers = [self.velocity[p] for p in moving]
                torch._foreach_mul_(buffers, self.momentum)
                torch._foreach_add_(buffers, [p.grad for p in moving])
            for p in params:
                if p not in self.velocity:
                    self.velocity[p] = p.grad.detach().clone()
            grads = [self.velocity[p] for p in params]
        torch._foreach_add_(params, grads, alpha=-self.lr)


class Adam(_Optimizer):
    """Adam with torch.optim.Adam's defaults (betas 0.9 and 0.999, eps 1e-8), each parameter
    counting its own steps (a parameter without a gradient this step is left as it is)."""

    def __init__(self, parameters, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(parameters, lr)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.state: dict[nn.Parameter, list] = {}       # parameter -> [steps, mean, mean of squares]

    @torch.no_grad()
    def step(self) -> None:
        params = self._with_grads()
        if not params:
            return
        for p in params:
            if p not in self.state:
                self.state[p] = [0, torch.zeros_like(p), torch.zeros_like(p)]
        states = [self.state[p] for p in params]
        for state in states:
            state[0] += 1
        grads = [p.grad for p in params]
        means, squares = [s[1] for s in states], [s[2] for s in states]
        torch._foreach_lerp_(means, grads, 1 - self.beta1)
        torch._foreach_mul_(squares, self.beta2)
        torch._foreach_addcmul_(squares, grads, grads, 1 - self.beta2)
        # p -= lr / (1 - beta1^t) * mean / (sqrt(squares) / sqrt(1 - beta2^t) + eps)
        denominators = torch._foreach_sqrt(squares)
        torch._foreach_div_(denominators, [math.sqrt(1 - self.beta2 ** s[0]) for s in states])
        torch._foreach_add_(denominators, self.eps)
        torch._foreach_addcdiv_(params, means, denominators, [-self.lr / (1 - self.beta1 ** s[0]) for s in states])


def make_optimizer(model: nn.Module, recipe: dict) -> SGD | Adam:
    """The recipe's optimiser (``optimizer``, ``lr`` and, for SGD, ``momentum``) over the model's parameters."""
    name = recipe["optimizer"].lower()
    if name == "sgd":
        return SGD(model.parameters(), lr=recipe["lr"], momentum=recipe.get("momentum", 0.0))
    if name == "adam":
        return Adam(model.parameters(), lr=recipe["lr"])
    raise TrainingFailure(f"unknown optimizer '{recipe['optimizer']}' in the recipe")
