"""BROKEN on purpose (auc_score scores predicted classes, not the positive column).

Reusable training code: one epoch, a whole training run, checkpoints and resuming.

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


def run_epoch(model, optimizer, data_loader, loss_func, device, results, score_funcs, prefix="", desc=None):
    """Run one pass over ``data_loader``; return the seconds it took.

    Steps the optimizer only when ``model.training`` is True. Appends the mean
    batch loss to ``results[prefix + " loss"]`` and, for each ``name, score`` in
    ``score_funcs``, ``score(y_true, y_pred)`` on the whole epoch's labels and
    predicted classes to ``results[prefix + " " + name]``.
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
        y_true.append(labels.detach().cpu().numpy())
        y_pred.append(outputs.detach().cpu().numpy())
    end = time.time()

    y_true = np.concatenate(y_true)
    y_pred = np.concatenate(y_pred)
    if y_pred.ndim == 2 and y_pred.shape[1] > 1:
        y_pred = np.argmax(y_pred, axis=1)           # (N, C) scores -> (N,) classes
    results.setdefault(prefix + " loss", []).append(float(np.mean(running_loss)))
    for name, score in (score_funcs or {}).items():
        try:
            value = score(y_true, y_pred)
        except Exception:
            value = float("nan")
        results.setdefault(prefix + " " + name, []).append(value)
    return end - start


def _numbered(checkpoint_file, epoch):
    path = Path(checkpoint_file)
    return path.with_name(f"{path.stem}_epoch{epoch}{path.suffix}")


def _fit(model, optimizer, loss_func, train_loader, val_loader, score_funcs, results, first_epoch, epochs,
         device, checkpoint_file, checkpoint_every_x, total_time):
    for epoch in range(first_epoch, epochs + 1):
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
            if checkpoint_every_x and epoch % checkpoint_every_x == 0:
                torch.save(checkpoint, _numbered(checkpoint_file, epoch))
    return results


def train_simple_network(model, loss_func, train_loader, val_loader=None, score_funcs=None, epochs=50,
                         device="cpu", checkpoint_file=None, checkpoint_every_x=None, lr=0.001):
    """Train ``model`` for ``epochs`` epochs with AdamW(lr); return the results dict.

    After each epoch: evaluate on ``val_loader`` (eval mode, no gradients),
    record ``epoch`` and ``total time``, and save a checkpoint dict (epoch,
    model_state_dict, optimizer_state_dict, results) to ``checkpoint_file``;
    every ``checkpoint_every_x`` epochs also to ``<stem>_epoch<N><suffix>``.
    """
    score_funcs = score_funcs or {}
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    results = {"epoch": [], "total time": []}
    return _fit(model, optimizer, loss_func, train_loader, val_loader, score_funcs, results, 1, epochs,
                device, checkpoint_file, checkpoint_every_x, 0.0)


def resume_simple_network(model, loss_func, train_loader, checkpoint_file, epochs, val_loader=None,
                          score_funcs=None, device="cpu", lr=0.001):
    """Continue a run saved by train_simple_network up to ``epochs`` epochs in total.

    Loads the model and optimizer states and the results from ``checkpoint_file``,
    trains epochs checkpoint["epoch"] + 1 to ``epochs``, keeps saving the
    checkpoint, and returns the whole results dict (old epochs and new).
    """
    score_funcs = score_funcs or {}
    model.to(device)
    checkpoint = torch.load(checkpoint_file, map_location=device, weights_only=False)
    model.load_state_dict(checkpoint["model_state_dict"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
    results = {key: list(values) for key, values in checkpoint["results"].items()}
    total_time = results["total time"][-1] if results["total time"] else 0.0
    return _fit(model, optimizer, loss_func, train_loader, val_loader, score_funcs, results,
                checkpoint["epoch"] + 1, epochs, device, checkpoint_file, None, total_time)


def auc_score(y_true, y_pred):
    """ROC AUC of a two-class model's (N, 2) scores: the positive column, y_pred[:, 1]."""
    y_pred = np.asarray(y_pred)
    return roc_auc_score(np.asarray(y_true), y_pred.argmax(axis=1))


def main():
    from sklearn.datasets import make_moons
    from sklearn.metrics import accuracy_score
    from torch.utils.data import DataLoader, TensorDataset

    x, y = make_moons(n_samples=1000, noise=0.4, random_state=0)
    data = TensorDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long))
    train, val = torch.utils.data.random_split(data, [800, 200])
    model = nn.Sequential(nn.Linear(2, 30), nn.Tanh(), nn.Linear(30, 2))
    results = train_simple_network(model, nn.CrossEntropyLoss(), DataLoader(train, batch_size=32, shuffle=True),
                                   DataLoader(val, batch_size=32), {"accuracy": accuracy_score}, epochs=10)
    print(f"validation accuracy after 10 epochs: {results['val accuracy'][-1]:.3f}")


if __name__ == "__main__":
    main()
