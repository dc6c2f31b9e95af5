"""MaxConvNet on MNIST: a convolutional network whose only non-linearity is max pooling.

Fill in the class MaxConvNet below; the rest of the script is complete.

Run it with ``python max_conv_net.py --epochs 1``; ``--help`` lists the options.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import datasets, transforms


class MaxConvNet(nn.Module):
    """Convolutions and max pooling, no activation function: 4,885 parameters.
    See README.md for the layer table.

    Input: a batch of images, shape (N, 1, 28, 28).
    Output: one logit per digit, shape (N, 10).
    """

    def __init__(self):
        super().__init__()
        # TODO: two convolutions and the output layer (README.md lists them).

    def forward(self, x):
        # TODO: convolution, max pooling, convolution, max pooling, flatten, linear. No ReLU.
        raise NotImplementedError("MaxConvNet.forward is not implemented yet")


def train_epoch(model, device, loader, optimizer):
    model.train()
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()


def accuracy(model, device, loader):
    model.eval()
    correct = 0
    with torch.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            correct += (model(data).argmax(dim=1) == target).sum().item()
    return correct / len(loader.dataset)


def main():
    parser = argparse.ArgumentParser(description="MaxConvNet on MNIST")
    parser.add_argument("--batch-size", type=int, default=64, help="training batch size (default: 64)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs to train (default: 3)")
    parser.add_argument("--lr", type=float, default=0.003, help="Adam learning rate (default: 0.003)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--data", default="../data", help="dataset folder (default: ../data)")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST(args.data, train=True, download=True, transform=transform)
    test_set = datasets.MNIST(args.data, train=False, download=True, transform=transform)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000)

    model = MaxConvNet().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    for epoch in range(1, args.epochs + 1):
        train_epoch(model, device, train_loader, optimizer)
        print(f"epoch {epoch}: test accuracy {accuracy(model, device, test_loader):.2%}")


if __name__ == "__main__":
    main()
