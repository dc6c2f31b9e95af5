"""The optimisers a training recipe in grading.toml may name (shared by worker and executor)."""

from __future__ import annotations

import torch
from torch import nn


class TrainingFailure(Exception):
    pass


def make_optimizer(model: nn.Module, recipe: dict) -> torch.optim.Optimizer:
    name = recipe["optimizer"].lower()
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe.get("momentum", 0.0))
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    raise TrainingFailure(f"unknown optimizer '{recipe['optimizer']}' in the recipe")
