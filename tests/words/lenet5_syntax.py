import torch
import torch.nn as nn


class LeNet5(nn.Module):
    def __init__(self, n_classes)
        super().__init__()
