"""Train the reference network of the MNIST challenge and write its weights.

    python train.py model.pt [--data-dir DIR] [--epochs N] [--train-images N]

Reads MNIST from ``DIR/MNIST/raw/`` (the four files, raw or ``.gz``; default:
$AUTOGRADER_DATA, else ./data), trains ``Net`` from model.py beside this script
with Adam and a one-cycle learning rate, prints the test accuracy and saves
``model.state_dict()`` to the file named. The run is deterministic: the same
data and the same number of CPU threads give the same weights.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import Net  # noqa: E402

MEAN, STD = 0.1307, 0.3081        # the normalisation the grader applies to every test image


def read_idx(raw: Path, name: str) -> torch.Tensor:
    """One MNIST file (IDX format: a 4-byte magic number, the sizes, then unsigned bytes)."""
    path = raw / name
    data = path.read_bytes() if path.is_file() else gzip.open(raw / f"{name}.gz", "rb").read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def normalise(images: torch.Tensor) -> torch.Tensor:
    # uint8 (N, 28, 28) -> float (N, 1, 28, 28)
    return images.float().div(255).sub(MEAN).div(STD).unsqueeze(1)


def accuracy(model: Net, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), 1000):
            out = model(normalise(images[start:start + 1000]))
            correct += (out.argmax(1) == labels[start:start + 1000]).sum().item()
    return correct / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="where to write the weights (a .pt file)")
    parser.add_argument("--data-dir", default=os.environ.get("AUTOGRADER_DATA") or "data",
                        help="folder holding MNIST/raw/ (default: $AUTOGRADER_DATA, else ./data)")
    parser.add_argument("--epochs", type=int, default=3, help="passes over the training images (default: 3)")
    parser.add_argument("--batch-size", type=int, default=128, help="training batch size (default: 128)")
    parser.add_argument("--lr", type=float, default=0.003, help="peak learning rate (default: 0.003)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--train-images", type=int, default=0,
                        help="train on the first N training images only, for a quick try (default: all)")
    args = parser.parse_args()

    raw = Path(args.data_dir).expanduser() / "MNIST" / "raw"
    train_images, train_labels = read_idx(raw, "train-images-idx3-ubyte"), read_idx(raw, "train-labels-idx1-ubyte").long()
    test_images, test_labels = read_idx(raw, "t10k-images-idx3-ubyte"), read_idx(raw, "t10k-labels-idx1-ubyte").long()

    if args.train_images:
        train_images, train_labels = train_images[:args.train_images], train_labels[:args.train_images]

    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    model = Net()
    steps_per_epoch = len(train_images) // args.batch_size
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                                   steps_per_epoch=steps_per_epoch)
    generator = torch.Generator().manual_seed(args.seed)
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(train_images), generator=generator)
        for step in range(steps_per_epoch):
            index = order[step * args.batch_size:(step + 1) * args.batch_size]
            loss = F.cross_entropy(model(normalise(train_images[index])), train_labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch}: loss {loss.item():.4f}, test accuracy {accuracy(model, test_images, test_labels):.2%} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    torch.save(model.state_dict(), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
