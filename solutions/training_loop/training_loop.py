"""Reusable training code: one epoch, a whole training run, checkpoints and resuming.

The functions work for any model, loss and data loader. Try them on the two
moons (``python training_loop.py``).
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
    """Run one pass over ``data_loader``; return the seconds it took.

    Steps the optimizer only when ``model.training`` is True. Appends the mean
    batch loss to ``results[prefix + " loss"]`` and, for each ``name, score`` in
    ``score_funcs``, ``score(y_true, y_pred)`` on the whole epoch's labels and
    predicted classes to ``results[prefix + " " + name]``; a score marked with
    ``@needs_scores`` gets the class probabilities (softmax of the outputs) instead.
    """
    running_loss, y_true, y_pred = [], [], []
    start = time.time()
    for inputs, labels in data_loader:
        inputs, labels = inputs.to(device), labels.to(device)
        outputs = model(inputs)                      # (B, C) class scores
        loss = loss_func(outputs, labels)
        if model.training:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        running_loss.append(loss.item())
        y_true.append(labels.detach().cpu())
        y_pred.append(outputs.detach().cpu())
    end = time.time()

    y_true = torch.cat(y_true).numpy()
    outputs = torch.cat(y_pred)
    if outputs.dim() == 2 and outputs.shape[1] > 1:
        probabilities = torch.softmax(outputs.double(), dim=1).numpy()   # (N, C)
        classes = outputs.argmax(dim=1).numpy()                           # (N,)
    else:
        probabilities = classes = outputs.numpy()
    results.setdefault(prefix + " loss", []).append(float(np.mean(running_loss)))
    for name, score in (score_funcs or {}).items():
        given = probabilities if getattr(score, "needs_scores", False) else classes
        try:
            value = score(y_true, given)
        except Exception:
            value = float("nan")
        results.setdefault(prefix + " " + name, []).append(value)
    return end - start


def _numbered(checkpoint_file, count):
    path = Path(checkpoint_file)
    return path.with_name(f"{path.stem}_epoch{count}{path.suffix}")


def _fit(model, optimizer, loss_func, train_loader, val_loader, score_funcs, results, first_epoch, epochs,
         device, checkpoint_file, checkpoint_every_x, total_time):
    for epoch in range(first_epoch, epochs):           # the loop index, 0 to epochs - 1
        model.train()
        total_time += run_epoch(model, optimizer, train_loader, loss_func, device, results, score_funcs,
                                prefix="train")
        results["epoch"].append(epoch)
        results["total time"].append(total_time)
        if val_loader is not None:
            model.eval()
            with torch.no_grad():
                run_epoch(model, optimizer, val_loader, loss_func, device, results, score_funcs, prefix="val")
        if checkpoint_file is not None:
            checkpoint = {"epoch": epoch, "model_state_dict": model.state_dict(),
                          "optimizer_state_dict": optimizer.state_dict(), "results": results}
            torch.save(checkpoint, checkpoint_file)
            done = epoch + 1
            if checkpoint_every_x and done % checkpoint_every_x == 0:
                torch.save(checkpoint, _numbered(checkpoint_file, done))
    return results


def train_simple_network(model, loss_func, train_loader, val_loader=None, score_funcs=None, epochs=50,
                         device="cpu", checkpoint_file=None, checkpoint_every_x=None, lr=0.001):
    """Train ``model`` for ``epochs`` epochs with SGD(lr); return the results dict.

    After each epoch: evaluate on ``val_loader`` (eval mode, no gradients),
    record ``epoch`` (0, 1, ...) and ``total time``, and save a checkpoint dict
    (epoch, model_state_dict, optimizer_state_dict, results) to ``checkpoint_file``;
    after every ``checkpoint_every_x`` epochs also to ``<stem>_epoch<N><suffix>``.
    """
    score_funcs = score_funcs or {}
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    results = {"epoch": [], "total time": []}
    return _fit(model, optimizer, loss_func, train_loader, val_loader, score_funcs, results, 0, epochs,
                device, checkpoint_file, checkpoint_every_x, 0.0)


def resume_simple_network(model, loss_func, train_loader, checkpoint_file, epochs, val_loader=None,
                          score_funcs=None, device="cpu", lr=0.001):
    """Continue a run saved by train_simple_network up to ``epochs`` epochs in total.

    Loads the model and optimizer states and the results from ``checkpoint_file``,
    trains from the epoch after checkpoint["epoch"] up to ``epochs`` epochs in all,
    keeps saving the checkpoint, and returns the whole results dict (old epochs and new).
    """
    score_funcs = score_funcs or {}
    model.to(device)
    checkpoint = torch.load(checkpoint_file, map_location=device, weights_only=False)
    model.load_state_dict(checkpoint["model_state_dict"])
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
    results = {key: list(values) for key, values in checkpoint["results"].items()}
    total_time = results["total time"][-1] if results["total time"] else 0.0
    return _fit(model, optimizer, loss_func, train_loader, val_loader, score_funcs, results,
                checkpoint["epoch"] + 1, epochs, device, checkpoint_file, None, total_time)


@needs_scores
def auc_score(y_true, y_prob):
    """ROC AUC of a two-class model from its (N, 2) class probabilities: the positive column, y_prob[:, 1]."""
    y_prob = np.asarray(y_prob)
    return roc_auc_score(np.asarray(y_true), y_prob[:, 1])


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
