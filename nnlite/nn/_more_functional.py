"""The functional ops behind the activations, padding, unpooling, resampling and normalisation layers that
1D-conv ports need beyond the core set (PReLU, SiLU, Mish, Hardswish, Softplus, Hardtanh, ReLU6,
dropout1d, instance_norm, max_unpool1d, interpolate, one_hot).  Re-exported by ``nnlite.nn.functional``.

>>> import nnlite, nnlite.nn.functional as F
>>> F.hardtanh(nnlite.tensor([-3.0, 0.5, 3.0])).tolist()
[-1.0, 0.5, 1.0]
"""
import math

import numpy

from nnlite import _backend, _ops
from nnlite._tensor import Tensor, as_tensor
from nnlite.autograd.function import Function

__all__ = ["prelu", "silu", "mish", "hardswish", "softplus", "hardtanh", "relu6", "dropout1d", "instance_norm",
           "max_unpool1d", "interpolate", "one_hot"]


def _t(x):
    return x if isinstance(x, Tensor) else as_tensor(x)


def _softplus(xp, x, beta, threshold):
    bx = x * beta
    # log1p(exp(bx)) without overflow: max(bx, 0) + log1p(exp(-|bx|)); linear above the threshold
    soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta
    return xp.where(bx > threshold, x, soft).astype(x.dtype, copy=False)


class Elementwise(Function):
    """One elementwise activation ``kind`` with parameters ``a``, ``b``: forward and derivative from the input."""

    _array_backward = True

    @staticmethod
    def forward(ctx, x, kind, a, b):
        v = x._data
        xp = _backend.get_array_module(v)
        ctx.x, ctx.kind, ctx.a, ctx.b = v, kind, a, b
        if kind == "silu":
            out = v * _ops._sigmoid(xp, v)
        elif kind == "mish":
            out = v * xp.tanh(_softplus(xp, v, 1.0, 20.0))
        elif kind == "hardswish":
            out = v * xp.clip(v + 3, 0, 6) / 6
        elif kind == "softplus":
            out = _softplus(xp, v, a, b)
        else:  # hardtanh (ReLU6 is hardtanh(0, 6))
            out = xp.clip(v, a, b)
        return out.astype(v.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        v, kind, a, b = ctx.x, ctx.kind, ctx.a, ctx.b
        xp = _backend.get_array_module(g)
        if kind == "silu":
            s = _ops._sigmoid(xp, v)
            d = s * (1 + v * (1 - s))
        elif kind == "mish":
            t = xp.tanh(_softplus(xp, v, 1.0, 20.0))
            d = t + v * _ops._sigmoid(xp, v) * (1 - t * t)
        elif kind == "hardswish":
            d = xp.where(v < -3, 0.0, xp.where(v <= 3, v / 3 + 0.5, 1.0))
        elif kind == "softplus":
            d = xp.where(v * a > b, 1.0, _ops._sigmoid(xp, v * a))
        else:
            d = (v > a) & (v < b)
        return (g * d).astype(g.dtype, copy=False), None, None, None


def silu(input, inplace=False):
    """``x * sigmoid(x)`` (see PyTorch's ``torch.nn.functional.silu``)."""
    return Elementwise.apply(_t(input), "silu", None, None)


def mish(input, inplace=False):
    """``x * tanh(softplus(x))`` (see PyTorch's ``torch.nn.functional.mish``)."""
    return Elementwise.apply(_t(input), "mish", None, None)


def hardswish(input, inplace=False):
    """``x * relu6(x + 3) / 6`` (see PyTorch's ``torch.nn.functional.hardswish``)."""
    return Elementwise.apply(_t(input), "hardswish", None, None)


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold`` (see ``torch.nn.functional.softplus``)."""
    return Elementwise.apply(_t(input), "softplus", float(beta), float(threshold))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``clamp(x, min_val, max_val)``; the gradient passes strictly inside (see ``torch.nn.functional.hardtanh``)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return Elementwise.apply(_t(input), "hardtanh", min_val, max_val)


def relu6(input, inplace=False):
    """``min(max(x, 0), 6)`` (see PyTorch's ``torch.nn.functional.relu6``)."""
    return hardtanh(input, 0.0, 6.0)


class PReLUFunction(Function):
    _array_backward = True

    @staticmethod
    def forward(ctx, x, w):
        v, a = x._data, w._data
        shape = (1, a.size) + (1,) * (v.ndim - 2) if a.size > 1 else ()
        aw = a.reshape(shape) if a.size > 1 else a.reshape(())
        ctx.save_for_backward(x, w)
        ctx.aw = aw
        return _backend.get_array_module(v, a).where(v > 0, v, v * aw).astype(v.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        v, a = ctx.saved_arrays
        xp = _backend.get_array_module(g)
        pos = v > 0
        gx = xp.where(pos, g, g * ctx.aw) if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            contrib = xp.where(pos, 0, g * v)
            if a.size > 1:
                gw = contrib.sum(axis=tuple(i for i in range(v.ndim) if i != 1)).reshape(a.shape)
            else:
                gw = xp.asarray(contrib.sum()).reshape(a.shape)
        return gx, gw


def prelu(input, weight):
    """``x`` where ``x > 0``, else ``weight * x``, with one weight per channel (dimension 1) or one for all.

    See PyTorch's ``torch.nn.functional.prelu``.
    """
    x = _t(input)
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}")
    n = weight.numel()
    if n != 1:
        if x.ndim == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = x.shape[1] if x.ndim >= 2 else 1
        if n != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = {n} "
                               f"and channel size = {channels}.")
    return PReLUFunction.apply(x, weight)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``, scaling the rest by
    ``1 / (1 - p)`` (see PyTorch's ``torch.nn.functional.dropout1d``)."""
    from nnlite.nn.functional import _Dropout
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = _t(input)
    if x.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {x.ndim}D input. Note that dropout1d "
                           "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
                           "dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    if not training or p == 0 or x.numel() == 0:
        return x
    return _Dropout.apply(x, float(p), x.shape[:-1] + (1,))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) row of (N, C, L) input over L; see ``torch.nn.functional.instance_norm``.

    With running statistics and ``use_input_stats``, they are updated with the
    mean over the batch of the per-instance statistics (PyTorch's rule).
    """
    from nnlite.autograd.grad_mode import no_grad
    from nnlite.nn.functional import batch_norm
    x = _t(input)
    if x.ndim != 3:
        raise ValueError(f"expected 3D input (got {x.ndim}D input)")
    n, c, length = x.shape
    if use_input_stats and length <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {list(x.shape)}")
    if not use_input_stats:
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    rm = rv = None
    if running_mean is not None:
        rm, rv = running_mean.repeat(n), running_var.repeat(n)
    y = batch_norm(x.reshape(1, n * c, length), rm, rv, None, None, True, momentum, eps).reshape(n, c, length)
    if running_mean is not None:
        with no_grad():
            running_mean.copy_(rm.reshape(n, c).mean(0))
            running_var.copy_(rv.reshape(n, c).mean(0))
    if weight is not None:
        y = y * weight.reshape(c, 1)
    if bias is not None:
        y = y + bias.reshape(c, 1)
    return y


class MaxUnpool1dFunction(Function):
    _array_backward = True

    @staticmethod
    def forward(ctx, x, idx, length):
        v = x._data
        xp = _backend.get_array_module(v, idx)
        rows = v.reshape(-1, v.shape[-1])
        flat = idx.reshape(-1, v.shape[-1])
        if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= length):
            bad = int(flat.max()) if int(flat.max()) >= length else int(flat.min())
            raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size {length}")
        out = xp.zeros((rows.shape[0], length), v.dtype)
        key = (xp.arange(rows.shape[0])[:, None], flat)
        out[key] = rows
        ctx.key, ctx.shape = key, v.shape
        return out.reshape(v.shape[:-1] + (length,))

    @staticmethod
    def backward(ctx, g):
        return g.reshape(-1, g.shape[-1])[ctx.key].reshape(ctx.shape), None, None


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of ``max_pool1d(..., return_indices=True)``: each value back at its index, zeros elsewhere.

    The output length is ``(L - 1) * stride - 2 * padding + kernel_size`` unless
    ``output_size`` gives it.  See PyTorch's ``torch.nn.functional.max_unpool1d``.
    """
    x = _t(input)
    k = kernel_size[0] if isinstance(kernel_size, (tuple, list)) else kernel_size
    s = k if stride is None else (stride[0] if isinstance(stride, (tuple, list)) else stride)
    p = padding[0] if isinstance(padding, (tuple, list)) else padding
    default = (x.shape[-1] - 1) * s - 2 * p + k
    length = default
    if output_size is not None:
        length = int(list(output_size)[-1])
        if not default - s < length < default + s:
            raise ValueError(f"invalid output_size \"{list(output_size)}\" (dim 0 must be between {default - s} and "
                             f"{default + s})")
    idx = indices._data if isinstance(indices, Tensor) else numpy.asarray(indices)
    if tuple(idx.shape) != tuple(x.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(x.shape)}) but "
                           f"got indices tensor with shape: {list(idx.shape)}")
    return MaxUnpool1dFunction.apply(x, idx, length)


_INTERP_MODES = ("nearest", "linear", "nearest-exact")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resample the last dimension of (N, C, L) input: ``mode`` 'nearest', 'nearest-exact' or 'linear'
    (with ``align_corners``), to ``size`` or by ``scale_factor``.  Differentiable.

    See PyTorch's ``torch.nn.functional.interpolate`` (the 1D modes).

    >>> import nnlite, nnlite.nn.functional as F
    >>> F.interpolate(nnlite.tensor([[[1.0, 3.0]]]), scale_factor=2, mode='linear').tolist()
    [[[1.0, 1.5, 2.5, 3.0]]]
    """
    x = _t(input)
    if mode not in _INTERP_MODES:
        if mode in ("bilinear", "bicubic", "trilinear", "area"):
            raise NotImplementedError(f"Input Error: Only 3D input Tensors supported (got {x.ndim}D) for the modes: "
                                      f"nearest | linear (got {mode})")
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {x.ndim}D) for the "
                                  f"modes: nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact "
                                  f"(got {mode})")
    if x.ndim != 3:
        raise NotImplementedError(f"Input Error: nnlite interpolates 3D input (N, C, L) only (got {x.ndim}D) for the "
                                  f"modes: nearest | linear (got {mode})")
    if align_corners is not None and mode != "linear":
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | "
                         "bicubic | trilinear")
    align_corners = bool(align_corners)
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None else
                         "either size or scale_factor should be defined")
    n_in = x.shape[-1]
    if size is not None:
        n_out = int(size[0] if isinstance(size, (tuple, list)) else size)
        scale = n_in / n_out if n_out else 0.0
    else:
        sf = float(scale_factor[0] if isinstance(scale_factor, (tuple, list)) else scale_factor)
        n_out = int(math.floor(n_in * sf))
        # PyTorch uses 1 / scale_factor unless told to recompute it from the sizes
        scale = (n_in / n_out if n_out else 0.0) if recompute_scale_factor else 1.0 / sf
    if n_out <= 0:
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input (W: {n_in}) output "
                           f"(W: {n_out})")
    xp = _backend.get_array_module(x._data)
    i = numpy.arange(n_out, dtype=numpy.float64)
    if mode == "nearest":
        src = xp.asarray(numpy.minimum(numpy.floor(i * scale).astype(numpy.int64), n_in - 1))
        return _ops.Interp1d.apply(x, src, src, None)
    if mode == "nearest-exact":
        src = xp.asarray(numpy.minimum(numpy.floor((i + 0.5) * scale).astype(numpy.int64), n_in - 1))
        return _ops.Interp1d.apply(x, src, src, None)
    if align_corners:
        pos = i * ((n_in - 1) / (n_out - 1)) if n_out > 1 else numpy.zeros(n_out)
    else:
        pos = numpy.maximum((i + 0.5) * scale - 0.5, 0.0)
    i0 = numpy.minimum(numpy.floor(pos).astype(numpy.int64), n_in - 1)
    i1 = numpy.minimum(i0 + 1, n_in - 1)
    w = pos - i0
    return _ops.Interp1d.apply(x, xp.asarray(i0), xp.asarray(i1), xp.asarray(w))


def one_hot(tensor, num_classes=-1):
    """An int64 tensor with one more dimension, 1 at each value's index (see ``torch.nn.functional.one_hot``).

    >>> import nnlite, nnlite.nn.functional as F
    >>> F.one_hot(nnlite.tensor([0, 2])).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    t = _t(tensor)
    if t.dtype != numpy.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    a = t._data
    xp = _backend.get_array_module(a)
    if a.size and int(a.min()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    elif a.size and int(a.max()) >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return Tensor._wrap((a[..., None] == xp.arange(num_classes)).astype(numpy.int64))
