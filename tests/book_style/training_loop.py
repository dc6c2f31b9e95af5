"""train_simple_network as the textbook writes it (chapter 2): SGD(lr=0.001), 0-based epochs,
results keys prepared up front, one checkpoint after the loop."""
import time

import numpy as np
import torch


def move_to(obj, device):
    return obj.to(device)


def run_epoch(model, optimizer, data_loader, loss_func, device, results, score_funcs, prefix="", desc=None):
    running_loss = []
    y_true = []
    y_pred = []
    start = time.time()
    for inputs, labels in data_loader:
        inputs = move_to(inputs, device)
        labels = move_to(labels, device)
        y_hat = model(inputs)
        loss = loss_func(y_hat, labels)
        if model.training:
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        running_loss.append(loss.item())
        if len(score_funcs) > 0 and isinstance(labels, torch.Tensor):
            y_true.extend(labels.detach().cpu().numpy().tolist())
            y_pred.extend(y_hat.detach().cpu().numpy().tolist())
    end = time.time()
    y_pred = np.asarray(y_pred)
    if len(y_pred.shape) == 2 and y_pred.shape[1] > 1:
        y_pred = np.argmax(y_pred, axis=1)
    results[prefix + " loss"].append(np.mean(running_loss))
    for name, score_func in score_funcs.items():
        try:
            results[prefix + " " + name].append(score_func(y_true, y_pred))
        except Exception:
            results[prefix + " " + name].append(float("NaN"))
    return end - start


def train_simple_network(model, loss_func, train_loader, val_loader=None, score_funcs=None, epochs=50,
                         device="cpu", checkpoint_file=None):
    to_track = ["epoch", "total time", "train loss"]
    if val_loader is not None:
        to_track.append("val loss")
    for eval_score in score_funcs:
        to_track.append("train " + eval_score)
        if val_loader is not None:
            to_track.append("val " + eval_score)
    total_train_time = 0
    results = {}
    for item in to_track:
        results[item] = []
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
    model.to(device)
    for epoch in range(epochs):
        model = model.train()
        total_train_time += run_epoch(model, optimizer, train_loader, loss_func, device, results, score_funcs,
                                      prefix="train", desc="Training")
        results["total time"].append(total_train_time)
        results["epoch"].append(epoch)
        if val_loader is not None:
            model = model.eval()
            with torch.no_grad():
                run_epoch(model, optimizer, val_loader, loss_func, device, results, score_funcs, prefix="val",
                          desc="Testing")
    if checkpoint_file is not None:
        torch.save({"epoch": epoch, "model_state_dict": model.state_dict(),
                    "optimizer_state_dict": optimizer.state_dict(), "results": results}, checkpoint_file)
    return results
