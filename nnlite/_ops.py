"""The differentiable tensor operations, each an :class:`autograd.Function`.

Forwards read the raw arrays (``t._data``) and return arrays; backwards receive
and return raw arrays (``_array_backward``).  Gradients of broadcast operands
are summed back to the operand's shape by the engine.  Every op here works for
numpy and CuPy alike: the array module comes from ``_backend``.
"""
import numpy

from nnlite import _backend
from nnlite._dtype import get_default_dtype
from nnlite.autograd.function import Function
from nnlite._tensor import Tensor, sum_to_shape
from nnlite._kernels import cpu_floats
from nnlite._threads import threads_for as _threads_for

_nd = numpy.ndarray
_INT = numpy.dtype("int64")


def _a(x):
    return x._data if isinstance(x, Tensor) else x


def _xp(*arrays):
    for a in arrays:
        if type(a) is not _nd and not isinstance(a, (int, float, bool)):
            return _backend.get_array_module(*[b for b in arrays if not isinstance(b, (int, float, bool))])
    return numpy


def _shape(x):
    return x._data.shape if isinstance(x, Tensor) else ()


def _promote_int(a, b):
    """PyTorch's rule where numpy's differs: an integer array with a Python float gives the default float."""
    if isinstance(b, float) and hasattr(a, "dtype") and a.dtype.kind in "iub":
        return a.astype(get_default_dtype()), b
    if isinstance(a, float) and hasattr(b, "dtype") and b.dtype.kind in "iub":
        return a, b.astype(get_default_dtype())
    return a, b


class _Op(Function):
    _array_backward = True


class _Binary(_Op):
    @classmethod
    def _inputs(cls, a, b):
        x, y = _a(a), _a(b)
        if type(x) is not _nd or type(y) is not _nd:
            _xp(x, y)
        return _promote_int(x, y)


class Add(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        x, y = Add._inputs(a, b)
        return x + y

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        x, y = Sub._inputs(a, b)
        return x - y

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        x, y = Mul._inputs(a, b)
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b if ctx.needs_input_grad[0] else None)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_arrays
        return (g * y if ctx.needs_input_grad[0] else None), (g * x if ctx.needs_input_grad[1] else None)


class Div(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        x, y = Div._inputs(a, b)
        # true division of integers gives the default float dtype, as in PyTorch
        if getattr(x, "dtype", _INT).kind in "iub" and getattr(y, "dtype", _INT).kind in "iub" \
                and not isinstance(y, float):
            x = x.astype(get_default_dtype()) if hasattr(x, "astype") else float(x)
            if not hasattr(x, "astype"):
                y = y.astype(get_default_dtype())
        ctx.save_for_backward(a, b)
        return x / y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_arrays
        ga = g / y if ctx.needs_input_grad[0] else None
        gb = -g * x / (y * y) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        x, y = Pow._inputs(a, b)
        out = x ** y
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, y, out = ctx.saved_arrays
        ga = gb = None
        if ctx.needs_input_grad[0]:
            if isinstance(y, (int, float)) and y == 0:
                ga = g * 0
            else:
                ga = g * y * x ** (y - 1)
        if ctx.needs_input_grad[1]:  # d(x**y)/dy = x**y log x, taken as 0 where x**y is 0
            xp = _xp(x, y)
            gb = g * out * xp.where(out == 0, 0, xp.log(xp.asarray(x)))
        return ga, gb


class MatMul(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        x, y = _a(a), _a(b)
        _xp(x, y)
        if x.ndim == 0 or y.ndim == 0:
            raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                               f"{x.ndim}D and {y.ndim}D")
        ctx.save_for_backward(a, b)
        return x @ y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_arrays
        xp = _xp(x, y)
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        g2 = g
        if x.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if y.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = _unbatch(g2 @ xp.swapaxes(y2, -1, -2), x.shape)
        if ctx.needs_input_grad[1]:
            gb = _unbatch(xp.swapaxes(x2, -1, -2) @ g2, y.shape)
        return ga, gb


def _unbatch(g, shape):
    """A matmul operand's gradient summed over the broadcast batch back to ``shape`` (1-D: a vector)."""
    if len(shape) == 1:
        return g.reshape(-1, shape[0]).sum(0)
    return sum_to_shape(g, shape)


class Neg(_Op):
    @staticmethod
    def forward(ctx, a):
        return -a._data

    @staticmethod
    def backward(ctx, g):
        return -g


class _Unary(_Op):
    """Elementwise op: forward ``f(x)``; backward ``g * df`` from x and the output."""

    @classmethod
    def _run(cls, ctx, a, fn):
        x = a._data
        xp = _xp(x)
        out = fn(xp, x)
        ctx.save_for_backward(a, out)
        return out


class Abs(_Unary):
    @staticmethod
    def forward(ctx, a):
        return Abs._run(ctx, a, lambda xp, x: xp.abs(x))

    @staticmethod
    def backward(ctx, g):
        x, _ = ctx.saved_arrays
        return g * _xp(x).sign(x)


class Exp(_Unary):
    @staticmethod
    def forward(ctx, a):
        return Exp._run(ctx, a, lambda xp, x: xp.exp(x))

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_arrays[1]


class Log(_Unary):
    @staticmethod
    def forward(ctx, a):
        return Log._run(ctx, a, lambda xp, x: xp.log(x))

    @staticmethod
    def backward(ctx, g):
        return g / ctx.saved_arrays[0]


class Sqrt(_Unary):
    @staticmethod
    def forward(ctx, a):
        return Sqrt._run(ctx, a, lambda xp, x: xp.sqrt(x))

    @staticmethod
    def backward(ctx, g):
        return g / (2 * ctx.saved_arrays[1])


class Tanh(_Unary):
    @staticmethod
    def forward(ctx, a):
        return Tanh._run(ctx, a, lambda xp, x: xp.tanh(x))

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_arrays[1]
        return g * (1 - y * y)


def _sigmoid(xp, x):
    # exp of a non-positive number only: no overflow for large |x|
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class Sigmoid(_Unary):
    @staticmethod
    def forward(ctx, a):
        return Sigmoid._run(ctx, a, _sigmoid)

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_arrays[1]
        return g * y * (1 - y)


def _relu_kernel(*arrays):
    """The Cython ReLU kernels' module when they can take the arrays, else None (the
    array-module path)."""
    if not cpu_floats(*arrays):
        return None
    from nnlite._kernels import _activation
    return _activation


def relu_array(x, out=None):
    """``max(x, 0)`` (NaN stays NaN) of the array ``x`` into ``out``: a new array when None,
    ``x`` itself to work in place (the eval-mode fused convolutions)."""
    k = _relu_kernel(x) if out is None or out is x else None
    if k is None:
        xp = _xp(x)
        if out is None:
            return xp.maximum(x, 0).astype(x.dtype, copy=False)
        xp.maximum(x, 0, out=out)
        return out
    if out is None:
        out = numpy.empty_like(x)
    k.relu_forward(x.reshape(-1), out.reshape(-1), _threads_for(x.size))
    return out


class Relu(_Unary):
    @staticmethod
    def forward(ctx, a):
        out = relu_array(a._data)
        ctx.save_for_backward(None, out)
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_arrays[1]
        k = _relu_kernel(y, g) if g.shape == y.shape else None
        if k is None:
            return g * ~(y <= 0)  # NaN passes the gradient, as in PyTorch
        gx = numpy.empty_like(y)
        k.relu_backward(y.reshape(-1), g.reshape(-1), gx.reshape(-1), _threads_for(y.size))
        return gx


class Clamp(_Op):
    @staticmethod
    def forward(ctx, a, lo, hi):
        x = a._data
        xp = _xp(x)
        lo_, hi_ = _a(lo), _a(hi)
        out = x
        if lo_ is not None:
            out = xp.maximum(out, lo_)
        if hi_ is not None:
            out = xp.minimum(out, hi_)
        ctx.save_for_backward(a, lo, hi)
        return out

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.saved_arrays
        mask = True
        if lo is not None:
            mask = mask & (x >= lo)
        if hi is not None:
            mask = mask & (x <= hi)
        return g * mask, None, None


class Maximum(_Op):
    """Elementwise max (``is_max``) or min of two tensors; ties share the gradient equally."""

    @staticmethod
    def forward(ctx, a, b, is_max):
        x, y = _a(a), _a(b)
        xp = _xp(x, y)
        ctx.save_for_backward(a, b)
        ctx.is_max = is_max
        return xp.maximum(x, y) if is_max else xp.minimum(x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_arrays
        xp = _xp(x, y)
        win = (x > y) if ctx.is_max else (x < y)
        tie = x == y
        ga = xp.where(tie, g / 2, g * win)
        gb = xp.where(tie, g / 2, g * (~win & ~tie))
        return ga, gb, None


class Where(_Op):
    @staticmethod
    def forward(ctx, cond, a, b):
        x, y = _a(a), _a(b)
        xp = _xp(cond, x, y)
        ctx.cond = cond
        ctx.shapes = (_shape(a), _shape(b))
        return xp.where(cond, x, y)

    @staticmethod
    def backward(ctx, g):
        xp = _xp(g)
        zero = xp.zeros((), g.dtype)
        ga = xp.where(ctx.cond, g, zero) if ctx.needs_input_grad[1] else None
        gb = xp.where(ctx.cond, zero, g) if ctx.needs_input_grad[2] else None
        return None, ga, gb


# -- reductions ------------------------------------------------------------------------------------------
def _expand_back(g, shape, axes, keepdim):
    """Broadcast a reduced gradient back over the reduced ``axes`` of ``shape``."""
    xp = _xp(g)
    if axes is None:
        return xp.broadcast_to(g.reshape((1,) * len(shape)) if len(shape) else g.reshape(()), shape)
    if not keepdim:
        for ax in sorted(axes):
            g = xp.expand_dims(g, ax)
    return xp.broadcast_to(g, shape)


class Sum(_Op):
    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        x = a._data
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        out = x.sum(axis=axes, keepdims=keepdim, dtype=dtype)
        if dtype is None and x.dtype.kind in "iub":
            out = out.astype(numpy.int64, copy=False)
        return _xp(x).asarray(out)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.shape, ctx.axes, ctx.keepdim), None, None, None


class Mean(_Op):
    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        x = a._data
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        n = x.size if axes is None else int(numpy.prod([x.shape[i] for i in axes]))
        ctx.n = n
        out = x.mean(axis=axes, keepdims=keepdim, dtype=dtype)
        return _xp(x).asarray(out, dtype=dtype or x.dtype)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g / ctx.n, ctx.shape, ctx.axes, ctx.keepdim), None, None, None


class Var(_Op):
    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        x = a._data
        xp = _xp(x)
        n = x.size if axes is None else int(numpy.prod([x.shape[i] for i in axes]))
        mean = x.mean(axis=axes, keepdims=True)
        diff = x - mean
        denom = max(n - correction, 0)
        out = (diff * diff).sum(axis=axes, keepdims=keepdim) / (denom if denom else float("nan"))
        ctx.diff, ctx.denom, ctx.axes, ctx.keepdim = diff, denom, axes, keepdim
        return xp.asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        d = ctx.diff
        scale = 2.0 / ctx.denom if ctx.denom else float("nan")
        return _expand_back(g, d.shape, ctx.axes, ctx.keepdim) * d * scale, None, None, None


class MaxMinAll(_Op):
    """max()/min() over all elements; ties share the gradient evenly (as PyTorch's amax does)."""

    @staticmethod
    def forward(ctx, a, is_max):
        x = a._data
        out = x.max() if is_max else x.min()
        ctx.save_for_backward(a)
        ctx.out = out
        return _xp(x).asarray(out)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_arrays
        mask = x == ctx.out
        return mask * (g / mask.sum()).astype(x.dtype), None


class MaxMinDim(_Op):
    @staticmethod
    def forward(ctx, a, dim, keepdim, is_max):
        x = a._data
        xp = _xp(x)
        if x.ndim == 0:
            idx = xp.zeros((), numpy.int64)
            values = x.copy()
        else:
            if x.shape[dim] == 0:
                raise IndexError(f"{'max' if is_max else 'min'}(): Expected reduction dim {dim} to have "
                                 "non-zero size.")
            idx = (xp.argmax if is_max else xp.argmin)(x, axis=dim)
            values = xp.take_along_axis(x, xp.expand_dims(idx, dim), axis=dim)
            if not keepdim:
                values = values.squeeze(dim)
            else:
                idx = xp.expand_dims(idx, dim)
            idx = idx.astype(numpy.int64)
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        ctx.idx = idx
        ctx.mark_non_differentiable(idx)
        return values, idx

    @staticmethod
    def backward(ctx, g, _gi):
        xp = _xp(g)
        if len(ctx.shape) == 0:
            return g, None, None, None
        out = xp.zeros(ctx.shape, g.dtype)
        idx, gk = ctx.idx, g
        if not ctx.keepdim:
            idx, gk = xp.expand_dims(idx, ctx.dim), xp.expand_dims(g, ctx.dim)
        xp.put_along_axis(out, idx, gk, axis=ctx.dim)
        return out, None, None, None


class Softmax(_Op):
    @staticmethod
    def forward(ctx, a, dim, log):
        x = a._data
        xp = _xp(x)
        if x.ndim == 0:
            x = x.reshape(1)
        shifted = x - x.max(axis=dim, keepdims=True)
        e = xp.exp(shifted)
        s = e.sum(axis=dim, keepdims=True)
        out = shifted - xp.log(s) if log else e / s
        out = out.reshape(a._data.shape)
        ctx.out, ctx.dim, ctx.log = out, dim, log
        return out

    @staticmethod
    def backward(ctx, g):
        y, dim = ctx.out, ctx.dim
        xp = _xp(g)
        if y.ndim == 0:
            return xp.zeros_like(g), None, None
        if ctx.log:
            return g - xp.exp(y) * g.sum(axis=dim, keepdims=True), None, None
        return y * (g - (g * y).sum(axis=dim, keepdims=True)), None, None


# -- shape and copies ------------------------------------------------------------------------------------
class Reshape(_Op):
    @staticmethod
    def forward(ctx, a, shape, view):
        x = a._data
        ctx.shape = x.shape
        if view:
            try:
                out = x.view()
                out.shape = shape
            except AttributeError:
                raise RuntimeError("view size is not compatible with input tensor's size and stride (at least "
                                   "one dimension spans across two contiguous subspaces). Use .reshape(...) "
                                   "instead.") from None
        else:
            out = x.reshape(shape)
        shares = out.base is not None and (out.base is x or out.base is x.base)
        return Tensor._wrap(out, a._vc if shares else None)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None, None


class Permute(_Op):
    @staticmethod
    def forward(ctx, a, order):
        ctx.order = order
        return Tensor._wrap(a._data.transpose(order), a._vc)

    @staticmethod
    def backward(ctx, g):
        inv = [0] * len(ctx.order)
        for i, o in enumerate(ctx.order):
            inv[o] = i
        return g.transpose(inv), None


class Expand(_Op):
    @staticmethod
    def forward(ctx, a, shape):
        x = a._data
        ctx.shape = x.shape
        return Tensor._wrap(_xp(x).broadcast_to(x, shape), a._vc)

    @staticmethod
    def backward(ctx, g):
        return sum_to_shape(g, ctx.shape), None


def _is_basic(key):
    keys = key if isinstance(key, tuple) else (key,)
    for k in keys:
        if not (k is None or k is Ellipsis or isinstance(k, (int, slice, numpy.integer))) or isinstance(k, bool):
            return False
    return True


def scatter_add(xp, out, key, g):
    """``out[key] += g`` with repeated indices summed (numpy's ``add.at``, CuPy's ``scatter_add``)."""
    if xp is numpy:
        numpy.add.at(out, key, g)
    else:
        import cupyx
        cupyx.scatter_add(out, key, g)


class Index(_Op):
    @staticmethod
    def forward(ctx, a, key):
        x = a._data
        try:
            out = x[key]
        except IndexError as exc:
            raise IndexError(str(exc).replace("axis", "dimension")) from None
        basic = _is_basic(key)
        ctx.shape, ctx.key, ctx.basic, ctx.dtype = x.shape, key, basic, x.dtype
        if basic:
            if isinstance(out, numpy.generic):  # x[i] of a 1-D array: a 0-d view, as PyTorch's
                out = x[(key if isinstance(key, tuple) else (key,)) + (Ellipsis,)]
            return Tensor._wrap(out, a._vc)
        return out

    @staticmethod
    def backward(ctx, g):
        xp = _xp(g)
        out = xp.zeros(ctx.shape, g.dtype)
        if ctx.basic:
            out[ctx.key] = g
        else:
            scatter_add(xp, out, ctx.key, g)
        return out, None


class IndexPut(_Op):
    """``x[key] = value`` as a graph op (used by ``Tensor.__setitem__`` when gradients are recorded)."""

    @staticmethod
    def forward(ctx, a, value, key):
        out = a._data.copy()
        out[key] = _a(value)
        ctx.key, ctx.vshape = key, _shape(value)
        return out

    @staticmethod
    def backward(ctx, g):
        ga = g.copy()
        ga[ctx.key] = 0
        gv = sum_to_shape(g[ctx.key], ctx.vshape) if ctx.needs_input_grad[1] else None
        return ga, gv, None


class Overwrite(_Op):
    """In-place fill as a graph op: the old values get no gradient."""

    @staticmethod
    def forward(ctx, a, values):
        out = _xp(a._data).empty_like(a._data)
        out[...] = values
        return out

    @staticmethod
    def backward(ctx, g):
        return g * 0, None


class CopyInto(_Op):
    """``dst.copy_(src)`` as a graph op: the gradient goes to ``src`` (summed to its shape)."""

    @staticmethod
    def forward(ctx, dst, src):
        x = dst._data
        out = _xp(x).empty_like(x)
        out[...] = _backend.to_device(src._data, dst.device)
        ctx.src_shape, ctx.src_dev, ctx.src_dtype = src.shape, src.device, src.dtype
        return out

    @staticmethod
    def backward(ctx, g):
        gs = sum_to_shape(g, ctx.src_shape)
        return g * 0, _backend.to_device(gs, ctx.src_dev).astype(ctx.src_dtype, copy=False)


class Clone(_Op):
    @staticmethod
    def forward(ctx, a):
        return _xp(a._data).array(a._data, copy=True, order="C")

    @staticmethod
    def backward(ctx, g):
        return g


class ToCopy(_Op):
    @staticmethod
    def forward(ctx, a, dev, dtype):
        x = a._data
        ctx.dev, ctx.dtype = a.device, x.dtype
        if dtype is not None and dtype != x.dtype:
            x = x.astype(dtype)
        elif dev is None or dev == a.device:
            x = x.copy()
        if dev is not None and dev != a.device:
            x = _backend.to_device(x, dev)
        return x

    @staticmethod
    def backward(ctx, g):
        return _backend.to_device(g, ctx.dev).astype(ctx.dtype, copy=False), None, None


class Cat(_Op):
    @staticmethod
    def forward(ctx, dim, *tensors):
        arrays = [t._data for t in tensors]
        xp = _xp(*arrays)
        nd = arrays[0].ndim
        for i, a in enumerate(arrays):
            if a.ndim != nd:
                raise RuntimeError(f"Tensors must have same number of dimensions: got {nd} and {a.ndim}")
            for d in range(nd):
                if d != dim and a.shape[d] != arrays[0].shape[d]:
                    raise RuntimeError(f"Sizes of tensors must match except in dimension {dim}. Expected size "
                                       f"{arrays[0].shape[d]} but got size {a.shape[d]} for tensor number {i} "
                                       "in the list.")
        dtype = numpy.result_type(*arrays)
        ctx.dim, ctx.sizes = dim, [a.shape[dim] for a in arrays]
        return xp.concatenate(arrays, axis=dim).astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        out, start = [None], 0
        for s in ctx.sizes:
            sl = [slice(None)] * g.ndim
            sl[ctx.dim] = slice(start, start + s)
            out.append(g[tuple(sl)])
            start += s
        return tuple(out)


class Pad(_Op):
    """1D padding of the last dimension for 'reflect', 'replicate', 'circular'; any dims for 'constant'."""

    @staticmethod
    def forward(ctx, a, pads, mode, value):
        x = a._data
        xp = _xp(x)
        ctx.shape, ctx.pads, ctx.mode = x.shape, pads, mode
        if mode == "constant":
            # negative pads crop; positive pads extend
            crop = [slice(None)] * x.ndim
            widths = [(0, 0)] * x.ndim
            for i in range(len(pads) // 2):
                d = x.ndim - 1 - i
                lo, hi = pads[2 * i], pads[2 * i + 1]
                crop[d] = slice(max(-lo, 0), x.shape[d] - max(-hi, 0))
                widths[d] = (max(lo, 0), max(hi, 0))
            ctx.crop, ctx.widths = tuple(crop), widths
            return xp.pad(x[tuple(crop)], widths, mode="constant", constant_values=value)
        lo, hi = pads
        L = x.shape[-1]
        if mode == "reflect":
            stop = L - 2 - hi  # -1 would wrap around: None runs the reversed slice to element 0
            parts = [x[..., lo:0:-1], x, x[..., L - 2:stop if stop >= 0 else None:-1] if hi else x[..., :0]]
        elif mode == "replicate":
            parts = [xp.repeat(x[..., :1], lo, axis=-1), x, xp.repeat(x[..., -1:], hi, axis=-1)]
        else:  # circular
            parts = [x[..., L - lo:] if lo else x[..., :0], x, x[..., :hi]]
        return xp.concatenate(parts, axis=-1)

    @staticmethod
    def backward(ctx, g):
        xp = _xp(g)
        mode = ctx.mode
        if mode == "constant":
            sl = tuple(slice(w[0], g.shape[i] - w[1]) for i, w in enumerate(ctx.widths))
            inner = g[sl]
            if inner.shape == ctx.shape:
                return inner, None, None, None
            out = xp.zeros(ctx.shape, g.dtype)
            out[ctx.crop] = inner
            return out, None, None, None
        lo, hi = ctx.pads
        L = ctx.shape[-1]
        out = g[..., lo:lo + L].copy()
        left, right = g[..., :lo], g[..., lo + L:]
        if mode == "reflect":
            if lo:
                out[..., 1:lo + 1] += left[..., ::-1]
            if hi:
                out[..., L - 1 - hi:L - 1] += right[..., ::-1]
        elif mode == "replicate":
            if lo:
                out[..., 0] += left.sum(axis=-1)
            if hi:
                out[..., -1] += right.sum(axis=-1)
        else:
            if lo:
                out[..., L - lo:] += left
            if hi:
                out[..., :hi] += right
        return out, None, None, None


# -- reorderings and gathers (flip, roll, repeat, gather, interpolation) ----------------------------------
class Flip(_Op):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return _xp(a._data).flip(a._data, axis=dims).copy()

    @staticmethod
    def backward(ctx, g):
        return _xp(g).flip(g, axis=ctx.dims), None


class Roll(_Op):
    @staticmethod
    def forward(ctx, a, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return _xp(a._data).roll(a._data, shifts, axis=dims)

    @staticmethod
    def backward(ctx, g):
        back = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return _xp(g).roll(g, back, axis=ctx.dims), None, None


class Repeat(_Op):
    @staticmethod
    def forward(ctx, a, reps):
        x = a._data
        x = x.reshape((1,) * (len(reps) - x.ndim) + x.shape)
        ctx.shape, ctx.reps, ctx.lead = a._data.shape, reps, x.shape
        return _xp(x).tile(x, reps)

    @staticmethod
    def backward(ctx, g):
        # g's dimension i is reps[i] copies of lead[i]: sum the copies
        split = []
        for r, s in zip(ctx.reps, ctx.lead):
            split += [r, s]
        g = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return g.reshape(ctx.shape), None


def _along(xp, index, dim):
    """An advanced-index tuple that addresses ``index`` along ``dim`` and every position elsewhere."""
    key = []
    for d, n in enumerate(index.shape):
        if d == dim:
            key.append(index)
        else:
            shape = [1] * index.ndim
            shape[d] = n
            key.append(xp.arange(n).reshape(shape))
    return tuple(key)


class Gather(_Op):
    @staticmethod
    def forward(ctx, a, dim, index):
        x = a._data
        xp = _xp(x, index)
        ctx.shape, ctx.key = x.shape, _along(xp, index, dim)
        return x[ctx.key]

    @staticmethod
    def backward(ctx, g):
        xp = _xp(g)
        out = xp.zeros(ctx.shape, g.dtype)
        scatter_add(xp, out, ctx.key, g)
        return out, None, None


class Interp1d(_Op):
    """``x[..., i0] * (1 - w) + x[..., i1] * w`` along the last dimension (linear resampling); ``x[..., i0]``
    when ``w`` is None (nearest resampling)."""

    @staticmethod
    def forward(ctx, a, i0, i1, w):
        x = a._data
        w = None if w is None else w.astype(x.dtype, copy=False)
        ctx.shape, ctx.i0, ctx.i1, ctx.w = x.shape, i0, i1, w
        return x[..., i0] if w is None else x[..., i0] * (1 - w) + x[..., i1] * w

    @staticmethod
    def backward(ctx, g):
        xp = _xp(g)
        out = xp.zeros(ctx.shape, g.dtype)
        lead = (slice(None),) * (len(ctx.shape) - 1)
        if ctx.w is None:
            scatter_add(xp, out, lead + (ctx.i0,), g)
            return out, None, None, None
        scatter_add(xp, out, lead + (ctx.i0,), g * (1 - ctx.w))
        scatter_add(xp, out, lead + (ctx.i1,), g * ctx.w)
        return out, None, None, None
