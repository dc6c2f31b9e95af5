"""Hold a trained model's graphs to being one network that learns.

A model the grader trains and scores (not a hand-written layer or function) must be:

- **one network for every batch size**: one graph per mode with a dynamic batch
  dimension, which gives the same output for a sample whatever batch it comes in;
- **one network for both modes**: the eval-mode graph equals the train-mode graph
  except where torch's own mode-dependent ops change (dropout becomes the identity,
  batch norm reads its running statistics, its batch counter stops);
- **within an information budget**: everything it carries besides its parameters
  (which the grader re-initialises) counts toward ``max_carried_values``: tensor
  constants and every number written in the graph; batch-norm statistics are reset
  to their defaults and count nothing; other buffers are refused unless allowed.

Every refusal names the submission line where the rule breaks.
"""

from __future__ import annotations

from typing import Any

import torch

from ..wire import graph_format as fmt
from ..wire.answers import SubmissionFact

# raw ATen names (aten.<name>.<overload>); in-place dropout returns its input in eval mode too
DROPOUT_OPS = {"dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout",
               "dropout_", "feature_dropout_", "alpha_dropout_", "feature_alpha_dropout_"}
BATCH_NORM_OPS = {"batch_norm"}
BATCH_NORM_TRAINING_ARG = 5           # aten.batch_norm(input, weight, bias, mean, var, training, momentum, eps, cudnn)
BATCH_COUNTER = "num_batches_tracked"
RANDOM_OPS = {"bernoulli", "bernoulli_", "rand", "rand_like", "randn", "randn_like", "randint", "randint_like",
              "normal", "normal_", "uniform_", "randperm", "multinomial", "native_dropout", "rrelu",
              "rrelu_with_noise", "exponential_", "geometric_", "cauchy_", "log_normal_"}


class NetworkRefused(SubmissionFact):
    """The graphs are not one network that learns; the message is for the student."""


def _where(node: dict | None) -> str:
    line = node.get("line") if node else None
    return f" at line {line}" if isinstance(line, int) and not isinstance(line, bool) else ""


# ----------------------------------------------------------------- one network for every batch size

def require_one_graph(graphs: dict[str, list[dict]], specialized_line: Any) -> None:
    """One graph per mode with a dynamic batch dimension, or (where forward() fixes some size, as
    x.squeeze() does for a batch of 1) one graph per batch size that is the same network up to
    shapes: the same ops on the same values, with only whole numbers (sizes) allowed to differ."""
    line = specialized_line if isinstance(specialized_line, int) and not isinstance(specialized_line, bool) else None
    for mode, options in graphs.items():
        if len(options) == 1 and options[0].get("dynamic") is True:
            continue
        first = _up_to_sizes(options[0])
        if all(_up_to_sizes(graph) == first for graph in options[1:]):
            continue
        where = f" at line {line}" if line else ""
        raise NetworkRefused(
            f"forward() depends on the batch size{where}: the grader checks, trains and tests one network for "
            "every batch size, so forward() must not fix or test the batch size (write x.view(x.size(0), -1) "
            "or torch.flatten(x, 1), and no if on x.shape[0])")


def _up_to_sizes(graph: dict) -> tuple:
    """The graph with every whole number blanked: what per-size traces of one network share."""
    def blank(value: Any) -> Any:
        if isinstance(value, bool) or value is None or isinstance(value, (float, str)):
            return value
        if isinstance(value, int):
            return "size"
        if isinstance(value, (list, tuple)):
            return tuple(blank(v) for v in value)
        if isinstance(value, dict):
            if fmt.REF in value:
                return ("ref", value[fmt.REF])          # which value an argument is stays compared
            return tuple(sorted((k, blank(v)) for k, v in value.items()))
        return value
    return (tuple((i["kind"], _input_name(i)) for i in graph["inputs"]),
            tuple((n["op"], blank(n["args"]), blank(n["kwargs"])) for n in graph["nodes"]),
            blank(graph["outputs"]))


def require_no_random_ops(graphs: dict[str, list[dict]]) -> None:
    """A trained network may be random only through dropout."""
    for options in graphs.values():
        for graph in options:
            for node in graph["nodes"]:
                if _raw_name(node["op"]) in RANDOM_OPS:
                    raise NetworkRefused(
                        f"forward() draws random numbers ({node['op'].split('.')[1]}){_where(node)} outside "
                        "dropout; a network the grader trains may be random only through dropout (nn.Dropout "
                        "or F.dropout)")


def without_dropout(graph: dict) -> dict:
    """The graph with every dropout an identity: what eval mode computes when dropout obeys the mode."""
    nodes = []
    for node in graph["nodes"]:
        if _raw_name(node["op"]) in DROPOUT_OPS and node["args"]:
            node = {**node, "op": "aten.clone.default", "args": [node["args"][0]], "kwargs": {}}
        nodes.append(node)
    return {**graph, "nodes": nodes}


def check_batch_sizes(run, input_shape: list[int], batch_sizes: list[int], seed: int, device: str) -> None:
    """In eval mode, a batch of one sample repeated gives that sample's own output at every batch size.

    A repeated sample leaves a network that mixes samples by their mean alone (the
    batch-independence check's business); a network chosen by the batch size still shows.
    """
    sizes = sorted({int(b) for b in batch_sizes if 1 < int(b) <= 4096})
    generator = torch.Generator().manual_seed(seed)
    samples = torch.randn(len(sizes), *input_shape, generator=generator).to(device)
    with torch.no_grad():
        for size, sample in zip(sizes, samples):
            try:
                alone = run(sample[None])
            except Exception:  # noqa: BLE001 - the model checks say why forward() fails on one sample
                return
            if not isinstance(alone, torch.Tensor):
                return                               # the output checks say what forward() returns instead
            try:
                out = run(sample.expand(size, *sample.shape))
            except Exception as exc:  # noqa: BLE001 - a graph that only runs at some sizes
                raise NetworkRefused(f"forward() fails on a batch of {size} "
                                     f"({type(exc).__name__}: {str(exc)[:200]}); the grader runs one network "
                                     "for every batch size") from None
            if not same_rows(out, alone):
                raise NetworkRefused(
                    f"forward() gives a sample repeated {size} times a different output than the sample alone "
                    "(eval mode): it computes a different network depending on the batch size; each "
                    "sample's output must depend on that sample only")


def same_rows(batch: object, alone: torch.Tensor) -> bool:
    """Every row of ``batch`` equals the single row ``alone``, up to float rounding (a batch
    dimension squeezed away from ``alone`` is put back)."""
    if not isinstance(batch, torch.Tensor) or batch.dim() == 0 or alone.numel() * len(batch) != batch.numel():
        return False
    batch = batch.reshape(len(batch), -1)
    want = alone.float().reshape(1, -1).expand_as(batch)
    scale = max(1.0, float(alone.float().abs().max())) if alone.numel() else 1.0
    return torch.allclose(batch.float(), want, rtol=1e-4, atol=1e-4 * scale, equal_nan=True)


# ----------------------------------------------------------------- one network for both modes

def _buffer_refs(graph: dict) -> dict[int, str]:
    return {i: item["name"] for i, item in enumerate(graph["inputs"]) if item["kind"] == "buffer"}


def canonical(graph: dict, mode: str) -> tuple[list[tuple], list[dict], Any]:
    """The graph as a list of comparable nodes, mode-dependent ops made alike.

    Dropout nodes become their input; batch norm's ``training`` flag is blanked;
    in the train graph the batch counter's ``add_`` is left out. Returns the
    comparable nodes, the original node of each (for its line), and the outputs.
    """
    inputs = graph["inputs"]
    buffers = _buffer_refs(graph)
    canon_of: dict[int, Any] = {i: ("in", item["kind"], _input_name(item)) for i, item in enumerate(inputs)}
    kept: list[tuple] = []
    origin: list[dict] = []

    def arg(value: Any) -> Any:
        if isinstance(value, list):
            return tuple(arg(v) for v in value)
        if isinstance(value, dict):
            (tag, inner), = value.items()
            if tag == fmt.REF:
                return canon_of.get(inner, ("gone", inner))
            return (tag, inner)
        if isinstance(value, float) and value != value:
            return ("nan",)
        return value

    for offset, node in enumerate(graph["nodes"]):
        index = len(inputs) + offset
        op = _raw_name(node["op"])
        args = node["args"]
        first = args[0] if args else None
        first_ref = first.get(fmt.REF) if isinstance(first, dict) else None
        if op in DROPOUT_OPS and first_ref is not None:
            canon_of[index] = canon_of.get(first_ref, ("gone", first_ref))
            continue
        if (mode == "train" and op == "add_" and first_ref in buffers
                and buffers[first_ref].split(".")[-1] == BATCH_COUNTER):
            canon_of[index] = ("counter",)
            continue
        written = [arg(a) for a in args]
        if op in BATCH_NORM_OPS and len(written) > BATCH_NORM_TRAINING_ARG:
            written[BATCH_NORM_TRAINING_ARG] = "mode"
        kwargs = tuple(sorted((k, arg(v)) for k, v in node["kwargs"].items() if k != "training"))
        canon_of[index] = ("n", len(kept))
        kept.append((node["op"], tuple(written), kwargs))
        origin.append(node)
    return kept, origin, arg(graph["outputs"])


def _raw_name(op: str) -> str:
    """'aten.add_.Tensor' -> 'add_'."""
    parts = op.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "aten" else op


def _input_name(item: dict) -> str:
    # constants are named per graph ("train/c0", "eval/c0"): compared by value, see same_constants
    return item["name"].split("/", 1)[1] if item["kind"] == "constant" and "/" in item["name"] else item["name"]


def require_same_modes(train: dict, eval_: dict, constants: dict[str, torch.Tensor]) -> None:
    """The eval-mode graph is the train-mode graph up to dropout and batch norm."""
    message = ("forward() computes a different network in eval mode{where}; use self.training only through "
               "dropout and batch norm (nn.Dropout, nn.BatchNorm or F.dropout(x, p, self.training))")
    if [(i["kind"], _input_name(i)) for i in train["inputs"]] != [(i["kind"], _input_name(i)) for i in eval_["inputs"]]:
        raise NetworkRefused(message.format(where=""))
    for a, b in zip(train["inputs"], eval_["inputs"]):
        if a["kind"] == "constant":
            left, right = constants.get(a["name"]), constants.get(b["name"])
            if (left is None or right is None or left.dtype != right.dtype or left.shape != right.shape
                    or not torch.equal(left, right)):
                raise NetworkRefused(message.format(where=""))
    train_nodes, train_origin, train_out = canonical(train, "train")
    eval_nodes, eval_origin, eval_out = canonical(eval_, "eval")
    for i in range(max(len(train_nodes), len(eval_nodes))):
        if i >= len(train_nodes) or i >= len(eval_nodes) or train_nodes[i] != eval_nodes[i]:
            train_line = _where(train_origin[i] if i < len(train_origin) else None)
            eval_line = _where(eval_origin[i] if i < len(eval_origin) else None)
            if train_line and eval_line and train_line != eval_line:
                where = f" (eval mode runs line {eval_line[9:]} where training mode runs line {train_line[9:]})"
            else:
                where = eval_line or train_line
            raise NetworkRefused(message.format(where=where))
    if train_out != eval_out:
        raise NetworkRefused(message.format(where=""))


# ----------------------------------------------------------------- the information budget

def _literal_count(value: Any) -> int:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return 0          # flags, absent arguments and names carry (next to) nothing
    if isinstance(value, (int, float)):
        return 1
    if isinstance(value, (list, tuple)):
        return sum(_literal_count(v) for v in value)
    return 0              # refs, dtypes, devices


def literal_values(graph: dict) -> int:
    """Numbers written in the graph's node arguments (kernel sizes, shapes, scalars ...)."""
    return sum(_literal_count(node["args"]) + _literal_count(list(node["kwargs"].values()))
               for node in graph["nodes"])


def tensor_values(tensor: torch.Tensor) -> int:
    """A tensor's elements counted in 32-bit words (a float64 value counts twice)."""
    return tensor.numel() * max(1, tensor.element_size() // 4)


def check_budget(graphs: dict[str, list[dict]], constants: dict[str, torch.Tensor], other_buffers: dict[str, torch.Tensor],
                 max_values: int, max_nodes: int) -> int:
    """Raise NetworkRefused when the model carries more than ``max_values``; return what it carries."""
    for options in graphs.values():
        for graph in options:
            if len(graph["nodes"]) > max_nodes:
                raise NetworkRefused(f"forward() compiles to {len(graph['nodes']):,} operations; the grader "
                                     f"accepts at most {max_nodes:,} for a network ([limits] max_graph_nodes)")
    train = graphs.get("train") or graphs.get("eval") or []
    literals = max((literal_values(g) for g in train), default=0)
    prefix = "train" if "train" in graphs else "eval"
    constant_values = sum(tensor_values(t) for name, t in constants.items() if name.startswith(prefix))
    buffer_values = sum(tensor_values(t) for t in other_buffers.values())
    carried = literals + constant_values + buffer_values
    if carried > max_values:
        raise NetworkRefused(
            f"the model carries {carried:,} values besides its parameters ({constant_values:,} in tensor constants, "
            f"{buffer_values:,} in buffers, {literals:,} numbers written in forward()); the grader accepts at most "
            f"{max_values:,} ([limits] max_carried_values): weights belong in nn.Parameter, which the grader "
            "initialises and trains itself")
    return carried
