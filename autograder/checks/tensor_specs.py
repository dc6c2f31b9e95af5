"""Tensor specs: how a check names a tensor it needs without sending bytes it could make.

Every spec is a plain dict ``{"__tensor__": kind, ...}`` made by a function below; the parent
turns specs into tensors with ``materialize`` just before a question leaves for a child or the
executor, and again when it computes its own reference, so both sides see the same values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch


def randn(shape: Sequence[int], seed: int) -> dict:
    """A standard-normal tensor, the same wherever it is made."""
    return {"__tensor__": "randn", "shape": list(shape), "seed": int(seed)}


def literal(data: Any, dtype: str = "float32") -> dict:
    """A tensor given by its values (a tensor or nested lists), with its shape for planning."""
    values = data.tolist() if isinstance(data, torch.Tensor) else data
    shape = list(torch.tensor(values, dtype=getattr(torch, dtype)).shape)
    return {"__tensor__": "literal", "data": values, "dtype": dtype, "shape": shape}


def image_batch(count: int, classes: int, image_shape: Sequence[int], seed: int, signal: float) -> dict:
    """A small fixed labelled batch: CIFAR-10's first images when the data folder holds them, else
    synthetic class templates plus noise. Add "part": "images" or "labels"."""
    return {"__tensor__": "image_batch", "count": int(count), "classes": int(classes),
            "shape": [int(count), *image_shape], "seed": int(seed), "signal": signal, "cifar": True}


def cifar_folder(data_dir: Path | str | None) -> str:
    """The CIFAR-10 python batches in the kit's data folder, or "" when it does not hold them."""
    if not data_dir:
        return ""
    folder = Path(data_dir).expanduser() / "cifar-10-batches-py"
    return str(folder.resolve()) if (folder / "data_batch_1").is_file() else ""


def materialize(value: Any, data_dir: Path | None = None) -> Any:
    """Replace tensor specs with tensors (recursively); ``data_dir`` is the kit's data folder,
    where an image batch that asks for CIFAR-10 finds it."""
    if isinstance(value, dict):
        if value.get("__tensor__") == "randn":
            generator = torch.Generator().manual_seed(value["seed"])
            tensor = torch.randn(value["shape"], generator=generator)
            if "first_seed" in value:  # replace the first sample only
                generator.manual_seed(value["first_seed"])
                tensor[0] = torch.randn(value["shape"][1:], generator=generator)
            return tensor
        if value.get("__tensor__") == "literal":
            return torch.tensor(value["data"], dtype=getattr(torch, value.get("dtype", "float32")))
        if value.get("__tensor__") == "image_batch":      # a small fixed batch: synthetic, or CIFAR-10's first images
            from ..wire.fixtures import cifar_images, synthetic_images

            folder = cifar_folder(data_dir) if value.get("cifar") else ""
            if folder:
                images, labels = cifar_images(folder, value["count"])
            else:
                images, labels = synthetic_images(value["count"], value["classes"], value["shape"][1:],
                                                  value["seed"], value["signal"])
            return images if value["part"] == "images" else labels
        return {k: materialize(v, data_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [materialize(v, data_dir) for v in value]
    return value
