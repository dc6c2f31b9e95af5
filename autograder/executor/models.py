"""The executor's questions about one model as it stands: install it, read its parameters, run it
forward and backward, and run hand-written modules and functions step by step.

Each handler answers one operation of wire/operations.py with plain data in the
shape the check judges read, measured on the graphs the grader rebuilt; each
starts from the state the model was installed with.
"""

from __future__ import annotations

import gc

import torch

from ..wire.allowlist import short_name
from ..wire.answers import gradient_problem, seed_everything
from .program import CompiledModel, GraphLimits, GraphRefused
from .state import ExecutorState, MeasureFailure, handles, installed, tensor_output


@handles("install")
def install(state: ExecutorState, key: str, compiled: dict, limits: dict | None = None) -> dict:
    """Rebuild a compiled model from plain data; later operations name it by ``key``."""
    rules = GraphLimits.from_request(limits) if isinstance(limits, dict) else GraphLimits()
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
    net = installed(state, model)
    return {
        "class_name": net.class_name,
        "parameters": [[name, list(p.shape), net.trainable[name]] for name, p in net.named_student_parameters()],
        "modules": [],
    }


@handles("forward")
def forward(state: ExecutorState, model: dict, input: torch.Tensor, runs: list[dict], trace: bool = False) -> dict:
    net = installed(state, model)
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
        outputs.append(tensor_output(out).detach().float().cpu())
    return {"outputs": outputs, "calls": calls}


@handles("backward")
def backward(state: ExecutorState, model: dict, input: torch.Tensor, weights: torch.Tensor) -> dict:
    """One training-mode pass, loss = sum(output * weights), one backward; every parameter's gradient."""
    net = installed(state, model)
    net.train()
    seed_everything(state.seed)
    out = tensor_output(net(input.to(state.device)))
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


# ----------------------------------------------------------------- hand-written modules

def _ops_used(net: CompiledModel) -> list[list]:
    """Every op the module's graphs run, as [short name, submission line or None], in graph order."""
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
    net = installed(state, model)
    parameters = [[name, list(p.shape), net.trainable[name]] for name, p in net.named_student_parameters()]
    initial = {name: p.detach().float().cpu().clone() for name, p in net.named_student_parameters()}
    outputs, input_grads, after, tracked = [], [], [], []
    for step in steps:
        net.train(step["mode"] == "train")
        seed_everything(step.get("seed", state.seed))
        x = (step["input"] * scale + shift).to(state.device)
        weights = step.get("weights")
        if weights is not None:
            x.requires_grad_(True)
            out = tensor_output(net(x))
            if out.shape != weights.shape:
                raise MeasureFailure(f"forward() returned shape {tuple(out.shape)} for an input of shape "
                                     f"{tuple(x.shape)}; expected {tuple(weights.shape)}")
            if out.requires_grad:
                (out * weights.to(out.device)).sum().backward()
            input_grads.append(None if x.grad is None else x.grad.detach().cpu().clone())
        else:
            with torch.no_grad():
                out = tensor_output(net(x))
            input_grads.append(None)
        outputs.append(out.detach().float().cpu().clone())
        values, history = {}, {}
        for name in attributes or []:
            tensor = _student_tensor(net, name)
            values[name] = None if tensor is None else tensor.detach().float().cpu().clone()
            history[name] = tensor is not None and tensor.requires_grad    # updated with autograd recording
        after.append(values)
        tracked.append(history)
    return {"parameters": parameters, "initial": initial, "outputs": outputs, "input_grads": input_grads,
            "attributes": after, "attributes_tracked": tracked, "ops": _ops_used(net)}


@handles("dropout_runs")
def dropout_runs(state: ExecutorState, model: dict, p: float, shape: list[int], seeds: list[int]) -> dict:
    """Run a hand-written dropout on a large all-nonzero input in train mode once per seed, then
    once in eval mode. Returns summaries: per run, how many elements are zero, how many survivors
    are scaled by a factor other than 1/(1-p); the largest eval-mode change."""
    import math

    net = installed(state, model)
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
            out = tensor_output(net(x.clone()))
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
        out = tensor_output(net(x.clone()))
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
    net = installed(state, model)
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
        problem = gradient_problem(out, f"{name}(...)")
        if problem:
            raise MeasureFailure(problem)
        out.sum().backward()
    result = out.detach().cpu().clone() if isinstance(out, torch.Tensor) else out
    grad = None if x.grad is None else x.grad.detach().cpu().clone()
    return {"result": result, "grad": grad, "ops": _ops_used(net)}
