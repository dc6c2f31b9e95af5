"""A small data set in MNIST's format, made by the suite itself, for machines without MNIST.

Each image is a digit drawn from a few strokes (a seven-segment outline with a
distinct shape per digit), moved by a random affine map (rotation, scale,
shear, shift), drawn with a random stroke width and soft edges, and sprinkled
with noise: 28x28 uint8 images a small network learns in a few hundred steps,
and an input-blind one cannot (10%). The same arguments always give the same
bytes: written as MNIST's four gzipped IDX files under <folder>/MNIST/raw/, with
an MD5SUMS file that tells the kit these are not MNIST's own files.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import torch

TRAIN_SIZE = 7000        # more than the largest validation split in grading.toml (5,000)
TEST_SIZE = 1000

# Strokes of each digit as (x0, y0, x1, y1) in a unit box, y pointing down.
_A, _B, _C, _D = (0.25, 0.15, 0.75, 0.15), (0.75, 0.15, 0.75, 0.5), (0.75, 0.5, 0.75, 0.85), (0.25, 0.85, 0.75, 0.85)
_E, _F, _G = (0.25, 0.5, 0.25, 0.85), (0.25, 0.15, 0.25, 0.5), (0.25, 0.5, 0.75, 0.5)
STROKES = {
    0: [_A, _B, _C, _D, _E, _F],
    1: [(0.5, 0.15, 0.5, 0.85), (0.35, 0.3, 0.5, 0.15)],
    2: [_A, _B, _G, _E, _D],
    3: [_A, _B, _G, _C, _D],
    4: [_F, _G, _B, _C],
    5: [_A, _F, _G, _C, _D],
    6: [_A, _F, _G, _E, _C, _D],
    7: [_A, (0.75, 0.15, 0.4, 0.85)],
    8: [_A, _B, _C, _D, _E, _F, _G],
    9: [_A, _B, _F, _G, _C, _D],
}


def _segments() -> torch.Tensor:
    """(10, S, 4): each digit's strokes, padded by repeating its first stroke."""
    most = max(len(s) for s in STROKES.values())
    return torch.tensor([s + [s[0]] * (most - len(s)) for _, s in sorted(STROKES.items())])


def _distance(points: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
    """(B, P) distance from each of P points (B, P, 2) to the nearest of S segments (B, S, 4)."""
    start, end = segments[..., :2], segments[..., 2:]
    direction = end - start                                                         # (B, S, 2)
    relative = points[:, :, None, :] - start[:, None, :, :]                         # (B, P, S, 2)
    length2 = (direction ** 2).sum(-1).clamp_min(1e-8)[:, None, :]
    along = ((relative * direction[:, None]).sum(-1) / length2).clamp(0, 1)         # (B, P, S)
    nearest = start[:, None] + along[..., None] * direction[:, None]
    return (points[:, :, None, :] - nearest).norm(dim=-1).min(dim=-1).values


def make_images(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` images (uint8, (count, 28, 28)) and their labels (int64), balanced over the 10 digits."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 10
    labels = labels[torch.randperm(count, generator=generator)]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(count, generator=generator)

    # Where each pixel centre falls in the digit's unit box: undo a random affine map.
    angle, scale, shear = uniform(-0.2, 0.2), uniform(0.8, 1.0), uniform(-0.15, 0.15)
    shift_x, shift_y = uniform(-0.08, 0.08), uniform(-0.08, 0.08)
    cos, sin = torch.cos(angle), torch.sin(angle)
    axis = (torch.arange(28, dtype=torch.float32) + 0.5) / 28 - 0.5               # pixel centres, box centred on 0
    py, px = torch.meshgrid(axis, axis, indexing="ij")
    px, py = px.reshape(1, -1), py.reshape(1, -1)                                   # (1, 784)
    dx, dy = px - shift_x[:, None], py - shift_y[:, None]
    x = (cos[:, None] * dx + sin[:, None] * dy) / scale[:, None]
    y = (-sin[:, None] * dx + cos[:, None] * dy) / scale[:, None]
    x = x - shear[:, None] * y
    points = torch.stack([x + 0.5, y + 0.5], dim=-1)                               # (count, 784, 2)

    # Distance from each pixel to the nearest stroke of its digit, a thousand images at a time.
    segments = _segments()[labels]                                                  # (count, S, 4)
    distance = torch.cat([_distance(points[i:i + 1000], segments[i:i + 1000]) for i in range(0, count, 1000)])

    width = uniform(0.06, 0.09)[:, None]
    ink = ((width - distance) / 0.035 + 0.5).clamp(0, 1)                            # soft edges
    ink = ink * uniform(0.7, 1.0)[:, None] + 0.1 * torch.rand(ink.shape, generator=generator)
    images = (ink.clamp(0, 1) * 255).round().to(torch.uint8).reshape(count, 28, 28)
    return images, labels


def _idx(tensor: torch.Tensor) -> bytes:
    """IDX bytes of a uint8 tensor: 0, 0, type 0x08, the number of dimensions, each size big-endian."""
    header = bytes([0, 0, 0x08, tensor.dim()]) + b"".join(n.to_bytes(4, "big") for n in tensor.shape)
    return header + tensor.contiguous().numpy().tobytes()


def write_mnist_format(folder: Path, *, train_size: int = TRAIN_SIZE, test_size: int = TEST_SIZE,
                       seed: int = 2024) -> Path:
    """Write the data set as <folder>/MNIST/raw/*.gz plus MD5SUMS; return ``folder``."""
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = make_images(train_size, seed)
    test_images, test_labels = make_images(test_size, seed + 1)
    files = {
        "train-images-idx3-ubyte": _idx(train_images),
        "train-labels-idx1-ubyte": _idx(train_labels.to(torch.uint8)),
        "t10k-images-idx3-ubyte": _idx(test_images),
        "t10k-labels-idx1-ubyte": _idx(test_labels.to(torch.uint8)),
    }
    sums = []
    for name, data in files.items():
        with open(raw / f"{name}.gz", "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as z:
            z.write(data)                       # mtime 0: the same bytes on every run
        sums.append(f"{hashlib.md5(data).hexdigest()}  {name}\n")
    (raw / "MD5SUMS").write_text("".join(sums), encoding="utf-8")
    return folder


if __name__ == "__main__":       # a look at a few digits: python tests/synthetic_mnist.py
    images, labels = make_images(10, 0)
    for image, label in zip(images, labels):
        print(label.item())
        print("\n".join("".join(" .:#"[min(3, v // 64)] for v in row.tolist()) for row in image))
