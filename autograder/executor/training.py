"""A short, fast training run with the assignment's own recipe.

The whole training set sits on the device as uint8 and is normalised batch by
batch; batches are indexed from memory (no DataLoader, no per-sample PIL
transforms). Training stops as soon as a validation split carved from the
training set reaches the target, or when the step budget runs out. This runs
in the grader's executor on the submission's compiled graph; the executor
never holds test labels either: it returns predictions and the parent scores them.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .optimizers import TrainingFailure, make_optimizer


def _output_kind(out: torch.Tensor) -> str:
    """'logprobs', 'probs' or 'logits': decides which loss trains this model fairly."""
    with torch.no_grad():
        if (out <= 1e-4).all() and torch.allclose(out.exp().sum(1), torch.ones(len(out), device=out.device), atol=1e-3):
            return "logprobs"
        if (out >= -1e-6).all() and torch.allclose(out.sum(1), torch.ones(len(out), device=out.device), atol=1e-3):
            return "probs"
    return "logits"


def _loss(kind: str, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if kind == "logprobs":
        return F.nll_loss(out, target)
    if kind == "probs":
        return F.nll_loss(torch.log(out.clamp_min(1e-12)), target)
    return F.cross_entropy(out, target)


def _predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Class scores for a batch; a model traced per batch size gets its last, short batch padded."""
    fixed = getattr(model, "fixed_batch_sizes", lambda: [])()
    if fixed and len(x) not in fixed:
        size = min((b for b in fixed if b > len(x)), default=None)
        if size is not None:
            padded = torch.cat([x, x.new_zeros(size - len(x), *x.shape[1:])])
            return model(padded)[:len(x)]
    return model(x)


def same_network_at_every_size(model: nn.Module, sample: torch.Tensor, size: int) -> None:
    """After training, a batch of ``size`` copies of one sample gives that sample's own output
    (eval mode): what was trained at one batch size is what the test scores at another."""
    from .one_network import same_rows

    run = getattr(model, "deterministic_eval", model)
    with torch.no_grad():
        alone = run(sample[None])
        together = run(sample.expand(size, *sample.shape))
    if isinstance(alone, torch.Tensor) and not same_rows(together, alone):
        raise TrainingFailure(f"after training, forward() gives a sample repeated {size} times a different output "
                              "than the sample alone (eval mode): it computes a different network depending on "
                              "the batch size; each sample's output must depend on that sample only")


def warm_up(device: str) -> None:
    """Pay training's first-use costs (the convolution kernels' set-up, the optimizers' first steps)
    on a throwaway model while the child is still loading and compiling, not in the timed run.
    The random state is put back, so grading draws the same numbers as without it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)      # the child is loading on the other core; these ops are tiny
    try:
        with torch.random.fork_rng(devices=[]):
            net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.AvgPool2d(2), nn.MaxPool2d(1), nn.ReLU(),
                                nn.Dropout(), nn.Flatten(), nn.Linear(2 * 13 * 13, 3)).to(device)
            x, y = torch.randn(4, 1, 28, 28, device=device), torch.tensor([0, 1, 2, 0], device=device)
            for name in ("adam", "sgd"):
                optimizer = make_optimizer(net, {"optimizer": name, "lr": 0.01})
                optimizer.zero_grad()
                F.cross_entropy(net(x), y).backward()
                optimizer.step()
            with torch.no_grad():
                net.eval()(x).argmax(1)
    finally:
        torch.set_num_threads(threads)


def load_training_data(data_file: Path, device: str) -> dict[str, torch.Tensor]:
    """The training images and labels and the test images (never test labels), on the device.
    Mapped from the file rather than read (pages come in as batches touch them): the executor
    loads while the other processes of the batch are still importing torch."""
    data = torch.load(data_file, weights_only=True, mmap=True)
    return {name: data[name].to(device) for name in ("train_images", "train_labels", "test_images")}


def train_and_predict(model: nn.Module, data: dict[str, torch.Tensor], recipe: dict, input_shape: list[int],
                      device: str, seed: int) -> dict:
    started = time.perf_counter()
    images = data["train_images"].to(device)          # (N, 28, 28) uint8
    labels = data["train_labels"].to(device)          # (N,) int64
    test_images = data["test_images"].to(device)      # (M, 28, 28) uint8
    mean, std = recipe["normalize_mean"], recipe["normalize_std"]

    def batch(source: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        # uint8 (B, 28, 28) -> normalised float (B, *input_shape), e.g. (B, 1, 28, 28)
        x = source[index].float().div_(255.0).sub_(mean).div_(std)
        return x.view(len(index), *input_shape)

    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(images), generator=generator)
    val_index = order[: recipe["validation_size"]].to(device)
    train_index = order[recipe["validation_size"]:]

    def accuracy_on(index: torch.Tensor) -> float:
        model.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(index), recipe["test_batch_size"]):
                part = index[start:start + recipe["test_batch_size"]]
                correct += (_predict(model, batch(images, part)).argmax(1) == labels[part]).sum().item()
        model.train()
        return correct / len(index)

    torch.manual_seed(seed)
    optimizer = make_optimizer(model, recipe)
    model.train()
    kind, step, history, reached = None, 0, [], False
    batch_size = recipe["batch_size"]
    while step < recipe["max_steps"] and not reached:
        shuffled = train_index[torch.randperm(len(train_index), generator=generator)].to(device)
        for start in range(0, len(shuffled) - batch_size + 1, batch_size):
            index = shuffled[start:start + batch_size]
            out = model(batch(images, index))
            if not isinstance(out, torch.Tensor):
                raise TrainingFailure(f"forward() returned {type(out).__name__} during training")
            if kind is None:
                kind = _output_kind(out)
            loss = _loss(kind, out, labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % recipe["eval_every"] == 0 or step == recipe["max_steps"]:
                val_accuracy = accuracy_on(val_index)
                history.append([step, val_accuracy, float(loss.item())])
                if val_accuracy >= recipe["stop_at_validation_accuracy"]:
                    reached = True
                    break
            if step >= recipe["max_steps"]:
                break

    model.eval()
    first = batch(test_images, torch.zeros(1, dtype=torch.long, device=test_images.device))[0]
    for size in {batch_size, recipe["test_batch_size"]}:
        same_network_at_every_size(model, first, size)
    # The test images go through in an order drawn afresh each run, so a graph that counts its
    # calls cannot line them up with labels it carries; predictions are put back in order.
    order = torch.randperm(len(test_images), generator=torch.Generator().manual_seed(secrets.randbits(62)))
    predictions = torch.empty(len(test_images), dtype=torch.long)
    with torch.no_grad():
        for start in range(0, len(test_images), recipe["test_batch_size"]):
            index = order[start:start + recipe["test_batch_size"]]
            predictions[index] = _predict(model, batch(test_images, index.to(device))).argmax(1).cpu()
    return {
        "steps": step,
        "history": history,
        "output_kind": kind,
        "stopped_early": reached,
        "seconds": time.perf_counter() - started,
        "predictions": predictions,
    }
