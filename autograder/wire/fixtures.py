"""Data both sides build from one seed: the parent (to judge) and the child (to run the
submission) make the same tabular sets, synthetic images and CIFAR samples, so
they must be built by one function."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn


def make_dataset(name: str, samples: int, seed: int) -> dict:
    """Fixed tabular data, split 80/20: float32 features, int64 labels."""
    from sklearn.datasets import load_breast_cancer, make_moons
    from sklearn.model_selection import train_test_split

    if name == "moons":
        x, y = make_moons(n_samples=samples, noise=0.4, random_state=seed)
    elif name == "breast_cancer":
        x, y = load_breast_cancer(return_X_y=True)
    else:
        raise ValueError(f"unknown dataset '{name}'")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-8     # standardised with training statistics
    as_x = lambda a: torch.tensor((a - mean) / std, dtype=torch.float32)
    as_y = lambda a: torch.tensor(a, dtype=torch.int64)
    return {"x_train": as_x(x_train), "y_train": as_y(y_train), "x_test": as_x(x_test), "y_test": as_y(y_test)}


def small_model(inputs: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(inputs, 16), nn.Tanh(), nn.Linear(16, 2))


def synthetic_images(count: int, classes: int, shape: list[int], seed: int,
                     signal: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """Images made of one random template per class (times ``signal``) under unit noise:
    learnable, but only by a network that actually trains. Labels are balanced."""
    generator = torch.Generator().manual_seed(seed)
    templates = torch.randn([classes, *shape], generator=generator)
    labels = torch.arange(count) % classes
    labels = labels[torch.randperm(count, generator=generator)]
    images = signal * templates[labels] + torch.randn([count, *shape], generator=generator)
    return images, labels


def cifar_images(folder: str, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``count`` images of CIFAR-10's first training batch, normalised per channel."""
    with open(Path(folder) / "data_batch_1", "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    data = np.asarray(batch[b"data"][:count], dtype=np.float32).reshape(-1, 3, 32, 32) / 255.0
    images = torch.from_numpy(data)
    images = (images - images.mean((0, 2, 3), keepdim=True)) / images.std((0, 2, 3), keepdim=True)
    return images, torch.tensor(batch[b"labels"][:count], dtype=torch.int64)
