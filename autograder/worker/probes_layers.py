"""Questions about a hand-written module: build it, run it batch after batch.

The parent runs the trusted PyTorch module on the same inputs and compares;
this side only reports what the submission's module did.
"""

from __future__ import annotations

import math

import torch

from .probes import ProbeFailure, WorkerState, _check_tensor, get_name, probe, seed_everything, to_plain


def _tensor_attributes(module: torch.nn.Module, names: list[str]) -> dict:
    found = {}
    for name in names:
        value = getattr(module, name, None)
        found[name] = value.detach().float().cpu().clone() if isinstance(value, torch.Tensor) else None
    return found


@probe("module_runs")
def module_runs(state: WorkerState, module: str, args: list, steps: list[dict],
                attributes: list[str] | None = None, build_seed: int = 0,
                scale: float = 1.0, shift: float = 0.0) -> dict:
    """Build ``module(*args)`` once, then run it on each step's input in order.

    Each step names a mode ('train' or 'eval'), a seed set just before the
    call, an input, and optionally ``weights``: then the loss
    ``sum(output * weights)`` is backpropagated and the input's gradient kept.
    Inputs are multiplied by ``scale`` and shifted by ``shift`` first. After each step the listed tensor attributes (e.g. running statistics)
    are read back.
    """
    cls = get_name(state, module)
    seed_everything(build_seed)
    net = cls(*args)
    if not isinstance(net, torch.nn.Module):
        raise ProbeFailure(f"{module}(...) built a {type(net).__name__}, not a torch.nn.Module")
    parameters = [[name, list(p.shape), bool(p.requires_grad)] for name, p in net.named_parameters()]
    initial = {name: p.detach().float().cpu().clone() for name, p in net.named_parameters()}
    outputs, input_grads, after = [], [], []
    for step in steps:
        net.train(step["mode"] == "train")
        seed_everything(step.get("seed", state.seed))
        x = step["input"] * scale + shift
        weights = step.get("weights")
        if weights is not None:
            x.requires_grad_(True)
            out = _check_tensor(net(x))
            if out.shape != weights.shape:
                raise ProbeFailure(f"forward() returned shape {tuple(out.shape)} for an input of shape "
                                   f"{tuple(x.shape)}; expected {tuple(weights.shape)}")
            (out * weights).sum().backward()
            input_grads.append(None if x.grad is None else x.grad.detach().clone())
        else:
            with torch.no_grad():
                out = _check_tensor(net(x))
            input_grads.append(None)
        outputs.append(out.detach().float().cpu().clone())
        after.append(_tensor_attributes(net, attributes or []))
    return {"parameters": parameters, "initial": initial, "outputs": outputs,
            "input_grads": input_grads, "attributes": after}


@probe("dropout_runs")
def dropout_runs(state: WorkerState, module: str, p: float, shape: list[int], seeds: list[int]) -> dict:
    """Build ``module(p)`` and run it on a large all-nonzero input in train mode
    once per seed, then once in eval mode. Returns summaries, not the big tensors:
    per run, how many elements are zero, how many survivors are scaled by a
    factor other than 1/(1-p), and the largest eval-mode change."""
    cls = get_name(state, module)
    seed_everything(0)
    net = cls(p)
    if not isinstance(net, torch.nn.Module):
        raise ProbeFailure(f"{module}(p) built a {type(net).__name__}, not a torch.nn.Module")
    generator = torch.Generator().manual_seed(7)
    # magnitudes in [0.5, 1.5) with random signs: never zero, so a zero means dropped
    x = (torch.rand(shape, generator=generator) + 0.5) * (torch.randint(0, 2, shape, generator=generator) * 2 - 1)
    scale = 1.0 / (1.0 - p) if p < 1 else math.inf
    runs, masks = [], []
    for seed in seeds:
        net.train()
        seed_everything(seed)
        with torch.no_grad():
            out = _check_tensor(net(x.clone()))
        if out.shape != x.shape:
            raise ProbeFailure(f"forward() returned shape {tuple(out.shape)} for an input of shape {tuple(x.shape)}")
        out = out.detach().float().cpu()
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
        out = _check_tensor(net(x.clone()))
    eval_change = float((out.detach().float().cpu() - x).abs().max()) if out.shape == x.shape else None
    return {"elements": x.numel(), "runs": runs, "repeated_masks": same_masks,
            "eval_shape": list(out.shape), "eval_change": eval_change,
            "parameters": to_plain([[n, list(q.shape)] for n, q in net.named_parameters()])}
