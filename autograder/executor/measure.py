"""Every model measurement, made by the grader on the graphs it rebuilt.

Each handler answers one operation (see ``wire/operations.py``) with
plain data in the shape the check judges read: the parameters it holds,
outputs for given inputs and modes, the ops and shapes of a pass, gradients,
and a training run with its test predictions. Each starts from the state the
model was installed with, so no measurement leaks into the next.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..wire.answers import model_key, seed_everything
from ..wire.operations import EXECUTOR

from .optimizers import Adam
from .program import CompiledModel, GraphRefused, Limits

HANDLERS: dict[str, Callable[..., Any]] = {}


def handles(name: str):
    if name not in EXECUTOR:
        raise KeyError(f"'{name}' is not an executor operation in operations.py")

    def register(func):
        HANDLERS[name] = func
        return func
    return register


class MeasureFailure(Exception):
    """A fact about the submission, said as a plain sentence."""


@dataclass
class ExecutorState:
    device: str
    seed: int
    data_file: Path | None
    models: dict[str, CompiledModel | str] = field(default_factory=dict)   # key -> model, or why it was refused
    data: dict[str, torch.Tensor] | None = None     # loaded at start, while the child is still compiling
    threads: int = 0                                 # torch threads it was started with (0: torch's default)



def _model(state: ExecutorState, spec: dict) -> CompiledModel:
    found = state.models.get(model_key(spec))
    if found is None:
        raise MeasureFailure("the model was not compiled, so the grader cannot run it")
    if isinstance(found, str):
        raise MeasureFailure(found)
    found.restore(found.initial_state)
    return found


def _tensor_output(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if out is None:
        raise MeasureFailure("forward() returned None: it is not implemented yet, or it forgets to return its result")
    raise MeasureFailure(f"forward() returned a {type(out).__name__}, not a tensor")


@handles("install")
def install(state: ExecutorState, key: str, compiled: dict, limits: dict | None = None) -> dict:
    """Rebuild a compiled model from plain data; later operations name it by ``key``."""
    rules = Limits.from_request(limits) if isinstance(limits, dict) else Limits()
    try:
        model = CompiledModel(compiled, state.device, rules)
    except GraphRefused as exc:
        state.models[key] = str(exc)
        raise MeasureFailure(str(exc)) from None
    state.models[key] = model
    return {"ops": sorted({op for graphs in compiled["graphs"].values() for g in graphs
                           for op in (n["op"] for n in g["nodes"])})}


@handles("forget")
def forget(state: ExecutorState) -> dict:
    """Drop every model and put torch's global switches back, so that the next submission of the
    batch meets this executor as it would a fresh one (the training data and warm imports stay)."""
    state.models.clear()
    torch.set_grad_enabled(True)
    torch.autograd.set_detect_anomaly(False)
    if state.threads:
        torch.set_num_threads(state.threads)
    seed_everything(state.seed)
    gc.collect()
    return {}


@handles("load_data")
def load_data(state: ExecutorState) -> dict:
    """Read the training data the parent has just put in this executor's folder (an executor started
    ahead of the batch, before the parent had loaded it)."""
    from .training import load_training_data

    if state.data_file is None or not state.data_file.exists():
        raise MeasureFailure("the grader put no training data in the executor's folder")
    state.data = load_training_data(state.data_file, state.device)
    return {"images": len(state.data["train_images"])}


@handles("build")
def build(state: ExecutorState, model: dict) -> dict:
    net = _model(state, model)
    return {
        "class_name": net.class_name,
        "parameters": [[name, list(p.shape), net.trainable[name]] for name, p in net.named_student_parameters()],
        "modules": [],
    }


@handles("forward")
def forward(state: ExecutorState, model: dict, input: torch.Tensor, runs: list[dict], trace: bool = False) -> dict:
    net = _model(state, model)
    x = input.to(state.device)
    outputs, calls = [], None
    for i, run in enumerate(runs):
        net.train(run["mode"] == "train")
        seed_everything(run.get("seed", state.seed))
        with torch.no_grad():
            if trace and i == 0:
                calls = net.trace(x)
                seed_everything(run.get("seed", state.seed))
            out = net(x)
        outputs.append(_tensor_output(out).detach().float().cpu())
    return {"outputs": outputs, "calls": calls}


@handles("backward")
def backward(state: ExecutorState, model: dict, input: torch.Tensor, weights: torch.Tensor) -> dict:
    """One training-mode pass, loss = sum(output * weights), one backward; every parameter's gradient."""
    net = _model(state, model)
    net.train()
    seed_everything(state.seed)
    out = _tensor_output(net(input.to(state.device)))
    if out.shape != weights.shape:
        raise MeasureFailure(f"forward() returned shape {tuple(out.shape)}; expected {tuple(weights.shape)}")
    loss = (out * weights.to(out.device, out.dtype)).sum()
    if loss.requires_grad:
        try:
            loss.backward()
        except RuntimeError as exc:
            exc.stage = "backward"          # the judge words in-place mistakes from this
            raise
    grads = [[name, None if p.grad is None else p.grad.detach().float().cpu()]
             for name, p in net.named_student_parameters()]
    return {"grads": grads, "loss_requires_grad": bool(loss.requires_grad)}


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
    net = _model(state, model)
    try:
        _within_work_budget(net, recipe, input_shape, len(state.data["test_images"]), state.device)
        net.reset_to_default_init(state.seed)
        return train_and_predict(net, state.data, recipe, input_shape, state.device, state.seed)
    finally:
        net.restore(net.initial_state)


# ----------------------------------------------------------------- hand-written modules

def _ops_used(net: CompiledModel) -> list[list]:
    """Every op the module's graphs run, as [short name, submission line or None], in graph order."""
    from ..wire.allowlist import short_name

    seen, ops = set(), []
    for graphs in net.graphs.values():
        for graph, _ in graphs:
            for node in graph["nodes"]:
                item = (short_name(node["op"]), node.get("line") if isinstance(node.get("line"), int) else None)
                if item not in seen:
                    seen.add(item)
                    ops.append(list(item))
    return ops


def _student_tensor(net: CompiledModel, name: str) -> torch.Tensor | None:
    for kind in ("buffers", "parameters"):
        attribute = net.attribute.get((kind, name))
        if attribute is not None:
            return getattr(net.store, attribute)
    return None


@handles("module_runs")
def module_runs(state: ExecutorState, model: dict, steps: list[dict], attributes: list[str] | None = None,
                scale: float = 1.0, shift: float = 0.0) -> dict:
    """Run a hand-written module on each step's input in order, as the grader rebuilt it.

    Each step names a mode, a seed set just before the call, an input, and
    optionally ``weights``: then ``sum(output * weights)`` is backpropagated and
    the input's gradient kept. Inputs are scaled and shifted first. After each
    step the listed tensor attributes (e.g. running statistics) are read back.
    """
    net = _model(state, model)
    parameters = [[name, list(p.shape), net.trainable[name]] for name, p in net.named_student_parameters()]
    initial = {name: p.detach().float().cpu().clone() for name, p in net.named_student_parameters()}
    outputs, input_grads, after = [], [], []
    for step in steps:
        net.train(step["mode"] == "train")
        seed_everything(step.get("seed", state.seed))
        x = (step["input"] * scale + shift).to(state.device)
        weights = step.get("weights")
        if weights is not None:
            x.requires_grad_(True)
            out = _tensor_output(net(x))
            if out.shape != weights.shape:
                raise MeasureFailure(f"forward() returned shape {tuple(out.shape)} for an input of shape "
                                     f"{tuple(x.shape)}; expected {tuple(weights.shape)}")
            if out.requires_grad:
                (out * weights.to(out.device)).sum().backward()
            input_grads.append(None if x.grad is None else x.grad.detach().cpu().clone())
        else:
            with torch.no_grad():
                out = _tensor_output(net(x))
            input_grads.append(None)
        outputs.append(out.detach().float().cpu().clone())
        values = {}
        for name in attributes or []:
            tensor = _student_tensor(net, name)
            values[name] = None if tensor is None else tensor.detach().float().cpu().clone()
        after.append(values)
    return {"parameters": parameters, "initial": initial, "outputs": outputs, "input_grads": input_grads,
            "attributes": after, "ops": _ops_used(net)}


@handles("dropout_runs")
def dropout_runs(state: ExecutorState, model: dict, p: float, shape: list[int], seeds: list[int]) -> dict:
    """Run a hand-written dropout on a large all-nonzero input in train mode once per seed, then
    once in eval mode. Returns summaries: per run, how many elements are zero, how many survivors
    are scaled by a factor other than 1/(1-p); the largest eval-mode change."""
    import math

    net = _model(state, model)
    generator = torch.Generator().manual_seed(7)
    # magnitudes in [0.5, 1.5) with random signs: never zero, so a zero means dropped
    x = (torch.rand(shape, generator=generator) + 0.5) * (torch.randint(0, 2, shape, generator=generator) * 2 - 1)
    x = x.to(state.device)
    scale = 1.0 / (1.0 - p) if p < 1 else math.inf
    runs, masks = [], []
    for seed in seeds:
        net.train()
        seed_everything(seed)
        with torch.no_grad():
            out = _tensor_output(net(x.clone()))
        if out.shape != x.shape:
            raise MeasureFailure(f"forward() returned shape {tuple(out.shape)} for an input of shape {tuple(x.shape)}")
        out = out.detach().float()
        zero = out == 0
        kept = ~zero
        ratio = out[kept] / x[kept]
        runs.append({
            "zeros": int(zero.sum()),
            "badly_scaled": int((~torch.isclose(ratio, torch.full_like(ratio, scale), rtol=1e-5, atol=0)).sum()),
            "ratio_min": float(ratio.min()) if ratio.numel() else None,
            "ratio_max": float(ratio.max()) if ratio.numel() else None,
        })
        masks.append(zero)
    same_masks = sum(int(torch.equal(masks[0], m)) for m in masks[1:])
    net.eval()
    with torch.no_grad():
        out = _tensor_output(net(x.clone()))
    eval_change = float((out.detach().float() - x).abs().max()) if out.shape == x.shape else None
    return {"elements": x.numel(), "runs": runs, "repeated_masks": same_masks,
            "eval_shape": list(out.shape), "eval_change": eval_change,
            "parameters": [[n, list(q.shape)] for n, q in net.named_student_parameters()],
            "ops": _ops_used(net)}


@handles("call_graph")
def call_graph(state: ExecutorState, model: dict, input: torch.Tensor, backward: bool = False,
               calls: int = 1) -> dict:
    """Run a hand-written tensor function's compiled graph on ``input``, as the grader rebuilt it,
    ``calls`` times. With ``backward`` the sum of each result is backpropagated to the input, and
    its gradient is returned as it stands after the last call (so accumulation across calls shows)."""
    net = _model(state, model)
    net.eval()
    name = model.get("function", "the function")
    x = input.to(state.device)
    if backward:
        if not x.is_floating_point():
            raise MeasureFailure(f"the grader cannot differentiate {name}(...) with respect to an integer tensor")
        x = x.detach().clone().requires_grad_(True)
    out = None
    seed_everything(state.seed)
    for _ in range(max(1, int(calls))):
        if not backward:
            with torch.no_grad():
                out = net(x)
            continue
        out = net(x)
        if not isinstance(out, torch.Tensor):
            raise MeasureFailure(f"{name}(...) returned a {type(out).__name__}; expected a tensor to "
                                 "backpropagate through")
        if not out.requires_grad:
            raise MeasureFailure(f"{name}(...) returned a tensor without a gradient history: compute it from the "
                                 "inputs with torch operations (no .detach(), .item() or numpy)")
        out.sum().backward()
    result = out.detach().cpu().clone() if isinstance(out, torch.Tensor) else out
    grad = None if x.grad is None else x.grad.detach().cpu().clone()
    return {"result": result, "grad": grad, "ops": _ops_used(net)}


# ----------------------------------------------------------------- short training runs on small data

@handles("overfit_batch")
def overfit_batch(state: ExecutorState, model: dict, images: torch.Tensor, labels: torch.Tensor, lr: float,
                  max_steps: int, check_every: int) -> dict:
    """Train with Adam on one fixed batch, from PyTorch's default initialisation, until every image
    is classified right or the step budget runs out; return the final predictions."""
    import math
    import time

    net = _model(state, model)
    net.reset_to_default_init(state.seed)
    images, labels = images.to(state.device), labels.to(state.device)
    seed_everything(state.seed)
    optimizer = Adam(net.parameters(), lr=lr)
    started = time.perf_counter()
    step, history = 0, []
    net.train()
    while step < max_steps:
        loss = torch.nn.functional.cross_entropy(_tensor_output(net(images)), labels)
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

    from .optimizers import TrainingFailure, make_optimizer

    started = time.perf_counter()
    net = _model(state, model)
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
        predictions = _tensor_output(net(x_test.to(state.device)))
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
            out = _tensor_output(net(x_train[index]))
            if out.numel() != len(index):
                raise MeasureFailure(f"forward() returned {tuple(out.shape)} for a batch of {len(index)} inputs; "
                                     f"expected ({len(index)}, 1): one number per sample")
            loss = ((out.reshape(-1) - y_train[index]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return loss.detach()


# ----------------------------------------------------------------- trained weights handed in

WEIGHTS_NAME = "the weights file"      # how messages name it (the parent names the file in its own words)


def _read_state_dict(raw: bytes, max_bytes: int) -> dict:
    """The tensors of a ``torch.save``d state dict, read with torch's weights-only unpickler (tensors and
    plain containers only: a pickle that would import or call anything is refused, never run)."""
    import io
    import pickle
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise MeasureFailure(f"{WEIGHTS_NAME} is not a file torch.save writes: save the weights with "
                             "torch.save(model.state_dict(), 'model.pt')") from None
    if unpacked > max_bytes:
        raise MeasureFailure(f"{WEIGHTS_NAME} unpacks to {unpacked / 2**20:,.1f} MiB, over the "
                             f"{max_bytes / 2**20:g} MiB allowed: save model.state_dict() only")
    try:
        loaded = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()
        cause = next((line.strip() for line in first if "Unsupported" in line or "global" in line.lower()), "")
        cause = f" ({cause[:160]})" if cause else ""
        raise MeasureFailure(f"{WEIGHTS_NAME} holds something besides tensors and plain containers{cause}, which "
                             "the grader does not load: save model.state_dict() with torch.save, not the model "
                             "object or other Python objects") from None
    except Exception as exc:
        raise MeasureFailure(f"{WEIGHTS_NAME} cannot be read ({type(exc).__name__}): save it again with "
                             "torch.save(model.state_dict(), 'model.pt')") from None
    if not isinstance(loaded, dict):
        raise MeasureFailure(f"{WEIGHTS_NAME} holds a {type(loaded).__name__}, not a state dict: save "
                             "model.state_dict() with torch.save")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()):
        nested = [k for k, v in loaded.items() if isinstance(v, dict)][:3]
        hint = (f" (it looks like a checkpoint holding {', '.join(repr(str(k)[:40]) for k in nested)}: save the "
                "model's state_dict() itself)") if nested else ""
        raise MeasureFailure(f"{WEIGHTS_NAME} is not a state dict: every entry should map a name to a tensor"
                             f"{hint}; save model.state_dict() with torch.save")
    return loaded


def _names(names, limit: int = 6) -> str:
    names = sorted(names)
    shown = ", ".join(f"'{name[:60]}'" for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _load_weights(net: CompiledModel, weights: dict[str, torch.Tensor]) -> None:
    """Put every parameter and buffer of ``weights`` in place of the compiled model's, after checking that
    the names, shapes and dtypes are the model's and every value is finite."""
    expected = {name: getattr(net.store, attribute) for (kind, name), attribute in net.attribute.items()
                if kind in ("parameters", "buffers")}
    missing, unexpected = set(expected) - set(weights), set(weights) - set(expected)
    problems = []
    if missing:
        problems.append(f"it lacks {_names(missing)}")
    if unexpected:
        problems.append(f"it has {_names(unexpected)}, which the model does not")
    if problems:
        raise MeasureFailure(f"{WEIGHTS_NAME} does not match the model: {'; '.join(problems)}. Save the "
                             "state_dict() of the very Net you hand in, after training it")
    shapes = [f"'{name[:60]}' is {tuple(weights[name].shape)}, the model's {tuple(tensor.shape)}"
              for name, tensor in expected.items() if weights[name].shape != tensor.shape]
    if shapes:
        raise MeasureFailure(f"{WEIGHTS_NAME} does not match the model's shapes: {'; '.join(shapes[:6])}. "
                             "Save the state_dict() of the very Net you hand in")
    for name, tensor in expected.items():
        given = weights[name]
        if given.layout != torch.strided or given.is_quantized or given.dtype != tensor.dtype:
            raise MeasureFailure(f"'{name[:60]}' in {WEIGHTS_NAME} is {str(given.dtype).replace('torch.', '')}, "
                                 f"the model's {str(tensor.dtype).replace('torch.', '')}: keep the model's dtypes "
                                 "(no .half() or .double() before saving)")
        if given.is_floating_point() and not bool(torch.isfinite(given).all()):
            raise MeasureFailure(f"'{name[:60]}' in {WEIGHTS_NAME} holds NaN or infinite values: the training "
                                 "diverged; train again (a lower learning rate) and save the weights then")
    with torch.no_grad():
        for name, tensor in expected.items():
            tensor.copy_(weights[name])


@handles("evaluate_weights")
def evaluate_weights(state: ExecutorState, model: dict, weights: torch.Tensor, recipe: dict,
                     input_shape: list[int]) -> dict:
    """Load trained weights handed in (``weights``: the file's bytes as uint8, at most ``max_bytes`` of
    its spec as the parent read them) into the compiled model and predict the test images, with no
    training: the weights replace any initialisation, batch-norm statistics included."""
    import secrets
    import time

    from .optimizers import TrainingFailure
    from .training import same_network_at_every_size

    if state.data is None:
        raise MeasureFailure("the grader gave no test images to this check")
    if not isinstance(weights, torch.Tensor) or weights.dtype != torch.uint8 or weights.dim() != 1:
        raise MeasureFailure("the grader could not read the weights file")
    started = time.perf_counter()
    net = _model(state, model)
    try:
        _load_weights(net, _read_state_dict(weights.numpy().tobytes(), weights.numel()))
        test_images = state.data["test_images"]
        mean, std = recipe.get("normalize_mean", 0.1307), recipe.get("normalize_std", 0.3081)
        size = int(recipe.get("test_batch_size", 500))

        def batch(index: torch.Tensor) -> torch.Tensor:
            # uint8 (B, 28, 28) -> normalised float (B, *input_shape)
            return test_images[index].float().div_(255.0).sub_(mean).div_(std).view(len(index), *input_shape)

        net.eval()
        try:
            same_network_at_every_size(net, batch(torch.zeros(1, dtype=torch.long, device=test_images.device))[0],
                                        size)
        except TrainingFailure as exc:
            raise MeasureFailure(str(exc).replace("after training, ", "with these weights, ")) from None
        # a fresh order each run, as for a training run's test predictions; put back in order
        order = torch.randperm(len(test_images), generator=torch.Generator().manual_seed(secrets.randbits(62)))
        predictions = torch.empty(len(test_images), dtype=torch.long)
        with torch.no_grad():
            for start in range(0, len(test_images), size):
                index = order[start:start + size]
                out = _tensor_output(net(batch(index.to(test_images.device))))
                predictions[index] = out.argmax(1).cpu()
        count = sum(p.numel() for _, p in net.named_student_parameters())
        return {"predictions": predictions, "parameters": count, "seconds": time.perf_counter() - started}
    finally:
        net.restore(net.initial_state)
