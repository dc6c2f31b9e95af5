"""The executor's training runs: the assignment's recipe on the training data (``train``), a short
run on one batch (``overfit_batch``) and a regression fit (``train_regression``).

Every run starts from PyTorch's default initialisation, never from weights the
submission sent, and the model is put back as it was installed afterwards. The
work a full run may take is counted before it starts and held to the recipe's
budget; the executor returns predictions only, and the parent scores them.
"""

from __future__ import annotations

import torch

from ..wire.answers import seed_everything
from .optimizers import Adam, TrainingFailure, make_optimizer
from .program import CompiledModel
from .state import ExecutorState, MeasureFailure, handles, installed, tensor_output


def _within_work_budget(net: CompiledModel, recipe: dict, input_shape: list[int], test_images: int,
                        device: str) -> None:
    """Count the work the whole run may take (every step at the batch size, every image evaluated) from
    one counted training step and one counted evaluation, and refuse a run over ``recipe["max_tflop"]``:
    the budget is work, the same on any machine, never time."""
    from torch.utils.flop_counter import FlopCounterMode

    budget = recipe.get("max_tflop")
    if not budget:
        return
    net.train()
    x = torch.zeros(recipe["batch_size"], *input_shape, device=device)
    with FlopCounterMode(display=False) as counter:
        out = net(x)
        if isinstance(out, torch.Tensor) and out.requires_grad:
            out.float().sum().backward()
    step = counter.get_total_flops()
    net.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x[:1])
    image = counter.get_total_flops()
    net.train()
    net.restore(net.initial_state)        # statistics and gradients as they were; initialised after this
    evaluations = recipe["max_steps"] // max(1, recipe["eval_every"]) + 1
    images = evaluations * recipe["validation_size"] + test_images
    total = recipe["max_steps"] * step + images * image
    if total > budget * 1e12:
        raise MeasureFailure(
            f"training this network for {recipe['max_steps']:,} steps takes about {total / 1e12:,.1f} TFLOP "
            f"({step / 1e9:,.2f} GFLOP a step at batch {recipe['batch_size']}); the grader's budget is "
            f"{budget:g} TFLOP ([limits] train_tflop): use fewer or smaller layers")


@handles("train")
def train(state: ExecutorState, model: dict, recipe: dict, input_shape: list[int]) -> dict:
    """Train from PyTorch's default initialisation with the assignment's recipe; predict the test images."""
    from .training import train_and_predict

    if state.data is None:
        raise MeasureFailure("the grader gave no training data to this check")
    net = installed(state, model)
    try:
        _within_work_budget(net, recipe, input_shape, len(state.data["test_images"]), state.device)
        net.reset_to_default_init(state.seed)
        return train_and_predict(net, state.data, recipe, input_shape, state.device, state.seed)
    finally:
        net.restore(net.initial_state)


@handles("overfit_batch")
def overfit_batch(state: ExecutorState, model: dict, images: torch.Tensor, labels: torch.Tensor, lr: float,
                  max_steps: int, check_every: int) -> dict:
    """Train with Adam on one fixed batch, from PyTorch's default initialisation, until every image
    is classified right or the step budget runs out; return the final predictions."""
    import math
    import time

    net = installed(state, model)
    net.reset_to_default_init(state.seed)
    images, labels = images.to(state.device), labels.to(state.device)
    seed_everything(state.seed)
    optimizer = Adam(net.parameters(), lr=lr)
    started = time.perf_counter()
    step, history = 0, []
    net.train()
    while step < max_steps:
        loss = torch.nn.functional.cross_entropy(tensor_output(net(images)), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % check_every == 0 or step == max_steps:
            net.eval()
            with torch.no_grad():
                correct = (net(images).argmax(1) == labels).float().mean().item()
            net.train()
            value = float(loss.detach())
            history.append([step, correct, value if math.isfinite(value) else None])
            if correct == 1.0:
                break
    net.eval()
    with torch.no_grad():
        predictions = net(images).argmax(1).cpu()
    return {"steps": step, "history": history, "predictions": predictions, "seconds": time.perf_counter() - started}


@handles("train_regression")
def train_regression(state: ExecutorState, model: dict, recipe: dict, x_train: torch.Tensor,
                     y_train: torch.Tensor, x_test: torch.Tensor) -> dict:
    """Train from PyTorch's default initialisation on (x_train, y_train) with the mean squared error and
    the grader's recipe (optimizer, lr, schedule, epochs, batch_size; shuffled with the grading seed),
    then predict x_test."""
    import time

    started = time.perf_counter()
    net = installed(state, model)
    net.reset_to_default_init(state.seed)
    x_train, y_train = x_train.to(state.device), y_train.to(state.device).reshape(-1)
    try:
        optimizer = make_optimizer(net, recipe)
    except TrainingFailure as exc:
        raise MeasureFailure(str(exc)) from None
    generator = torch.Generator().manual_seed(state.seed)
    steps = recipe["epochs"] * -(-len(x_train) // recipe["batch_size"])
    net.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # batches this small run fastest on one thread
    try:
        loss = _regression_epochs(net, recipe, optimizer, x_train, y_train, generator, steps)
    finally:
        torch.set_num_threads(threads)
    net.eval()
    with torch.no_grad():
        predictions = tensor_output(net(x_test.to(state.device)))
    if predictions.numel() != len(x_test):
        raise MeasureFailure("forward() in eval mode does not return one number per sample")
    return {"predictions": predictions.detach().reshape(-1).to("cpu", torch.float64),
            "final_loss": float(loss.item()), "seconds": time.perf_counter() - started}


def _regression_epochs(net, recipe, optimizer, x_train, y_train, generator, steps) -> torch.Tensor:
    """Minimise the mean squared error batch by batch; return the last batch's loss."""
    step = 0
    loss = torch.tensor(float("nan"))
    for _ in range(recipe["epochs"]):
        order = torch.randperm(len(x_train), generator=generator).to(x_train.device)
        for start in range(0, len(order), recipe["batch_size"]):
            if recipe.get("schedule") == "linear":      # the learning rate falls linearly to 0
                optimizer.lr = recipe["lr"] * (1 - step / steps)
            step += 1
            index = order[start:start + recipe["batch_size"]]
            out = tensor_output(net(x_train[index]))
            if out.numel() != len(index):
                raise MeasureFailure(f"forward() returned {tuple(out.shape)} for a batch of {len(index)} inputs; "
                                     f"expected ({len(index)}, 1): one number per sample")
            loss = ((out.reshape(-1) - y_train[index]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return loss.detach()
