"""Mutation operators for a network's layers: their sizes, activations, pooling and order.

Each operator edits only the graded scopes (see ``core``) and yields its sites in file order;
``OPERATORS`` lists them in the order they run.
"""

from __future__ import annotations

import ast
import copy
from typing import Iterator

from .core import (Context, Edit, Operator, argument, expression_text, is_int, is_self_call, library_call,
                   prefix_of, registrar, remove_element, replace, sequential_elements, swap)

OPERATORS: list[Operator] = []
operator = registrar(OPERATORS)


LAYER_CLASSES = {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d", "Linear", "Bilinear", "MaxPool1d", "MaxPool2d",
                 "AvgPool1d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Embedding", "LSTM", "GRU", "RNN"}
LAYER_FUNCTIONS = {"max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "conv1d", "conv2d"}
NOT_SIZES = {"bias", "inplace", "ceil_mode", "count_include_pad", "return_indices", "affine",
             "track_running_stats", "dim", "batch_first", "eps", "momentum", "dilation", "groups"}
PADDING_POSITION = {"Conv1d": 4, "Conv2d": 4, "Conv3d": 4, "MaxPool1d": 2, "MaxPool2d": 2, "AvgPool1d": 2,
                    "AvgPool2d": 2, "max_pool2d": 3, "avg_pool2d": 3, "conv2d": 4, "conv1d": 4}


def layer_numbers(ctx: Context) -> Iterator[ast.Constant]:
    """The integer literals that size a layer: channels, features, kernel size, stride, padding."""
    for _, call in ctx.calls():
        name = library_call(call)
        if name not in LAYER_CLASSES and name not in LAYER_FUNCTIONS:
            continue
        given = list(call.args[1:] if name in LAYER_FUNCTIONS else call.args)
        given += [k.value for k in call.keywords if k.arg not in NOT_SIZES]
        for value in given:
            for node in ast.walk(value):
                if is_int(node):
                    yield node


@operator("layer_number_plus_one", "a layer's size (channels, features, kernel size, stride or padding) one more")
def _plus_one(ctx):
    for node in layer_numbers(ctx):
        yield replace(ctx, node, str(node.value + 1))


@operator("layer_number_minus_one", "a layer's size one less (never below 0)")
def _minus_one(ctx):
    for node in layer_numbers(ctx):
        if node.value >= 1:
            yield replace(ctx, node, str(node.value - 1))


@operator("layer_number_doubled", "a layer's size (channels, features, kernel size, stride or padding) doubled")
def _doubled(ctx):
    for node in layer_numbers(ctx):
        if node.value >= 2:
            yield replace(ctx, node, str(node.value * 2))


@operator("layer_padding_zeroed", "a layer's padding forgotten (padding=0), as when a 32x32 architecture meets 28x28 images")
def _padding_zeroed(ctx):
    for _, call in ctx.calls():
        name = library_call(call)
        value = argument(call, "padding", PADDING_POSITION.get(name)) if name in PADDING_POSITION else None
        if value is not None and is_int(value) and value.value > 0:
            yield replace(ctx, value, "0")


# ----------------------------------------------------------------- activations and pooling

ACTIVATION_FUNCTIONS = {"relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu", "relu6", "silu", "softplus", "selu"}
ACTIVATION_MODULES = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "GELU": "gelu", "ELU": "elu",
                      "LeakyReLU": "leaky_relu", "ReLU6": "relu6", "SiLU": "silu", "Softplus": "softplus",
                      "SELU": "selu"}
MODULE_OF = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def _activations(ctx: Context) -> Iterator[tuple[ast.Call, str, bool]]:
    """(call, activation, is a module like nn.ReLU()) for each activation in the graded code."""
    for _, call in ctx.calls():
        name = library_call(call)
        if name in ACTIVATION_FUNCTIONS and call.args:
            yield call, name, False
        elif name in ACTIVATION_MODULES:
            yield call, ACTIVATION_MODULES[name], True


def _activation_edit(ctx: Context, call: ast.Call, module: bool, new: str | None) -> Edit:
    """The activation replaced by ``new`` (relu, tanh, sigmoid) or by nothing (None)."""
    if module:
        return replace(ctx, call, f"{prefix_of(call)}{MODULE_OF[new] if new else 'Identity'}()")
    if new is None:
        return replace(ctx, call, expression_text(ctx, call.args[0]))
    return replace(ctx, call, f"torch.{new}({ctx.source.segment(call.args[0])})")


@operator("activation_swapped", "the activation swapped: ReLU for tanh, tanh (or any other) for ReLU")
def _activation_swapped(ctx):
    if ctx.has_torch:
        for call, name, module in _activations(ctx):
            yield _activation_edit(ctx, call, module, "tanh" if name == "relu" else "relu")


@operator("activation_to_sigmoid", "the activation replaced by a sigmoid")
def _activation_to_sigmoid(ctx):
    if ctx.has_torch:
        for call, name, module in _activations(ctx):
            if name != "sigmoid":
                yield _activation_edit(ctx, call, module, "sigmoid")


@operator("activation_removed", "the activation left out (the identity): stacked layers collapse into one linear map")
def _activation_removed(ctx):
    for call, _, module in _activations(ctx):
        yield _activation_edit(ctx, call, module, None)


POOL_SWAPS = {"max_pool1d": "avg_pool1d", "avg_pool1d": "max_pool1d", "max_pool2d": "avg_pool2d",
              "avg_pool2d": "max_pool2d", "adaptive_max_pool2d": "adaptive_avg_pool2d",
              "adaptive_avg_pool2d": "adaptive_max_pool2d", "MaxPool1d": "AvgPool1d", "AvgPool1d": "MaxPool1d",
              "MaxPool2d": "AvgPool2d", "AvgPool2d": "MaxPool2d", "AdaptiveMaxPool2d": "AdaptiveAvgPool2d",
              "AdaptiveAvgPool2d": "AdaptiveMaxPool2d"}


@operator("pooling_swapped", "max pooling swapped for average pooling, or the other way round")
def _pooling_swapped(ctx):
    for _, call in ctx.calls():
        name = library_call(call)
        if name in POOL_SWAPS:
            new = copy.deepcopy(call)
            new.func.attr = POOL_SWAPS[name]
            new.keywords = [k for k in new.keywords if k.arg not in ("return_indices", "dilation",
                                                                     "count_include_pad", "divisor_override")]
            yield replace(ctx, call, ast.unparse(new))


@operator("pooling_removed", "a pooling layer left out (nn.Identity() in its place, or its input passed on)")
def _pooling_removed(ctx):
    for _, call in ctx.calls():
        name = library_call(call)
        if name in POOL_SWAPS and name[0].isupper():
            yield replace(ctx, call, f"{prefix_of(call)}Identity()")
        elif name in POOL_SWAPS and call.args:
            yield replace(ctx, call, expression_text(ctx, call.args[0]))


# ----------------------------------------------------------------- the layers forward() uses

@operator("layer_call_removed", "a layer left out of forward() (or out of an nn.Sequential)")
def _layer_call_removed(ctx):
    for _, call in ctx.calls(forward_only=True):
        if is_self_call(call) and len(call.args) == 1 and not call.keywords:
            yield replace(ctx, call, expression_text(ctx, call.args[0]))
    for _, elements in sequential_elements(ctx):
        for index in range(len(elements)):
            yield remove_element(ctx, elements, index)


LAYERISH = ACTIVATION_FUNCTIONS | set(POOL_SWAPS) | {"dropout", "dropout2d", "flatten"}


def _layerish(call: ast.AST) -> bool:
    return isinstance(call, ast.Call) and bool(call.args) and (
        is_self_call(call) or library_call(call) in LAYERISH)


@operator("layer_calls_swapped", "two layers swapped in forward(): adjacent steps, nested calls, or nn.Sequential items")
def _layer_calls_swapped(ctx):
    for _, block in ctx.statement_lists(forward_only=True):
        for first, second in zip(block, block[1:]):
            if (isinstance(first, ast.Assign) and isinstance(second, ast.Assign)
                    and ast.dump(first.targets[0]) == ast.dump(second.targets[0])
                    and ctx.source.segment(first.value) != ctx.source.segment(second.value)):
                yield swap(ctx, first.value, second.value)
    for _, call in ctx.calls(forward_only=True):
        inner = call.args[0] if _layerish(call) else None
        if _layerish(inner) and ast.dump(inner.func) != ast.dump(call.func):
            outer = copy.deepcopy(call)
            outer.args[0] = copy.deepcopy(inner.args[0])
            swapped = copy.deepcopy(inner)
            swapped.args[0] = outer
            yield replace(ctx, call, ast.unparse(swapped))
    for _, elements in sequential_elements(ctx):
        for first, second in zip(elements, elements[1:]):
            if ctx.source.segment(first) != ctx.source.segment(second):
                yield swap(ctx, first, second)
