"""Normalisation as autograd Functions: batch norm (one fused Function), group and layer norm.

``BatchNorm1dFunction`` does the whole training (or eval) forward and backward of
``F.batch_norm`` in one node: on numpy arrays the per-channel statistics, the
backward reductions and the elementwise passes are typed Cython kernels
(``nnlite/_kernels/_norm1d.pyx``, deterministic fixed-order sums, OpenMP over
channels); on CuPy arrays the same formulas run with the array module.
``group_norm`` and ``layer_norm`` share ``RowNormFunction`` (normalise each row
of a 2-D view) and apply the affine part with Tensor operations.
"""
import math

import numpy

from nnlite import _backend
from nnlite._tensor import Tensor, as_tensor
from nnlite.autograd.function import Function

__all__ = ["batch_norm", "group_norm", "layer_norm"]


def _t(x):
    return x if isinstance(x, Tensor) else as_tensor(x)


def _c(xp, a):
    return a if a.flags.c_contiguous else xp.ascontiguousarray(a)


def _stats(xp, x3):
    """Per-channel mean and biased variance of an (N, C, L) array."""
    c = x3.shape[1]
    if xp is numpy:
        from nnlite._kernels import _norm1d
        from nnlite._threads import threads_for
        mean = numpy.empty(c, x3.dtype)
        var = numpy.empty(c, x3.dtype)
        _norm1d.stats(x3, mean, var, threads_for(x3.size))
        return mean, var
    mean = x3.mean(axis=(0, 2))
    d = x3 - mean[None, :, None]
    return mean, (d * d).mean(axis=(0, 2))


def _update_running(running_mean, running_var, mean, var, m, momentum):
    """Running statistics += momentum * (batch - running), with the unbiased variance of ``m`` values."""
    with numpy.errstate(divide="ignore", invalid="ignore"):
        unbiased = var * (m / (m - 1)) if m > 1 else var * float("nan")
    rm, rv = running_mean._data, running_var._data
    rm *= 1 - momentum
    rm += momentum * mean.astype(rm.dtype, copy=False)
    rv *= 1 - momentum
    rv += momentum * unbiased.astype(rv.dtype, copy=False)
    running_mean._vc[0] += 1
    running_var._vc[0] += 1


def _normalize(xp, x3, mean, invstd, w, b):
    """(x - mean) * invstd * w + b over (N, C, L), per channel (``w``, ``b`` may be None)."""
    dt = x3.dtype
    scale = invstd * w if w is not None else invstd
    shift = -mean * scale
    if b is not None:
        shift = shift + b
    scale, shift = _c(xp, scale.astype(dt, copy=False)), _c(xp, shift.astype(dt, copy=False))
    if xp is numpy:
        from nnlite._kernels import _norm1d
        from nnlite._threads import threads_for
        y = numpy.empty_like(x3)
        if y.size:
            _norm1d.affine(x3, scale, shift, y, threads_for(x3.size))
        return y
    return x3 * scale[None, :, None] + shift[None, :, None]


def _backward_sums(xp, gy, x3, mean):
    """Per channel: the sum of ``gy`` and the sum of ``gy * (x - mean)``."""
    if xp is numpy:
        from nnlite._kernels import _norm1d
        from nnlite._threads import threads_for
        c = x3.shape[1]
        sum_dy = numpy.empty(c, x3.dtype)
        sum_dy_xmu = numpy.empty(c, x3.dtype)
        _norm1d.backward_reduce(gy, x3, mean, sum_dy, sum_dy_xmu, threads_for(x3.size))
        return sum_dy, sum_dy_xmu
    return gy.sum(axis=(0, 2)), (gy * (x3 - mean[None, :, None])).sum(axis=(0, 2))


def _grad_input(xp, gy, x3, mean, invstd, w, sum_dy, sum_dy_xmu, m, training):
    """The input gradient from the channel sums over ``m`` values (batch statistics when ``training``)."""
    scale = invstd * w if w is not None else invstd
    if training:
        k = sum_dy_xmu / m * invstd * invstd
        mdy = sum_dy / m
    else:
        k = xp.zeros_like(invstd)
        mdy = k
    scale, k, mdy = (_c(xp, a.astype(x3.dtype, copy=False)) for a in (scale, k, mdy))
    if xp is numpy:
        from nnlite._kernels import _norm1d
        from nnlite._threads import threads_for
        gx = numpy.empty_like(x3)
        if gx.size:
            _norm1d.grad_input(gy, x3, mean, scale, k, mdy, gx, threads_for(x3.size))
        return gx
    return scale[None, :, None] * (gy - mdy[None, :, None] - (x3 - mean[None, :, None]) * k[None, :, None])


class BatchNorm1dFunction(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over (N, C, L), per channel.

    ``training=True`` normalises with the batch statistics (biased variance) and
    updates ``running_mean``/``running_var`` in place when given (unbiased
    variance, factor ``momentum``); otherwise the running statistics are used.
    """

    _array_backward = True

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        xa = x._data
        arrays = [xa] + [t._data for t in (weight, bias, running_mean, running_var) if t is not None]
        xp = _backend.get_array_module(*arrays)
        x3 = _c(xp, xa)
        n, _, length = x3.shape
        dt = x3.dtype
        if training:
            mean, var = _stats(xp, x3)
            if running_mean is not None:
                _update_running(running_mean, running_var, mean, var, n * length, momentum)
        else:
            # copies: the buffers may change (another training step) before this node's backward
            mean = running_mean._data.astype(dt, copy=True)
            var = running_var._data.astype(dt, copy=True)
        invstd = (1 / xp.sqrt(var + eps)).astype(dt, copy=False)
        w = weight._data if weight is not None else None
        y = _normalize(xp, x3, mean, invstd, w, None if bias is None else bias._data)
        if any(ctx.needs_input_grad[:3]):
            ctx.saved = (x3, _c(xp, mean), invstd, w, training)
        return y

    @staticmethod
    def backward(ctx, gy):
        x3, mean, invstd, w, training = ctx.saved
        xp = _backend.get_array_module(gy)
        gy = _c(xp, gy.astype(x3.dtype, copy=False))
        n, _, length = x3.shape
        needs = ctx.needs_input_grad
        sum_dy, sum_dy_xmu = _backward_sums(xp, gy, x3, mean)
        gx = gw = gb = None
        if needs[0]:
            gx = _grad_input(xp, gy, x3, mean, invstd, w, sum_dy, sum_dy_xmu, n * length, training)
        if needs[1]:
            gw = sum_dy_xmu * invstd
        if needs[2]:
            gb = sum_dy
        return gx, gw, gb, None, None, None, None, None


def _check_channels(name, t, c):
    if t is not None and t.numel() != c:
        raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation over (N, C) or (N, C, L); see PyTorch's ``torch.nn.functional.batch_norm``.

    >>> import nnlite, nnlite.nn.functional as F
    >>> x = nnlite.tensor([[1.0, 10.0], [3.0, 30.0]])
    >>> F.batch_norm(x, None, None, training=True).numpy().round(3).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    """
    x = _t(input)
    if x.ndim < 2:
        raise ValueError(f"Expected 2D or 3D input for batch_norm, but got {x.ndim}D input")
    shape = tuple(x.shape)
    if training:
        size = shape[0]
        for s in shape[2:]:
            size *= s
        if size == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.shape!r}")
        if eps <= 0.0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    c = shape[1]
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("running_mean must be defined in evaluation mode")
    _check_channels("running_mean", running_mean, c)
    _check_channels("running_var", running_var, c)
    _check_channels("weight", weight, c)
    _check_channels("bias", bias, c)
    x3 = x.reshape(shape[0], c, -1) if x.ndim != 3 else x
    if x3.numel() == 0:  # nothing to normalise; PyTorch leaves the running statistics alone too
        return x3.clone().reshape(shape) if x.ndim != 3 else x3.clone()
    if running_mean is not None and running_var is None or running_var is not None and running_mean is None:
        raise RuntimeError("running_mean and running_var must both be given or both be None")
    y = BatchNorm1dFunction.apply(x3, weight, bias, running_mean, running_var, bool(training),
                                  0.0 if momentum is None else float(momentum), float(eps))
    return y.reshape(shape) if x.ndim != 3 else y


class RowNormFunction(Function):
    """(x - mean) / sqrt(var + eps) over each row of a 2-D array (biased variance)."""

    _array_backward = True

    @staticmethod
    def forward(ctx, x, eps):
        xa = x._data
        xp = _backend.get_array_module(xa)
        mean = xa.mean(axis=1, keepdims=True)
        d = xa - mean
        var = (d * d).mean(axis=1, keepdims=True)
        invstd = (1 / xp.sqrt(var + eps)).astype(xa.dtype, copy=False)
        xhat = d * invstd
        ctx.xhat, ctx.invstd = xhat, invstd
        return xhat

    @staticmethod
    def backward(ctx, g):
        xhat, invstd = ctx.xhat, ctx.invstd
        gx = invstd * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
        return gx, None


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of channels of (N, C, *) over the group and the trailing dimensions.

    See PyTorch's ``torch.nn.functional.group_norm``.

    >>> import nnlite, nnlite.nn.functional as F
    >>> F.group_norm(nnlite.tensor([[[1.0, 3.0], [5.0, 7.0]]]), 2).numpy().round(3).tolist()
    [[[-1.0, 1.0], [-1.0, 1.0]]]
    """
    x = _t(input)
    if x.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {x.ndim}")
    shape = tuple(x.shape)
    n, c = shape[0], shape[1]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, but "
                               f"got {name} of shape {list(t.shape)} and input of shape {list(shape)}")
    if x.numel() == 0:
        y = x.clone()
    else:
        y = RowNormFunction.apply(x.reshape(n * num_groups, -1), eps).reshape(shape)
    bshape = (1, c) + (1,) * (len(shape) - 2)
    if weight is not None:
        y = y * weight.reshape(bshape)
    if bias is not None:
        y = y + bias.reshape(bshape)
    return y


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` dimensions; see PyTorch's
    ``torch.nn.functional.layer_norm``.

    >>> import nnlite, nnlite.nn.functional as F
    >>> F.layer_norm(nnlite.tensor([[1.0, 3.0]]), [2]).numpy().round(3).tolist()
    [[-1.0, 1.0]]
    """
    x = _t(input)
    ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, numpy.integer)) else \
        tuple(int(s) for s in normalized_shape)
    shape = tuple(x.shape)
    k = len(ns)
    if k == 0 or len(shape) < k or shape[len(shape) - k:] != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape [*, "
                           f"{', '.join(str(s) for s in ns)}], but got input of size{list(shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(t.shape)} and normalized_shape = {list(ns)}")
    if x.numel() == 0:
        y = x.clone()
    else:
        y = RowNormFunction.apply(x.reshape(-1, math.prod(ns)), eps).reshape(shape)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y
