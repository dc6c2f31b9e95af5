"""The course's CIFAR-10 network, and a variant with dropout.

Fill in Net and NetDropout below; the training script is complete.

Train it with ``python cifar10_cnn.py --epochs 2`` (downloads CIFAR-10 into ./data).
"""

from __future__ import annotations

import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """conv 3->6 (5x5), max-pool 2, conv 6->16 (5x5), max-pool 2, fc 400->120->84->10, ReLU.

    Input (N, 3, 32, 32); output (N, 10) logits; 62,006 parameters.
    """

    def __init__(self):
        super().__init__()
        # TODO: define the layers (README.md lists them).

    def forward(self, x):
        # TODO: (N, 3, 32, 32) -> (N, 10); ReLU after every hidden layer.
        raise NotImplementedError("Net.forward is not implemented yet")


class NetDropout(nn.Module):
    """Net with nn.Dropout(p=0.3) after the first fully connected layer (and its ReLU)."""

    def __init__(self):
        super().__init__()
        # TODO: the same layers as Net, plus the dropout.

    def forward(self, x):
        raise NotImplementedError("NetDropout.forward is not implemented yet")


def main():
    import torchvision
    import torchvision.transforms as transforms

    parser = argparse.ArgumentParser(description="CIFAR-10 with the course's Net")
    parser.add_argument("--epochs", type=int, default=2, help="epochs to train (default: 2)")
    parser.add_argument("--batch-size", type=int, default=4, help="training batch size (default: 4)")
    parser.add_argument("--lr", type=float, default=0.001, help="SGD learning rate (default: 0.001)")
    parser.add_argument("--dropout", action="store_true", help="train NetDropout instead of Net")
    args = parser.parse_args()

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    train = torchvision.datasets.CIFAR10(root="./data", train=True, download=True, transform=transform)
    test = torchvision.datasets.CIFAR10(root="./data", train=False, download=True, transform=transform)
    train_loader = torch.utils.data.DataLoader(train, batch_size=args.batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test, batch_size=1000)
    model = NetDropout() if args.dropout else Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for images, labels in train_loader:
            optimizer.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for images, labels in test_loader:
                correct += (model(images).argmax(1) == labels).sum().item()
        print(f"epoch {epoch}: test accuracy {correct / len(test):.3f}")


if __name__ == "__main__":
    main()
