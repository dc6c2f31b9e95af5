"""BROKEN on purpose (Net's first fully connected layer has 100 outputs, not 120).

The course's CIFAR-10 network, and a variant with dropout.

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
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 100)
        self.fc2 = nn.Linear(100, 84)
        self.fc3 = nn.Linear(84, 10)

    def features(self, x):
        x = self.pool(F.relu(self.conv1(x)))   # (N, 3, 32, 32) -> (N, 6, 28, 28) -> (N, 6, 14, 14)
        x = self.pool(F.relu(self.conv2(x)))   # -> (N, 16, 10, 10) -> (N, 16, 5, 5)
        return torch.flatten(x, 1)             # -> (N, 400)

    def forward(self, x):
        x = F.relu(self.fc1(self.features(x)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class NetDropout(nn.Module):
    """Net with Dropout(p=0.3) after the first fully connected layer."""

    def __init__(self):
        super().__init__()
        self.net = Net()
        self.net.fc1 = nn.Linear(400, 120)
        self.net.fc2 = nn.Linear(120, 84)
        self.dropout = nn.Dropout(p=0.3)

    def forward(self, x):
        x = self.dropout(F.relu(self.net.fc1(self.net.features(x))))
        x = F.relu(self.net.fc2(x))
        return self.net.fc3(x)


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
