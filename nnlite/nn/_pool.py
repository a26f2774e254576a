"""1D pooling as autograd Functions: argument checks, output lengths, then the device's kernels.

Max and average pooling run typed Cython kernels on numpy arrays
(``nnlite/_kernels/_pool1d.pyx``) and the same arithmetic written with the
array module on CuPy arrays.  Adaptive pooling is array-module code for both
(its windows differ in length; the output is usually short).  See PyTorch's
``torch.nn.functional.max_pool1d`` and friends.
"""
import numpy

from nnlite import _backend
from nnlite._ops import scatter_add
from nnlite._tensor import Tensor, as_tensor
from nnlite.autograd.function import Function

__all__ = ["max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d", "pool_output_length"]


def _t(x):
    return x if isinstance(x, Tensor) else as_tensor(x)


def _int1(value, what):
    """An int or a one-element tuple/list of int as an int; ``what(n)`` words the error for n elements."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise RuntimeError(what(len(value)))
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)):
        raise TypeError(f"expected an int, but got {type(value).__name__}")
    return int(value)


def pool_output_length(length, kernel_size, stride, padding, dilation, ceil_mode):
    """PyTorch's ``pooling_output_shape``: with ``ceil_mode`` the last window must start inside the
    input or the left padding.

    >>> pool_output_length(10, 3, 2, 0, 1, False), pool_output_length(10, 3, 2, 0, 1, True)
    (4, 5)
    """
    num = length + 2 * padding - dilation * (kernel_size - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = num // stride + 1
    if ceil_mode and (out - 1) * stride >= length + padding:
        out -= 1
    return out


def _rows(x):
    """A C-contiguous (N * C, L) view or copy of a 3-D array."""
    n, c, length = x.shape
    xp = _backend.get_array_module(x)
    return xp.ascontiguousarray(x).reshape(n * c, length)


def _windows(length, out, kernel, stride, padding, dilation):
    """Positions (out, kernel) of every window tap, and which ones fall inside the input."""
    pos = numpy.arange(out)[:, None] * stride - padding + numpy.arange(kernel)[None, :] * dilation
    return pos, (pos >= 0) & (pos < length)


# -- max pooling -----------------------------------------------------------------------------------------
def _max_forward_xp(xp, x2, out, kernel, stride, padding, dilation):
    length = x2.shape[1]
    pos, inside = _windows(length, out, kernel, stride, padding, dilation)
    gather = xp.asarray(numpy.clip(pos, 0, max(length - 1, 0)))
    vals = x2[:, gather]                                               # (R, out, k)
    vals = xp.where(xp.asarray(inside)[None], vals, xp.asarray(-numpy.inf, dtype=x2.dtype))
    # the first maximum, or the last NaN, as PyTorch's kernel scans
    nan = xp.isnan(vals)
    first = xp.argmax(vals, axis=2)
    last_nan = kernel - 1 - xp.argmax(nan[:, :, ::-1], axis=2)
    k = xp.where(nan.any(axis=2), last_nan, first)
    k = xp.where(xp.take_along_axis(vals, k[:, :, None], 2)[:, :, 0] == -numpy.inf,
                 xp.asarray((pos >= 0).argmax(axis=1))[None], k)       # all -inf: the first tap not left of 0
    idx = xp.take_along_axis(xp.broadcast_to(xp.asarray(pos), vals.shape), k[:, :, None], 2)[:, :, 0]
    y = xp.take_along_axis(vals, k[:, :, None], 2)[:, :, 0]
    return y, idx.astype(numpy.int64)


def _run_cpu(name, inputs, outputs, *params):
    """``_pool1d.<name>(*inputs, *outputs, *params, threads)`` (the Cython kernels' argument
    order), unless the outputs are empty; threads by the larger of the first input and output."""
    from nnlite._kernels import _pool1d
    from nnlite._threads import threads_for
    if outputs[0].size:
        getattr(_pool1d, name)(*inputs, *outputs, *params,
                               threads_for(max(inputs[0].size, outputs[0].size)))


def _scatter_rows(xp, gx, idx, g):
    """gx[r, idx[r, j]] += g[r, j] for every (r, j)."""
    rows = xp.broadcast_to(xp.arange(gx.shape[0])[:, None], idx.shape)
    flat = (rows * gx.shape[1] + idx).reshape(-1)
    scatter_add(xp, gx.reshape(-1), flat, g.reshape(-1))


class MaxPool1dFunction(Function):
    """(values, indices) of 1D max pooling over a (N, C, L) tensor; indices are int64 into L."""

    _array_backward = True

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, out, indices=True):
        # indices=False: the caller does not want them, and without a gradient to send
        # back the CPU kernel computes the values only (indices None)
        xa = x._data
        xp = _backend.get_array_module(xa)
        n, c, length = xa.shape
        x2 = _rows(xa)
        if xp is numpy:
            y = numpy.empty((n * c, out), xa.dtype)
            idx = numpy.empty((n * c, out), numpy.int64) if indices or ctx.needs_input_grad[0] else None
            _run_cpu("max_forward", (x2,), (y, idx), kernel, stride, padding, dilation)
        else:
            y, idx = _max_forward_xp(xp, x2, out, kernel, stride, padding, dilation)
        ctx.shape = xa.shape
        ctx.idx = idx
        if idx is None:
            return y.reshape(n, c, out), None
        idx = idx.reshape(n, c, out)
        ctx.mark_non_differentiable(idx)
        return y.reshape(n, c, out), idx

    @staticmethod
    def backward(ctx, gy, _gidx):
        n, c, length = ctx.shape
        xp = _backend.get_array_module(gy)
        g2 = xp.ascontiguousarray(gy).reshape(n * c, -1)
        if xp is numpy:
            gx = numpy.empty((n * c, length), gy.dtype)
            _run_cpu("max_backward", (g2, ctx.idx), (gx,))
        else:
            gx = xp.zeros((n * c, length), gy.dtype)
            inside = ctx.idx < length  # a window with no tap inside the input sends its gradient nowhere
            _scatter_rows(xp, gx, xp.where(inside, ctx.idx, 0), xp.where(inside, g2, 0))
        return gx.reshape(ctx.shape), None, None, None, None, None, None


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1D max pooling over (N, C, L) or (C, L); see PyTorch's ``torch.nn.functional.max_pool1d``.

    Ties go to the first index; ``return_indices=True`` also returns the int64
    argmax positions (into L).

    >>> import nnlite, nnlite.nn.functional as F
    >>> F.max_pool1d(nnlite.tensor([[[1., 3., 2., 5., 4.]]]), 2, return_indices=True)[1].tolist()
    [[[1, 3]]]
    """
    x = _t(input)
    shape = list(x.shape)
    if x.ndim not in (2, 3) or (x.ndim == 3 and shape[1] == 0) or shape[-1] == 0:
        raise RuntimeError("max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size "
                           f"for input, but got:{shape}")
    k = _int1(kernel_size, lambda n: "max_pool1d() kernel_size must be an int, list of ints or tuple of ints "
                                     f"of size 1 but got size {n}")
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        s = k
    else:
        s = _int1(stride, lambda n: "max_pool1d() stride must be None, an int, list of ints, or tuple of ints "
                                    f"of size 1 but got size {n}")
    p = _int1(padding, lambda n: "max_pool1d() padding must be an int, list of ints, or tuple of ints of size 1 "
                                 f"but got size {n}")
    d = _int1(dilation, lambda n: "max_pool1d() dilation must be an int, list of ints or tuple of ints of size 1 "
                                  f"but got size {n}")
    if k <= 0:
        raise RuntimeError(f"max_pool1d() kernel_size must be greater than zero, but got {k}")
    if s <= 0:
        raise RuntimeError(f"max_pool1d() stride must be greater than zero, but got {s}")
    if p < 0:
        raise RuntimeError(f"max_pool1d() padding must be non-negative, but got {p}")
    if p > k // 2:
        raise RuntimeError(f"max_pool1d() padding should be at most half of kernel size, but got padding={p} and "
                           f"kernel_size={k}")
    if d <= 0:
        raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got {d}")
    out = pool_output_length(shape[-1], k, s, p, d, bool(ceil_mode))
    if out <= 0:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {out}")
    x3 = x.unsqueeze(0) if x.ndim == 2 else x
    y, idx = MaxPool1dFunction.apply(x3, k, s, p, d, out, bool(return_indices))
    if x.ndim == 2:
        y = y.squeeze(0)
        if return_indices:
            idx = idx.squeeze(0)
    return (y, idx) if return_indices else y


# -- average pooling -------------------------------------------------------------------------------------
def _avg_divisors(length, out, kernel, stride, padding, count_include_pad):
    lo = numpy.arange(out) * stride - padding
    hi = numpy.minimum(lo + kernel, length + padding)
    div = hi - lo
    lo, hi = numpy.maximum(lo, 0), numpy.minimum(hi, length)
    if not count_include_pad:
        div = hi - lo
    return lo, hi, numpy.maximum(div, 1)


def _avg_taps(xp, dtype, length, out, kernel, stride, padding, count_include_pad):
    """The CuPy path's (out, k) tap positions (clipped) and weights (1 / divisor inside, 0 outside)."""
    _, _, div = _avg_divisors(length, out, kernel, stride, padding, count_include_pad)
    pos, inside = _windows(length, out, kernel, stride, padding, 1)
    weight = inside / div[:, None]
    return xp.asarray(numpy.clip(pos, 0, length - 1)), xp.asarray(weight, dtype=dtype)


class AvgPool1dFunction(Function):
    """1D average pooling of a (N, C, L) tensor with PyTorch's divisor rules."""

    _array_backward = True

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, count_include_pad, out):
        xa = x._data
        xp = _backend.get_array_module(xa)
        n, c, length = xa.shape
        ctx.shape, ctx.args = xa.shape, (kernel, stride, padding, count_include_pad, out)
        x2 = _rows(xa)
        if xp is numpy:
            y = numpy.empty((n * c, out), xa.dtype)
            _run_cpu("avg_forward", (x2,), (y,), kernel, stride, padding, bool(count_include_pad))
        else:
            pos, weight = _avg_taps(xp, xa.dtype, length, out, kernel, stride, padding, count_include_pad)
            y = (x2[:, pos] * weight[None]).sum(axis=2)
        return y.reshape(n, c, out)

    @staticmethod
    def backward(ctx, gy):
        n, c, length = ctx.shape
        kernel, stride, padding, count_include_pad, out = ctx.args
        xp = _backend.get_array_module(gy)
        g2 = xp.ascontiguousarray(gy).reshape(n * c, out)
        if xp is numpy:
            gx = numpy.empty((n * c, length), gy.dtype)
            _run_cpu("avg_backward", (g2,), (gx,), kernel, stride, padding, bool(count_include_pad))
        else:
            pos, weight = _avg_taps(xp, gy.dtype, length, out, kernel, stride, padding, count_include_pad)
            gx = xp.zeros((n * c, length), gy.dtype)
            _scatter_rows(xp, gx, xp.broadcast_to(pos.reshape(1, -1), (n * c, pos.size)),
                          (g2[:, :, None] * weight[None]).reshape(n * c, -1))
        return gx.reshape(ctx.shape), None, None, None, None, None


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1D average pooling over (N, C, L) or (C, L); see PyTorch's ``torch.nn.functional.avg_pool1d``.

    >>> import nnlite, nnlite.nn.functional as F
    >>> F.avg_pool1d(nnlite.tensor([[[1., 2., 3., 4.]]]), 2, padding=1, count_include_pad=False).tolist()
    [[[1.0, 2.5, 4.0]]]
    """
    x = _t(input)
    if x.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {x.ndim}-dimensional tensor for argument #1 "
                           "'self' (while checking arguments for avg_pool1d)")
    k = _int1(kernel_size, lambda n: f"avg_pool1d() argument 'kernel_size' should contain one int (got {n})")
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        s = k
    else:
        s = _int1(stride, lambda n: f"avg_pool1d() argument 'stride' should contain one int (got {n})")
    p = _int1(padding, lambda n: f"avg_pool1d() argument 'padding' should contain one int (got {n})")
    if k <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: 1 kW: {k}")
    if s <= 0:
        raise RuntimeError("stride should not be zero")
    if p < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {p}")
    if p > k // 2:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} "
                           "and dilation=1")
    x3 = x.unsqueeze(0) if x.ndim == 2 else x
    n, c, length = x3.shape
    if c == 0 or length == 0:
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
                           f"got:{[n, c, 1, length] if x.ndim == 3 else [c, 1, length]}")
    out = pool_output_length(length, k, s, p, 1, bool(ceil_mode))
    if out < 1:
        raise RuntimeError(f"Given input size: ({c}x1x{length}). Calculated output size: ({c}x1x{out}). Output size "
                           "is too small")
    y = AvgPool1dFunction.apply(x3, k, s, p, bool(count_include_pad), out)
    return y.squeeze(0) if x.ndim == 2 else y


# -- adaptive pooling ------------------------------------------------------------------------------------
def _adaptive_bounds(length, out):
    """PyTorch's windows: [floor(i L / out), ceil((i + 1) L / out))."""
    i = numpy.arange(out)
    return (i * length) // out, -((-(i + 1) * length) // out)


class AdaptiveAvgPool1dFunction(Function):
    """Mean of each adaptive window: one reshape when L is a multiple of the output size, else a
    loop over the windows (each summed in order, so the result is deterministic)."""

    _array_backward = True

    @staticmethod
    def forward(ctx, x, out):
        xa = x._data
        xp = _backend.get_array_module(xa)
        length = xa.shape[-1]
        ctx.shape, ctx.out = xa.shape, out
        if out and length % out == 0:
            return xa.reshape(xa.shape[:-1] + (out, length // out)).mean(axis=-1)
        y = xp.empty(xa.shape[:-1] + (out,), xa.dtype)
        for j, (lo, hi) in enumerate(zip(*_adaptive_bounds(length, out))):
            y[..., j] = xa[..., lo:hi].mean(axis=-1)
        return y

    @staticmethod
    def backward(ctx, gy):
        xp = _backend.get_array_module(gy)
        shape, out = ctx.shape, ctx.out
        length = shape[-1]
        if out and length % out == 0:
            w = length // out
            return xp.repeat(gy / w, w, axis=-1).reshape(shape), None
        gx = xp.zeros(shape, gy.dtype)
        for j, (lo, hi) in enumerate(zip(*_adaptive_bounds(length, out))):
            gx[..., lo:hi] += gy[..., j:j + 1] / (hi - lo)
        return gx, None


class AdaptiveMaxPool1dFunction(Function):
    _array_backward = True

    @staticmethod
    def forward(ctx, x, out):
        xa = x._data
        xp = _backend.get_array_module(xa)
        n, c, length = xa.shape
        lo, hi = _adaptive_bounds(length, out)
        width = int((hi - lo).max()) if out else 1
        pos = lo[:, None] + numpy.arange(width)[None, :]
        inside = pos < hi[:, None]
        x2 = _rows(xa)
        vals = x2[:, xp.asarray(numpy.minimum(pos, length - 1))]
        vals = xp.where(xp.asarray(inside)[None], vals, xp.asarray(-numpy.inf, dtype=xa.dtype))
        nan = xp.isnan(vals)
        k = xp.where(nan.any(axis=2), width - 1 - xp.argmax(nan[:, :, ::-1], axis=2), xp.argmax(vals, axis=2))
        y = xp.take_along_axis(vals, k[:, :, None], 2)[:, :, 0]
        idx = (xp.asarray(lo)[None] + k).astype(numpy.int64)
        ctx.shape, ctx.idx = xa.shape, idx
        idx = idx.reshape(n, c, out)
        ctx.mark_non_differentiable(idx)
        return y.reshape(n, c, out), idx

    @staticmethod
    def backward(ctx, gy, _gidx):
        n, c, length = ctx.shape
        xp = _backend.get_array_module(gy)
        gx = xp.zeros((n * c, length), gy.dtype)
        _scatter_rows(xp, gx, ctx.idx, xp.ascontiguousarray(gy).reshape(n * c, -1))
        return gx.reshape(ctx.shape), None


def _adaptive_args(x, output_size, name):
    if x.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {x.ndim}-dimensional tensor for argument #1 "
                           f"'self' (while checking arguments for {name})")
    if output_size is None:
        raise TypeError(f"{name}(): argument 'output_size' (position 2) must be tuple of ints, not NoneType")
    out = _int1(output_size, lambda n: f"{name}() argument 'output_size' should contain one int (got {n})")
    if out < 0:
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 but received "
                           f"{{{out}}}")
    shape = list(x.shape)
    if shape[-1] == 0 or (x.ndim == 3 and shape[1] == 0):
        raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input has "
                           f"sizes {shape} with dimension {shape.index(0, x.ndim - 2)} being empty")
    return out


def adaptive_avg_pool1d(input, output_size):
    """Average over ``output_size`` windows covering the input; see PyTorch's
    ``torch.nn.functional.adaptive_avg_pool1d``.

    >>> import nnlite, nnlite.nn.functional as F
    >>> F.adaptive_avg_pool1d(nnlite.tensor([[[1., 2., 3., 4., 5.]]]), 2).tolist()
    [[[2.0, 4.0]]]
    """
    x = _t(input)
    out = _adaptive_args(x, output_size, "adaptive_avg_pool1d")
    x3 = x.unsqueeze(0) if x.ndim == 2 else x
    y = AdaptiveAvgPool1dFunction.apply(x3, out)
    return y.squeeze(0) if x.ndim == 2 else y


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over ``output_size`` windows covering the input; see PyTorch's
    ``torch.nn.functional.adaptive_max_pool1d``.

    >>> import nnlite, nnlite.nn.functional as F
    >>> F.adaptive_max_pool1d(nnlite.tensor([[[1., 5., 3., 4., 2.]]]), 2, return_indices=True)[1].tolist()
    [[[1, 3]]]
    """
    x = _t(input)
    out = _adaptive_args(x, output_size, "adaptive_max_pool1d")
    x3 = x.unsqueeze(0) if x.ndim == 2 else x
    y, idx = AdaptiveMaxPool1dFunction.apply(x3, out)
    if x.ndim == 2:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y
