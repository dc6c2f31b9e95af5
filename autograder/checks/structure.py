"""Checks on the layers forward() actually uses, read from the graph the grader runs.

The grader's executor runs one training-mode pass of the compiled graph and
lists every ATen op, in order, with its output shape. ``nn.ReLU()``,
``F.relu`` and ``x.relu()`` all show up as ``relu``; a layer declared in
``__init__`` but never called, or computed and thrown away, does not show up.
"""

from __future__ import annotations

from ..settings.model import Key
from .base import (OTHER_MODEL_KEYS, CheckKind, Question, Verdict, call_text, checked_model, model_spec,
                   shape_text, validate_other_model)
from .tensor_specs import randn
from .registry import register

TRACE_BATCH = 4
TRACE_SEED = 99

CONV = {"conv1d", "conv2d", "conv3d"}
LINEAR = {"linear"}
DROPOUT = {"dropout", "dropout1d", "dropout2d", "dropout3d", "feature_dropout", "alpha_dropout",
           "feature_alpha_dropout"}
FAMILY_WORDS = {"conv": "a convolution", "linear": "a fully connected layer", "pool": "a pooling layer"}
ACTIVATIONS = {"relu", "relu6", "leaky_relu", "elu", "gelu", "selu", "silu", "celu", "tanh", "sigmoid", "hardtanh",
               "softplus", "mish", "hardswish", "hardsigmoid", "prelu", "rrelu"}
# ops that only reshape: "right after a layer" looks past them (a flatten between a layer and its activation)
RESHAPES = {"view", "_unsafe_view", "reshape", "flatten", "squeeze", "unsqueeze", "contiguous", "clone", "alias"}


def family(op: str) -> str | None:
    """'conv', 'linear' or 'pool' for structural ops; None for the rest."""
    if op in CONV:
        return "conv"
    if op in LINEAR:
        return "linear"
    if "pool" in op:
        return "pool"
    return None


def trace_question(assignment) -> Question:
    """One training-mode forward pass with the call recorder on (shared by all structure checks)."""
    return Question(
        "forward",
        {"model": model_spec(assignment), "input": randn([TRACE_BATCH, *assignment.input_shape], TRACE_SEED),
         "runs": [{"mode": "train", "seed": 0}], "trace": True},
        f"recording the layers forward() of {call_text(assignment)} uses",
    )


def _calls(answer) -> list[tuple[str, list | None]]:
    return [(call[0], call[1]) for call in answer.value["calls"] or []]


def _layer_text(op: str, shape) -> str:
    return f"{op} → {shape_text(shape[1:])}" if shape else op


@register
class LayerShapes(CheckKind):
    name = "layer_shapes"
    summary = "each layer of forward() produces the expected shape, in order"
    params = {
        "layers": Key([], "expected layers in order, e.g. 'conv 6x28x28'; alternatives split by '|'"),
        "pool_window": Key(0, "the window of every pooling layer, e.g. 2 for 2x2 (0: not checked; adaptive "
                              "pooling is judged by its shapes alone)"),
    }

    def describe(self, check, assignment):
        layers = " → ".join(token.strip().replace(" | ", " or ").replace("|", " or ")
                            for token in check.params["layers"])
        window = check.params["pool_window"]
        pooling = f", each pooling over {window}x{window} windows" if window else ""
        return f"the layers of forward() produce, in order: {layers}{pooling}" if layers else self.summary

    def validate(self, params):
        if not isinstance(params["pool_window"], int) or params["pool_window"] < 0:
            raise ValueError(f"pool_window should be a whole number of pixels such as 2 (0: not checked), "
                             f"not {params['pool_window']!r}")

    def questions(self, check, assignment):
        return [trace_question(assignment)]

    @staticmethod
    def _parse(token: str) -> list[tuple[str, tuple[int, ...]]]:
        options = []
        for option in token.split("|"):
            kind, dims = option.split()
            options.append((kind, tuple(int(d) for d in dims.split("x"))))
        return options

    def judge(self, check, assignment, answers, context):
        expected = [self._parse(token) for token in check.params["layers"]]
        # each layer's op, output shape and pooling window (None but for non-adaptive pooling)
        recorded = [(call[0], call[1], call[3] if len(call) > 3 else None)
                    for call in answers[0].value["calls"] or [] if family(call[0])]
        layers = [(op, shape) for op, shape, _ in recorded]
        for i, options in enumerate(expected, start=1):
            wanted = " or ".join(f"{FAMILY_WORDS[k]} with output {shape_text(d)}" for k, d in options)
            if i > len(layers):
                return Verdict(False, f"forward() uses {len(layers)} layers (convolution, pooling, fully "
                                      f"connected); expected {len(expected)}: layer {i} should be {wanted}")
            op, shape = layers[i - 1]
            got = tuple(shape[1:]) if shape else ()
            if not any(family(op) == k and got == d for k, d in options):
                return Verdict(False, f"layer {i} should be {wanted}; your forward() has "
                                      f"{_layer_text(op, shape)}")
        if len(layers) > len(expected):
            extra = ", ".join(_layer_text(op, shape) for op, shape in layers[len(expected):])
            return Verdict(False, f"forward() has more layers than expected after layer {len(expected)}: {extra}")
        window = check.params["pool_window"]
        if window:
            for i, (op, _, got) in enumerate(recorded, start=1):
                if got is not None and any(k != window for k in got):
                    return Verdict(False, f"layer {i} ({op}) pools over {'x'.join(map(str, got))} windows; the "
                                          f"assignment asks for {window}x{window} (the output shape alone cannot "
                                          f"tell: a stride of {window} gives it with any window)")
        return Verdict(True, "every layer's output shape matches: " +
                       ", ".join(_layer_text(op, shape) for op, shape in layers))


@register
class UsesOps(CheckKind):
    name = "uses_ops"
    summary = "forward() calls the required operations and none of the forbidden ones"
    params = {
        "min_counts": Key({}, "operation name -> least number of calls, e.g. {tanh = 4}"),
        "forbidden": Key([], "operations forward() must not call"),
        "reason": Key("", "why, in a few words, e.g. 'LeNet-5 uses tanh and average pooling'"),
        **OTHER_MODEL_KEYS,
    }

    def validate(self, params):
        validate_other_model(params)

    def questions(self, check, assignment):
        return [trace_question(checked_model(check, assignment))]

    def judge(self, check, assignment, answers, context):
        ops = [op for op, _ in _calls(answers[0])]
        reason = f" ({check.params['reason']})" if check.params["reason"] else ""
        used_forbidden = sorted({op for op in ops if op in check.params["forbidden"]})
        if used_forbidden:
            return Verdict(False, f"forward() calls {', '.join(used_forbidden)}, which it should not{reason}")
        for op, least in check.params["min_counts"].items():
            count = ops.count(op)
            if count < least:
                return Verdict(False, f"forward() calls {op} {count} time(s); expected at least {least}{reason}")
        wanted = ", ".join(f"{op} ×{ops.count(op)}" for op in check.params["min_counts"])
        return Verdict(True, f"forward() calls {wanted}")


@register
class HiddenLayers(CheckKind):
    name = "hidden_layers"
    summary = "convolutions, fully connected layers, activations and dropout as the assignment asks"
    params = {
        "convolutions": Key(2, "convolutions forward() must use"),
        "fully_connected": Key(2, "fully connected layers forward() must use"),
        "layers": Key(0, "convolutions and fully connected layers in all, where the assignment leaves the "
                         "split open (then convolutions and fully_connected are not counted; 0: they are)"),
        "activation": Key("relu", "activation required after every hidden layer; 'any' for any activation "
                                  "function (empty: not checked)"),
        "activation_right_after": Key(False, "the activation comes right after each hidden layer, before its "
                                             "pooling or dropout (reshapes aside)"),
        "min_dropouts": Key(1, "dropouts required between the last convolution and the output layer"),
        "dropout_after_hidden_fc": Key(False, "a dropout after each hidden fully connected layer, before the next one"),
        **OTHER_MODEL_KEYS,
    }

    def describe(self, check, assignment):
        p = check.params
        dropout = f" and at least {p['min_dropouts']} dropouts" if p["min_dropouts"] else ""
        place = "right after" if p["activation_right_after"] else "after"
        what = "an activation" if p["activation"] == "any" else p["activation"]
        activation = f", {what} {place} each hidden layer" if p["activation"] else ""
        layers = (f"{p['layers']} convolutions and fully connected layers" if p["layers"] else
                  f"{p['convolutions']} convolution(s), {p['fully_connected']} fully connected layer(s)")
        return f"forward() of {call_text(checked_model(check, assignment))} uses {layers}{activation}{dropout}"

    def validate(self, params):
        validate_other_model(params)
        if params["activation_right_after"] and not params["activation"]:
            raise ValueError("activation_right_after needs an activation (e.g. activation = \"tanh\", or \"any\")")

    def questions(self, check, assignment):
        return [trace_question(checked_model(check, assignment))]

    def judge(self, check, assignment, answers, context):
        p = check.params
        ops = [op for op, _ in _calls(answers[0])]
        layer_at = [i for i, op in enumerate(ops) if op in CONV | LINEAR]
        convs = [i for i in layer_at if ops[i] in CONV]
        linears = [i for i in layer_at if ops[i] in LINEAR]
        if p["layers"]:
            if len(layer_at) != p["layers"]:
                return Verdict(False, f"forward() uses {len(layer_at)} convolutions and fully connected layers; "
                                      f"the assignment asks for {p['layers']}")
        elif len(convs) != p["convolutions"]:
            return Verdict(False, f"forward() uses {len(convs)} convolution(s); the assignment asks for "
                                  f"{p['convolutions']}")
        elif len(linears) != p["fully_connected"]:
            return Verdict(False, f"forward() uses {len(linears)} fully connected layer(s); the assignment "
                                  f"asks for {p['fully_connected']}")
        if linears and convs and max(convs) > min(linears):
            return Verdict(False, "a convolution comes after a fully connected layer; the convolutions come first")
        names = {i: f"{'convolution' if i in convs else 'fully connected layer'} "
                    f"{(convs if i in convs else linears).index(i) + 1}" for i in layer_at}
        wanted = ACTIVATIONS if p["activation"] == "any" else {p["activation"]}
        what = "activation" if p["activation"] == "any" else p["activation"]
        for position, start in enumerate(layer_at[:-1] if p["activation"] else []):
            end = layer_at[position + 1]
            between = [op for op in ops[start + 1:end] if op not in RESHAPES]
            if not wanted & set(between):
                return Verdict(False, f"no {what} after {names[start]}: every hidden layer needs "
                                      f"{'an' if what == 'activation' else 'a ' + what} activation")
            if p["activation_right_after"] and between[0] not in wanted:
                return Verdict(False, f"{names[start]} is followed by {between[0]}, then its {what}: the "
                                      f"{what} comes right after the layer, before {between[0]}")
        if p["min_dropouts"]:
            last = linears[-1] if linears else len(ops)
            first = convs[-1] if convs else 0
            dropouts = sum(1 for op in ops[first:last] if op in DROPOUT)
            if dropouts < p["min_dropouts"]:
                return Verdict(False, f"forward() uses {dropouts} dropout(s) between the convolutions and the "
                                      f"output layer; the assignment asks for at least {p['min_dropouts']} "
                                      "(nn.Dropout / nn.Dropout2d, or F.dropout)")
        for position, start in enumerate(linears[:-1] if p["dropout_after_hidden_fc"] else []):
            if not any(op in DROPOUT for op in ops[start + 1:linears[position + 1]]):
                return Verdict(False, f"no dropout after fully connected layer {position + 1}: the assignment asks "
                                      "for a dropout after each hidden fully connected layer, before the next one")
        parts = [f"{len(convs)} convolutions", f"{len(linears)} fully connected layers"]
        if p["activation"]:
            parts.append(f"{what} {'right after' if p['activation_right_after'] else 'after'} each hidden layer")
        if p["min_dropouts"]:
            parts.append("dropout in place")
        return Verdict(True, ", ".join(parts))
