"""Reusable training code: one epoch, a whole training run, checkpoints and resuming.

Fill in the five functions below (README.md says how each is graded). They
must work for any model, loss and data loader. Try them on the two moons
with ``python training_loop.py`` once they are done.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from sklearn.metrics import roc_auc_score


def needs_scores(score):
    """Mark a score function that needs the class probabilities (N, C) rather than the predicted classes."""
    score.needs_scores = True
    return score


def run_epoch(model, optimizer, data_loader, loss_func, device, results, score_funcs, prefix="", desc=None):
    """Run one pass over ``data_loader`` and return the seconds it took.

    - Move each batch to ``device``, compute ``loss_func(outputs, labels)``.
    - Only when ``model.training`` is True: zero the gradients, call
      ``backward()`` and ``optimizer.step()`` once per batch.
    - Append the mean of the batch losses to ``results[prefix + " loss"]``.
    - For each ``name, score`` in ``score_funcs`` (scikit-learn style
      ``score(y_true, y_pred)``), append the score of the whole epoch's labels
      and predicted classes (argmax of the outputs when they have more than
      one column) to ``results[prefix + " " + name]``. A score function marked
      with ``@needs_scores`` (as ``auc_score`` below) gets the class
      probabilities instead: the softmax of the outputs, shape (N, C).
    ``results`` may arrive with these keys already holding lists, or without them.
    ``desc`` is a label for a progress bar, if you want one.
    """
    raise NotImplementedError("run_epoch is not implemented yet")


def train_simple_network(model, loss_func, train_loader, val_loader=None, score_funcs=None, epochs=50,
                         device="cpu", checkpoint_file=None, checkpoint_every_x=None, lr=0.001):
    """Train ``model`` for ``epochs`` epochs with ``torch.optim.SGD(model.parameters(), lr=lr)``.

    Each epoch: one training pass (prefix "train"); then, when ``val_loader``
    is given, one evaluation pass (prefix "val") in ``model.eval()`` mode
    inside ``torch.no_grad()``. Record ``results["epoch"]`` (the loop index
    0, 1, ... as the textbook does; 1, 2, ... is accepted too) and
    ``results["total time"]`` (running total of training seconds).
    When ``checkpoint_file`` is given, save
    ``{"epoch", "model_state_dict", "optimizer_state_dict", "results"}`` to it
    with ``torch.save`` (at least after the last epoch; the epoch counted as in
    ``results["epoch"]``); when ``checkpoint_every_x`` is also given, after every
    ``checkpoint_every_x`` epochs save the same dict to ``<stem>_epoch<N><suffix>``
    beside it (``ckpt.pt`` -> ``ckpt_epoch2.pt`` after the second epoch).
    Return the results: a dict of lists (a pandas DataFrame is accepted too).
    """
    raise NotImplementedError("train_simple_network is not implemented yet")


def resume_simple_network(model, loss_func, train_loader, checkpoint_file, epochs, val_loader=None,
                          score_funcs=None, device="cpu", lr=0.001):
    """Continue a run saved by ``train_simple_network`` up to ``epochs`` epochs in total.

    Load the model's and the optimizer's states and the results from
    ``checkpoint_file``, train the epochs after ``checkpoint["epoch"]`` until
    ``epochs`` epochs are done in all, exactly as train_simple_network does
    (saving the checkpoint), and return the whole results, old epochs first.
    """
    raise NotImplementedError("resume_simple_network is not implemented yet")


@needs_scores
def auc_score(y_true, y_prob):
    """ROC AUC for a two-class model: ``y_prob`` holds (N, 2) class probabilities
    (run_epoch passes them, since auc_score is marked @needs_scores); use the
    positive class's column with scikit-learn's roc_auc_score."""
    raise NotImplementedError("auc_score is not implemented yet")


def main():
    from sklearn.datasets import make_moons
    from sklearn.metrics import accuracy_score
    from torch.utils.data import DataLoader, TensorDataset

    x, y = make_moons(n_samples=1000, noise=0.4, random_state=0)
    data = TensorDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long))
    train, val = torch.utils.data.random_split(data, [800, 200])
    model = nn.Sequential(nn.Linear(2, 30), nn.Tanh(), nn.Linear(30, 2))
    results = train_simple_network(model, nn.CrossEntropyLoss(), DataLoader(train, batch_size=32, shuffle=True),
                                   DataLoader(val, batch_size=32), {"accuracy": accuracy_score, "AUC": auc_score},
                                   epochs=10, lr=0.1)
    print(f"after 10 epochs: validation accuracy {results['val accuracy'][-1]:.3f}, "
          f"AUC {results['val AUC'][-1]:.3f}")


if __name__ == "__main__":
    main()
