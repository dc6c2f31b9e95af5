"""The ATen ops the grader's executor agrees to run, and how their names resolve.

A graph from a submission names its ops as text ("aten.conv2d.default"). Only
names in ``ALLOWED`` are looked up, and only in ``torch.ops.aten`` or the small
table of Python operators below: nothing else a graph names can be reached.
Ops that read memory the grader did not initialise (``empty``), touch files,
devices or other processes are not here.
"""

from __future__ import annotations

import operator

import torch

from .answers import SubmissionFact

_ATEN = """
conv1d.default conv2d.default conv3d.default conv1d.padding conv2d.padding conv3d.padding convolution.default
conv_transpose1d.default conv_transpose2d.input conv_transpose3d.input
linear.default matmul.default mm.default bmm.default addmm.default t.default einsum.default dot.default mv.default
batch_norm.default layer_norm.default group_norm.default instance_norm.default
_native_batch_norm_legit_functional.default native_batch_norm.default native_layer_norm.default
dropout.default feature_dropout.default alpha_dropout.default feature_alpha_dropout.default native_dropout.default
dropout_.default feature_dropout_.default
max_pool1d.default max_pool2d.default max_pool3d.default max_pool2d_with_indices.default
max_pool1d_with_indices.default max_pool3d_with_indices.default
avg_pool1d.default avg_pool2d.default avg_pool3d.default
adaptive_avg_pool1d.default adaptive_avg_pool2d.default adaptive_avg_pool3d.default
adaptive_max_pool1d.default adaptive_max_pool2d.default
relu.default relu_.default relu6.default tanh.default tanh_.default sigmoid.default sigmoid_.default
gelu.default silu.default silu_.default elu.default elu_.default leaky_relu.default leaky_relu_.default
hardtanh.default hardtanh_.default softplus.default mish.default selu.default celu.default prelu.default
hardsigmoid.default hardswish.default
softmax.int log_softmax.int _softmax.default _log_softmax.default
cross_entropy_loss.default nll_loss.default nll_loss_nd.default nll_loss_forward.default mse_loss.default
exp.default log.default log2.default log1p.default sqrt.default rsqrt.default abs.default neg.default
sign.default reciprocal.default floor.default ceil.default round.default trunc.default sin.default cos.default
clamp.default clamp.Tensor clamp_min.default clamp_max.default clamp_.default clamp_min_.default
maximum.default minimum.default pow.Tensor_Scalar pow.Tensor_Tensor pow.Scalar square.default
add.Tensor add.Scalar sub.Tensor sub.Scalar rsub.Scalar rsub.Tensor mul.Tensor mul.Scalar div.Tensor
div.Scalar div.Tensor_mode div.Scalar_mode floor_divide.default remainder.Scalar remainder.Tensor fmod.Scalar
add_.Tensor add_.Scalar sub_.Tensor sub_.Scalar mul_.Tensor mul_.Scalar div_.Tensor div_.Scalar
where.self where.ScalarOther where.ScalarSelf where.Scalar
eq.Scalar eq.Tensor ne.Scalar ne.Tensor gt.Scalar gt.Tensor ge.Scalar ge.Tensor lt.Scalar lt.Tensor
le.Scalar le.Tensor logical_not.default logical_and.default logical_or.default bitwise_not.default
isnan.default isfinite.default
sum.default sum.dim_IntList mean.default mean.dim var.default var.dim var.correction std.default std.dim
std.correction max.default max.dim min.default min.dim amax.default amin.default argmax.default
argmin.default prod.default prod.dim_int logsumexp.default norm.Scalar norm.ScalarOpt_dim
linalg_vector_norm.default cumsum.default all.default any.default
view.default reshape.default _unsafe_view.default flatten.using_ints unflatten.int unsqueeze.default
squeeze.default squeeze.dim squeeze.dims expand.default expand_as.default view_as.default reshape_as.default
contiguous.default clone.default detach.default alias.default lift_fresh_copy.default
permute.default transpose.int numpy_T.default movedim.int select.int slice.Tensor narrow.default index.Tensor
index_select.default gather.default cat.default stack.default split.Tensor split_with_sizes.default
chunk.default unbind.int unfold.default repeat.default tile.default flip.default roll.default
constant_pad_nd.default pad.default type_as.default to.dtype to.dtype_layout to.device _to_copy.default
copy_.default fill_.Scalar zero_.default masked_fill.Scalar masked_fill.Tensor masked_fill_.Scalar
index_put_.default index_put.default select_scatter.default slice_scatter.default
new_zeros.default new_ones.default new_full.default zeros.default ones.default full.default
zeros_like.default ones_like.default full_like.default arange.default arange.start arange.start_step
scalar_tensor.default rand_like.default randn_like.default rand.default randn.default
bernoulli.default bernoulli.p bernoulli_.float bernoulli_.Tensor randint_like.default
one_hot.default eye.default tril.default triu.default diag.default outer.default
sym_size.int sym_numel.default sym_stride.int _assert_tensor_metadata.default _assert_scalar.default
"""

ALLOWED: frozenset[str] = frozenset(f"aten.{name}" for name in _ATEN.split())

# Arithmetic on sizes in dynamic-batch graphs (x.size(0) * 2) and picking from tuple results.
PYTHON_OPS = {
    "operator.getitem": operator.getitem,
    "operator.add": operator.add,
    "operator.sub": operator.sub,
    "operator.mul": operator.mul,
    "operator.floordiv": operator.floordiv,
    "operator.truediv": operator.truediv,
    "operator.mod": operator.mod,
    "operator.neg": operator.neg,
}


class OpRefused(SubmissionFact):
    """A graph names an op outside the allow-list (the message is the op's name; the executor words it)."""


def resolve(name: str):
    """The callable for an allowed op name; OpRefused otherwise."""
    if name in PYTHON_OPS:
        return PYTHON_OPS[name]
    if name not in ALLOWED:
        raise OpRefused(name)
    _, op, overload = name.split(".")
    return getattr(getattr(torch.ops.aten, op), overload)


def short_name(name: str) -> str:
    """'aten.relu_.default' -> 'relu': the name checks and messages use."""
    if not name.startswith("aten."):
        return name
    op = name.split(".")[1]
    op = {"_softmax": "softmax", "_log_softmax": "log_softmax", "feature_dropout": "dropout2d",
          "feature_dropout_": "dropout2d", "native_dropout": "dropout",
          "max_pool2d_with_indices": "max_pool2d", "max_pool1d_with_indices": "max_pool1d",
          "max_pool3d_with_indices": "max_pool3d"}.get(op, op)
    return op[:-1] if op.endswith("_") and not op.startswith("_") else op
