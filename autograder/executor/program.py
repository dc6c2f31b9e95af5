"""Rebuild a submission's compiled graphs as a module the grader runs itself.

``CompiledModel`` holds the parameters and buffers the child sent, and one
``torch.fx.GraphModule`` per (mode, batch size) graph, built by this code from
allow-listed ops only. Node names in the rebuilt graphs are the grader's own
(the child's names never reach generated code); parameters are shared between
the train-mode and eval-mode graphs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import fx, nn

from ..wire import graph_format as fmt
from ..wire.allowlist import OpRefused, resolve, short_name
from ..wire.answers import SubmissionFact
from . import one_network
from .graph_passes import PSEUDO_OPS, ShapeRecorder, drop_dead_ops

CONV_OPS = {"conv1d", "conv2d", "conv3d", "convolution", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}
LINEAR_OPS = {"linear"}
NORM_OPS = {"batch_norm", "layer_norm", "group_norm", "instance_norm", "native_batch_norm",
            "native_layer_norm", "_native_batch_norm_legit_functional"}


# ops that leave the graph for a Python number; refused with their own words
NUMBER_OPS = ("aten.item.default", "aten._local_scalar_dense.default")


class GraphRefused(SubmissionFact):
    """The graph cannot be run by the grader; the message is for the student."""


@dataclass(frozen=True)
class GraphLimits:
    """What the executor holds a compiled model to; the parent names them in its install request."""

    max_constant_elements: int = 4096       # a hand-written module or function: buffers and constants together
    max_parameter_elements: int = 50_000_000
    # A model the grader trains and scores is held to being one network (one_network.py):
    network: bool = False
    max_carried_values: int = 256           # constants, numbers in the graph and allowed buffers, in 32-bit words
    max_graph_nodes: int = 2000             # operations in one graph
    allow_buffers: bool = False             # buffers other than batch-norm statistics
    input_shape: tuple = ()                 # one sample's shape, for the batch-size comparison
    batch_sizes: tuple = ()                 # every batch size the grader will run

    @classmethod
    def from_request(cls, raw: dict) -> "GraphLimits":
        """The limits a parent's install request names; anything malformed keeps its default."""
        values: dict = {}
        for name, field in cls.__dataclass_fields__.items():
            if name not in raw:
                continue
            value = raw[name]
            if field.type == "bool" and isinstance(value, bool):
                values[name] = value
            elif field.type == "int" and isinstance(value, (int, float)) and not isinstance(value, bool):
                values[name] = int(value)
            elif field.type == "tuple" and isinstance(value, (list, tuple)) and len(value) <= 64 and all(
                    isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 1 << 16 for v in value):
                values[name] = tuple(value)
        return cls(**values)


def _line_text(node: dict) -> str:
    line = node.get("line")
    return f" (line {line})" if isinstance(line, int) and not isinstance(line, bool) else ""


class _Store(nn.Module):
    """The tensors the graphs read, under names the grader chose (p0, b0, c0, ...)."""


class CompiledModel(nn.Module):
    """A submission's module as the grader runs it: same parameters, the grader's own code."""

    def __init__(self, compiled: dict, device: str, limits: GraphLimits = GraphLimits()) -> None:
        super().__init__()
        self.device_name = device
        self.class_name = str(compiled.get("class_name", "?"))[:fmt.MAX_STRING]
        self.store = _Store()
        self.attribute: dict[tuple[str, str], str] = {}     # (kind, student's name) -> store attribute
        self.parameter_names: list[str] = []                 # student's names, in order
        self.trainable: dict[str, bool] = {}
        self._load_tensors(compiled, limits)
        self.graphs: dict[str, list[tuple[dict, fx.GraphModule]]] = {}
        raw_graphs = compiled.get("graphs")
        if not isinstance(raw_graphs, dict) or not raw_graphs:
            raise GraphRefused("the compiled model carries no graph")
        for mode, graphs in raw_graphs.items():
            if mode not in ("train", "eval") or not isinstance(graphs, list) or not graphs or len(graphs) > 16:
                raise GraphRefused("the compiled model's graphs are malformed")
            self.graphs[mode] = [(graph, self._build(graph)) for graph in graphs]
        if limits.network:
            self._hold_to_one_network(compiled, limits)
        self.initial_state = self.snapshot()
        self._without_dropout: dict[int, fx.GraphModule] = {}
        if limits.network and limits.input_shape:
            try:
                one_network.check_batch_sizes(self.deterministic_eval, list(limits.input_shape),
                                              list(limits.batch_sizes), seed=0, device=self.device_name)
            except one_network.NetworkRefused as exc:
                raise GraphRefused(str(exc)) from None
            finally:
                self.restore(self.initial_state)

    def deterministic_eval(self, x: torch.Tensor):
        """The eval-mode graph for this batch with every dropout an identity (a network held to
        one_network's rules)."""
        was_training = self.training
        self.eval()
        try:
            graph, _ = self.graph_for(x.shape[0])
        finally:
            self.train(was_training)
        if id(graph) not in self._without_dropout:
            self._without_dropout[id(graph)] = self._build(one_network.without_dropout(graph))
        return self._without_dropout[id(graph)](x)

    def _hold_to_one_network(self, compiled: dict, limits: GraphLimits) -> None:
        """One graph for every batch size, the same network in both modes, within the budget;
        batch-norm statistics start from their defaults (what the submission set carries nothing)."""
        try:
            one_network.require_one_graph(compiled["graphs"], compiled.get("batch_specialized_line"))
            one_network.require_no_random_ops(compiled["graphs"])
            if "train" in self.graphs and "eval" in self.graphs:
                if len(self.graphs["train"]) != len(self.graphs["eval"]):
                    raise one_network.NetworkRefused("forward() is traced at other batch sizes in eval mode than "
                                                     "in training mode")
                for (train, _), (eval_, _) in zip(self.graphs["train"], self.graphs["eval"]):
                    one_network.require_same_modes(train, eval_, compiled.get("constants") or {})
            roles = self._roles()
            other_buffers = {}
            for (kind, name), attribute in self.attribute.items():
                if kind != "buffers":
                    continue
                buffer = getattr(self.store, attribute)
                role = roles.get(id(buffer), ("other", 0))[0]
                if role in ("running_mean", "running_var") or (role == "batches_tracked" and buffer.numel() == 1):
                    continue
                if not limits.allow_buffers:
                    raise one_network.NetworkRefused(
                        f"the model keeps a buffer '{name[:80]}' (register_buffer) that is not a batch-norm "
                        "statistic; the grader trains a network's parameters only: make it an nn.Parameter, "
                        "or a value computed in forward()")
                other_buffers[name] = buffer
            one_network.check_budget(compiled["graphs"], compiled.get("constants") or {}, other_buffers,
                                     limits.max_carried_values, limits.max_graph_nodes)
        except one_network.NetworkRefused as exc:
            raise GraphRefused(str(exc)) from None
        self.reset_norm_statistics()

    # ------------------------------------------------------------ loading

    def _load_tensors(self, compiled: dict, limits: GraphLimits) -> None:
        total, constant_total = 0, 0
        for kind, prefix in (("parameters", "p"), ("buffers", "b"), ("constants", "c")):
            tensors = compiled.get(kind) or {}
            if not isinstance(tensors, dict) or len(tensors) > 10_000:
                raise GraphRefused(f"the compiled model's {kind} are malformed")
            for i, (name, tensor) in enumerate(tensors.items()):
                if not isinstance(name, str) or not isinstance(tensor, torch.Tensor) or len(name) > fmt.MAX_STRING:
                    raise GraphRefused(f"the compiled model's {kind} are malformed")
                if tensor.is_complex() or tensor.is_quantized or tensor.layout != torch.strided:
                    raise GraphRefused(f"{kind[:-1]} '{name}' has a kind of tensor the grader does not run")
                attribute = f"{prefix}{i}"
                if kind == "parameters":
                    total += tensor.numel()
                    if total > limits.max_parameter_elements:
                        raise GraphRefused(f"the model has more than {limits.max_parameter_elements:,} parameters")
                    if not tensor.is_floating_point():
                        raise GraphRefused(f"parameter '{name}' is not a floating-point tensor")
                    trainable = bool((compiled.get("trainable") or {}).get(name, True))
                    self.store.register_parameter(attribute, nn.Parameter(
                        tensor.to(self.device_name).clone(), requires_grad=trainable))
                    self.parameter_names.append(name)
                    self.trainable[name] = trainable
                else:
                    constant_total += tensor.numel()
                    if constant_total > limits.max_constant_elements and not limits.network:
                        raise GraphRefused(
                            f"{kind[:-1]} '{name}' brings the model's buffers and constants to "
                            f"{constant_total:,} values; the grader accepts at most "
                            f"{limits.max_constant_elements:,} in all (weights belong in nn.Parameter, "
                            "which the grader initialises itself)")
                    self.store.register_buffer(attribute, tensor.to(self.device_name).clone())
                self.attribute[(kind, name)] = attribute

    def _build(self, graph: dict) -> fx.GraphModule:
        try:
            fmt.check_graph(graph)
        except fmt.GraphFormatError as exc:
            raise GraphRefused(f"the compiled graph is malformed: {exc}") from None
        g = fx.Graph()
        values: list = []
        kinds = {"parameter": "parameters", "buffer": "buffers", "constant": "constants"}
        for item in graph["inputs"]:
            if item["kind"] == "input":
                values.append(g.placeholder("x"))
                continue
            attribute = self.attribute.get((kinds[item["kind"]], item["name"]))
            if attribute is None:
                raise GraphRefused(f"the graph reads {item['kind']} '{item['name']}', which the model does not hold")
            values.append(g.get_attr(attribute))
        for node in graph["nodes"]:
            op = node["op"]
            if op in PSEUDO_OPS:
                target = PSEUDO_OPS[op]
            else:
                try:
                    target = resolve(op)
                except OpRefused:
                    if op in NUMBER_OPS:
                        raise GraphRefused(f"the code turns a tensor into a Python number{_line_text(node)} "
                                           "(.item(), float() or int()); keep every value a tensor, so that the "
                                           "grader can run it and autograd can reach it") from None
                    raise GraphRefused(f"forward() uses {op}{_line_text(node)}, which the grader does not run; "
                                       "write it with common torch operations (see the assignment README)") from None
            args = self._decode(node["args"], values)
            kwargs = {k: self._decode(v, values) for k, v in node["kwargs"].items()}
            values.append(g.call_function(target, tuple(args), kwargs))
        outputs = self._decode(graph["outputs"], values)
        g.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
        drop_dead_ops(g)
        return fx.GraphModule(self.store, g)

    def _decode(self, value, values: list):
        if isinstance(value, list):
            return [self._decode(v, values) for v in value]
        if isinstance(value, dict):
            (tag, inner), = value.items()
            if tag == fmt.REF:
                return values[inner]
            if tag == fmt.DTYPE:
                dtype = getattr(torch, inner, None)
                if not isinstance(dtype, torch.dtype):
                    raise GraphRefused(f"unknown dtype '{inner[:40]}' in the graph")
                return dtype
            if tag == fmt.DEVICE:
                return torch.device(self.device_name)
            if tag == fmt.LAYOUT:
                if inner != "strided":
                    raise GraphRefused("the graph asks for a sparse tensor layout")
                return torch.strided
            if tag == fmt.MEMORY_FORMAT:
                formats = {"contiguous_format": torch.contiguous_format, "preserve_format": torch.preserve_format,
                           "channels_last": torch.channels_last}
                if inner not in formats:
                    raise GraphRefused("unknown memory format in the graph")
                return formats[inner]
        return value

    # ------------------------------------------------------------ running

    def graph_for(self, batch: int) -> tuple[dict, fx.GraphModule]:
        mode = "train" if self.training else "eval"
        options = self.graphs.get(mode)
        if not options:
            raise GraphRefused(f"the grader has no {mode}-mode graph of this model")
        for graph, module in options:
            if graph["dynamic"] or graph["batch"] == batch:
                return graph, module
        sizes = ", ".join(str(graph["batch"]) for graph, _ in options)
        raise GraphRefused(f"forward() only works for batches of {sizes}: it fixes the batch size "
                           f"(e.g. x.view({sizes.split(',')[0]}, -1)); use x.view(x.size(0), -1) or "
                           "torch.flatten(x, 1)")

    def fixed_batch_sizes(self) -> list[int]:
        """Batch sizes of the graphs for the current mode, or [] when the batch size is dynamic."""
        options = self.graphs.get("train" if self.training else "eval", [])
        return [] if any(g["dynamic"] for g, _ in options) else sorted(g["batch"] for g, _ in options)

    def forward(self, x: torch.Tensor):
        return self.graph_for(x.shape[0])[1](x)

    def trace(self, x: torch.Tensor) -> list[list]:
        """Run once and list every op as [name, output shape or None, parameters it reads, pooling window]."""
        graph, module = self.graph_for(x.shape[0])
        calls: list[list] = []
        recorder = ShapeRecorder(module, calls)
        recorder.run(x)
        return calls

    # ------------------------------------------------------------ state

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {name: t.detach().clone() for name, t in self.store.state_dict(keep_vars=True).items()}

    def restore(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, tensor in self.store.state_dict(keep_vars=True).items():
                tensor.copy_(state[name])
        for p in self.store.parameters():
            p.grad = None

    def named_student_parameters(self):
        for name in self.parameter_names:
            yield name, getattr(self.store, self.attribute[("parameters", name)])

    def reset_to_default_init(self, seed: int) -> None:
        """PyTorch's default initialisation for every parameter, chosen by how the graphs use it.

        Convolution and linear weights and biases: uniform(±1/sqrt(fan_in)), as
        torch.nn does; normalisation weights 1 and biases 0, running statistics
        reset. Any other parameter is kept if all its values are equal (a ones or
        zeros start) and drawn as a linear weight otherwise, so that no value
        trained elsewhere reaches the training run.
        """
        roles = self._roles()
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in self.named_student_parameters():
                role, fan_in = roles.get(id(p), ("other", 0))
                if role == "norm_weight":
                    p.fill_(1.0)
                elif role == "norm_bias":
                    p.zero_()
                elif role in ("weight", "bias") or not _all_equal(p):
                    fan = fan_in if role == "bias" else _fan_in(p)
                    bound = 1.0 / math.sqrt(fan) if fan > 0 else 0.0
                    p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1).mul_(bound))
        self.reset_norm_statistics(roles)

    def reset_norm_statistics(self, roles: dict | None = None) -> None:
        """Batch-norm running statistics back to their defaults: mean 0, variance 1, no batches seen."""
        roles = self._roles() if roles is None else roles
        with torch.no_grad():
            for attribute, buffer in self.store.named_buffers():
                role = roles.get(id(buffer), ("other", 0))[0]
                if role == "running_mean" or role == "batches_tracked":
                    buffer.zero_()
                elif role == "running_var":
                    buffer.fill_(1.0)

    def _roles(self) -> dict[int, tuple[str, int]]:
        roles: dict[int, tuple[str, int]] = {}
        for mode_graphs in self.graphs.values():
            for graph, module in mode_graphs:
                tensors = [None if item["kind"] == "input" else
                           getattr(self.store, self.attribute[(item["kind"] + "s", item["name"])])
                           for item in graph["inputs"]]
                inputs = len(tensors)
                for node in graph["nodes"]:
                    op = short_name(node["op"])
                    refs = [a.get(fmt.REF) if isinstance(a, dict) and fmt.REF in a else None for a in node["args"]]
                    at = [tensors[r] if r is not None and r < inputs else None for r in refs]
                    if op in CONV_OPS | LINEAR_OPS and len(at) > 1 and at[1] is not None:
                        roles[id(at[1])] = ("weight", _fan_in(at[1]))
                        if len(at) > 2 and at[2] is not None:
                            roles[id(at[2])] = ("bias", _fan_in(at[1]))
                    elif op in NORM_OPS:
                        names = ["input", "norm_weight", "norm_bias", "running_mean", "running_var"]
                        if op in ("layer_norm", "native_layer_norm", "group_norm"):
                            names = ["input", None, "norm_weight", "norm_bias"]
                        for tensor, role in zip(at, names):
                            if tensor is not None and role and role != "input":
                                roles[id(tensor)] = (role, 0)
        for attribute, buffer in self.store.named_buffers():
            name = next((n for (k, n), a in self.attribute.items() if a == attribute), "")
            if name.endswith("num_batches_tracked"):
                roles[id(buffer)] = ("batches_tracked", 0)
        return roles


def _fan_in(tensor: torch.Tensor) -> int:
    if tensor.dim() < 2:
        return tensor.numel()
    return tensor.shape[1] * math.prod(tensor.shape[2:])


def _all_equal(tensor: torch.Tensor) -> bool:
    return tensor.numel() == 0 or bool((tensor == tensor.reshape(-1)[0]).all())


