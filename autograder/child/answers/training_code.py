"""Questions about reusable training code, and a short overfitting run for a model.

The child calls the submission's training functions on small data sets (two
moons, breast cancer; the parent draws their seed each run) with a small model, watching each call of the loss
function, and reports what happened: the results it returned, the checkpoint
files it wrote, the losses and modes it ran in. The parent judges.
scikit-learn is imported only inside the handlers that need it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...wire.fixtures import make_dataset, small_model
from .base import AnswerFailure, ChildState, answers, get_name, to_plain


# ----------------------------------------------------------------- watching a training function

class WatchedLoss:
    """Wraps a loss function; records each call's loss, batch, targets, outputs and mode."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.loss = nn.CrossEntropyLoss()
        self.calls: list[dict] = []

    def __call__(self, output, target):
        loss = self.loss(output, target)
        self.calls.append({"loss": float(loss.detach()), "size": int(len(target)),
                           "training": bool(self.model.training), "grad": bool(torch.is_grad_enabled()),
                           "output": output.detach().float().cpu().clone(), "target": target.detach().cpu().clone()})
        return loss


def _loaders(data: dict, batch_size: int):
    from torch.utils.data import DataLoader, TensorDataset

    train = DataLoader(TensorDataset(data["x_train"], data["y_train"]), batch_size=batch_size, shuffle=False)
    test = DataLoader(TensorDataset(data["x_test"], data["y_test"]), batch_size=batch_size, shuffle=False)
    return train, test


def _plain_results(results) -> dict:
    if hasattr(results, "to_dict"):  # a pandas DataFrame
        results = results.to_dict(orient="list")
    if not isinstance(results, dict):
        raise AnswerFailure(f"the function returned a {type(results).__name__}; expected a dict of lists "
                           "(or a pandas DataFrame)")
    return to_plain({k: list(v) if isinstance(v, (list, tuple, np.ndarray)) else v for k, v in results.items()})


def _read_checkpoint(path: Path):
    if not path.exists():
        return None
    try:
        content = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise AnswerFailure(f"the checkpoint {path.name} could not be read with torch.load: {exc}")
    if isinstance(content, dict) and "results" in content:
        content = dict(content)
        content["results"] = _plain_results(content["results"])
    return to_plain(content)


def _state(model: nn.Module) -> dict:
    return {k: v.detach().float().cpu().clone() for k, v in model.state_dict().items()}


def _scores(names: list[str]) -> dict:
    from sklearn.metrics import accuracy_score

    known = {"accuracy": accuracy_score}
    return {name: known[name] for name in names}


@answers("training_scenario")
def training_scenario(state: ChildState, scenario: str, dataset: str, samples: int, batch_size: int,
                      epochs: int, total_epochs: int = 0, every: int = 0, lr: float = 0.1,
                      scores: list[str] | None = None, y_true: torch.Tensor | None = None,
                      y_scores: torch.Tensor | None = None, data_seed: int = 0,
                      model_seed: int | None = None) -> dict:
    """Run one scenario with the submission's training functions (see the parent's
    ``training_function`` kind for what each scenario checks). The model starts from
    ``model_seed`` (the grading seed when not given)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"scenario-{scenario}-"))   # under the sandbox's TMPDIR
    if scenario == "auc":
        func = get_name(state, "auc_score")
        value = func(y_true.numpy(), y_scores.numpy())
        return {"value": to_plain(value)}

    data = make_dataset(dataset, samples, data_seed)
    train_loader, test_loader = _loaders(data, batch_size)
    seed = state.seed if model_seed is None else int(model_seed)
    model = small_model(data["x_train"].shape[1], seed)
    loss = WatchedLoss(model)
    score_funcs = _scores(scores or [])
    answer: dict = {"train_batches": len(train_loader), "test_batches": len(test_loader)}

    if scenario == "run_epoch":
        run_epoch = get_name(state, "run_epoch")
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        steps = {"count": 0}
        original_step = optimizer.step

        def counted_step(*args, **kwargs):
            steps["count"] += 1
            return original_step(*args, **kwargs)

        optimizer.step = counted_step
        # Gradients left over from the previous batch when a backward() adds this batch's (no zero_grad()):
        # a parameter's hook sees its .grad before the new gradient is added to it.
        stale = {"count": 0}

        def stale_hook(parameter):
            def hook(grad):
                if parameter.grad is not None and bool(parameter.grad.abs().sum() > 0):
                    stale["count"] += 1
            return hook

        hooks = [q.register_hook(stale_hook(q)) for q in model.parameters() if q.requires_grad]
        # The keys train_simple_network prepares before its first epoch (the textbook's run_epoch appends to them)
        results: dict = {f"{prefix} {name}": [] for prefix in ("train", "val") for name in ("loss", *score_funcs)}
        model.train()
        seconds = run_epoch(model, optimizer, train_loader, loss, "cpu", results, score_funcs, prefix="train")
        answer["train_steps"] = steps["count"]
        answer["stale_gradients"] = stale["count"]
        for handle in hooks:
            handle.remove()
        answer["returned"] = to_plain(seconds)
        before = _state(model)
        model.eval()
        with torch.no_grad():
            run_epoch(model, optimizer, test_loader, loss, "cpu", results, score_funcs, prefix="val")
        answer["eval_steps"] = steps["count"] - answer["train_steps"]
        answer["eval_changed_weights"] = any(not torch.equal(before[k], v) for k, v in _state(model).items())
        answer["results"] = _plain_results(results)
        answer["calls"] = loss.calls
        return answer

    train = get_name(state, "train_simple_network")
    checkpoint = workdir / "checkpoint.pt"
    if scenario == "train":
        results = train(model, loss, train_loader, val_loader=test_loader, score_funcs=score_funcs,
                        epochs=epochs, device="cpu", checkpoint_file=str(checkpoint))
        answer["results"] = _plain_results(results)
        answer["calls"] = [{k: v for k, v in c.items() if k not in ("output", "target")} for c in loss.calls]
        answer["checkpoint"] = _read_checkpoint(checkpoint)
        answer["final_state"] = _state(model)
        return answer
    if scenario == "auc_in_training":
        auc = get_name(state, "auc_score")
        results = train(model, loss, train_loader, val_loader=test_loader, score_funcs={"AUC": auc},
                        epochs=epochs, device="cpu", checkpoint_file=None)
        answer["results"] = _plain_results(results)
        answer["calls"] = loss.calls
        return answer
    if scenario == "fit":
        train(model, loss, train_loader, val_loader=test_loader, score_funcs=score_funcs, epochs=epochs,
              device="cpu", checkpoint_file=None)
        model.eval()
        with torch.no_grad():
            answer["predictions"] = model(data["x_test"]).argmax(1)
        return answer
    if scenario == "checkpoint_every":
        results = train(model, loss, train_loader, val_loader=test_loader, score_funcs=score_funcs,
                        epochs=epochs, device="cpu", checkpoint_file=str(checkpoint), checkpoint_every_x=every)
        answer["results"] = _plain_results(results)
        files = {}
        for path in sorted(workdir.iterdir()):
            content = _read_checkpoint(path)
            files[path.name] = content.get("epoch") if isinstance(content, dict) else None
        answer["files"] = files
        return answer
    if scenario == "resume":
        resume = get_name(state, "resume_simple_network")
        first = train(model, loss, train_loader, val_loader=test_loader, score_funcs=score_funcs,
                      epochs=epochs, device="cpu", checkpoint_file=str(checkpoint))
        answer["first_results"] = _plain_results(first)
        saved = _read_checkpoint(checkpoint)
        answer["saved_state"] = saved.get("model_state_dict") if isinstance(saved, dict) else None
        fresh = small_model(data["x_train"].shape[1], seed + 1)
        fresh_loss = WatchedLoss(fresh)
        seen = {}

        def remember(module, inputs):
            if "state" not in seen:
                seen["state"] = _state(module)

        fresh.register_forward_pre_hook(remember)
        results = resume(fresh, fresh_loss, train_loader, str(checkpoint), total_epochs,
                         val_loader=test_loader, score_funcs=score_funcs, device="cpu")
        answer["results"] = _plain_results(results)
        answer["state_at_start"] = seen.get("state")
        answer["training_calls"] = sum(1 for c in fresh_loss.calls if c["training"])
        final = _read_checkpoint(checkpoint)
        answer["final_epoch"] = final.get("epoch") if isinstance(final, dict) else None
        return answer
    raise AnswerFailure(f"unknown scenario '{scenario}'")
