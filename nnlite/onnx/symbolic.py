"""How each recorded nnlite operation becomes ONNX nodes.

``SYMBOLIC`` maps an ``autograd.Function`` subclass to ``emit(g, args, outs)``:
``args`` are the arguments the op was applied to (Tensors, numbers, tuples),
``outs`` its output Tensors, and ``g`` the graph being built
(:class:`nnlite.onnx.export._Graph`).  ``emit`` returns the ONNX value name of
each output (a name, or a tuple of names with ``None`` for an output that has no
ONNX equivalent).  Shapes read from ``args`` are the traced ones; see
docs/onnx.md for which sizes may vary at run time.

>>> from nnlite import _ops
>>> _ops.Add in SYMBOLIC and _ops.Var in SYMBOLIC
True
"""
import numpy

from nnlite import _backend, _ops
from nnlite.nn import _conv, _conv_transpose, _linear as _linear_mod, _norm, _pool
from nnlite.nn import _more_functional as _MF
from nnlite.nn import functional as _F

__all__ = ["SYMBOLIC"]

_INT64_MAX = 2 ** 63 - 1
_INT64_MIN = -2 ** 63


def _unary(op_type):
    def emit(g, args, outs):
        return g.op(op_type, [g.value(args[0])])
    return emit


def _binary(op_type):
    def emit(g, args, outs):
        dt = outs[0].dtype
        return g.op(op_type, [g.operand(args[0], dt), g.operand(args[1], dt)])
    return emit


def _matmul(g, args, outs):
    return g.op("MatMul", [g.operand(args[0], outs[0].dtype), g.operand(args[1], outs[0].dtype)])


def _clamp(g, args, outs):
    x, lo, hi = args
    dt = outs[0].dtype
    y = g.value(x)
    if lo is not None:
        y = g.op("Max", [y, g.operand(lo, dt)])
    if hi is not None:
        y = g.op("Min", [y, g.operand(hi, dt)])
    return y


def _maximum(g, args, outs):
    dt = outs[0].dtype
    return g.op("Max" if args[2] else "Min", [g.operand(args[0], dt), g.operand(args[1], dt)])


# -- reductions ------------------------------------------------------------------------------------------
def _sum(g, args, outs):
    x, axes, keepdim, _ = args
    return g.cast(g.reduce("ReduceSum", g.value(x), axes, keepdim), x.dtype, outs[0].dtype)


def _mean(g, args, outs):
    x, axes, keepdim, _ = args
    return g.reduce("ReduceMean", g.cast(g.value(x), x.dtype, outs[0].dtype), axes, keepdim)


def _var(g, args, outs):
    x, axes, correction, keepdim = args
    shape = x.shape
    n = int(numpy.prod(shape)) if axes is None else int(numpy.prod([shape[a] for a in axes]))
    xv = g.value(x)
    d = g.op("Sub", [xv, g.reduce("ReduceMean", xv, axes, True)])
    s = g.reduce("ReduceSum", g.op("Mul", [d, d]), axes, keepdim)
    denom = n - correction
    return g.op("Div", [s, g.scalar(denom if denom > 0 else float("nan"), outs[0].dtype)])


def _max_min_all(g, args, outs):
    return g.reduce("ReduceMax" if args[1] else "ReduceMin", g.value(args[0]), None, False)


def _max_min_dim(g, args, outs):
    x, dim, keepdim, is_max = args
    xv = g.value(x)
    if x.ndim == 0:
        return g.op("Identity", [xv]), g.scalar(0, numpy.int64)
    values = g.reduce("ReduceMax" if is_max else "ReduceMin", xv, (dim,), keepdim)
    indices = g.op("ArgMax" if is_max else "ArgMin", [xv], axis=dim, keepdims=int(bool(keepdim)))
    return values, indices


def _softmax(g, args, outs):
    x, dim, log = args
    if x.ndim == 0:
        g.unsupported("softmax of a 0-dimensional tensor")
    return g.op("LogSoftmax" if log else "Softmax", [g.value(x)], axis=dim)


# -- shapes ------------------------------------------------------------------------------------------------
def reshape_target(in_shape, out_shape):
    """The ONNX Reshape target for a traced reshape that stays right when the leading sizes change.

    The leading dimensions equal to the input's are copied (``0``) and the first
    other dimension is inferred (``-1``), so flatten, unflatten, squeeze and the
    norms' ``(N * G, -1)`` round trips follow a dynamic batch.

    Leading sizes of 1 that the input does not have at that place stay 1 (the
    batch folded into the next dimension, as instance_norm's ``(1, N * C, L)``),
    and when the rank is kept, the trailing sizes equal to the input's at the same
    place after the inferred one are copied too (a dynamic length survives).

    >>> reshape_target((8, 4, 5), (8, 20)), reshape_target((8, 4, 5), (16, 10))
    ([0, -1], [-1, 10])
    >>> reshape_target((8, 4, 5), (1, 32, 5)), reshape_target((1, 32, 5), (8, 4, 5))
    ([1, -1, 0], [-1, 4, 0])
    """
    k = 0
    while k < min(len(in_shape), len(out_shape)) and in_shape[k] == out_shape[k]:
        k += 1
    target = [0] * k + [int(s) for s in out_shape[k:]]
    j = k
    while j < len(out_shape) - 1 and out_shape[j] == 1 and (j >= len(in_shape) or in_shape[j] != 1):
        j += 1
    if j < len(out_shape):
        target[j] = -1
        if len(in_shape) == len(out_shape):
            for i in range(j + 1, len(out_shape)):
                if in_shape[i] == out_shape[i]:
                    target[i] = 0
    return target


def _reshape(g, args, outs):
    x = args[0]
    return g.op("Reshape", [g.value(x), g.ints(reshape_target(x.shape, outs[0].shape))])


def _permute(g, args, outs):
    return g.op("Transpose", [g.value(args[0])], perm=list(args[1]))


def _expand(g, args, outs):
    x, shape = args
    lead = len(shape) - x.ndim
    target = [1 if i >= lead and x.shape[i - lead] == s else int(s) for i, s in enumerate(shape)]
    return g.op("Expand", [g.value(x), g.ints(target)])


def _slice_bounds(sl):
    step = 1 if sl.step is None else int(sl.step)
    if step > 0:
        start = 0 if sl.start is None else int(sl.start)
        stop = _INT64_MAX if sl.stop is None else int(sl.stop)
    else:
        start = -1 if sl.start is None else int(sl.start)
        stop = _INT64_MIN if sl.stop is None else int(sl.stop)
    return start, stop, step


def _index(g, args, outs):
    x, key = args
    keys = key if isinstance(key, tuple) else (key,)
    for k in keys:
        if not (k is None or k is Ellipsis or isinstance(k, slice)
                or (isinstance(k, (int, numpy.integer)) and not isinstance(k, bool))):
            g.unsupported(f"indexing with a {type(k).__name__} key (advanced indexing)")
    n_real = sum(1 for k in keys if k is not None and k is not Ellipsis)
    dim = out_dim = 0
    slices, gathers, new_axes = [], [], []
    for k in keys:
        if k is Ellipsis:
            span = x.ndim - n_real
            dim += span
            out_dim += span
        elif k is None:
            new_axes.append(out_dim)
            out_dim += 1
        elif isinstance(k, slice):
            if k != slice(None):
                slices.append((dim,) + _slice_bounds(k))
            dim += 1
            out_dim += 1
        else:
            gathers.append((dim, int(k)))
            dim += 1
    xv = y = g.value(x)
    if slices:
        axes, starts, ends, steps = zip(*slices)
        y = g.op("Slice", [y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    for d, i in reversed(gathers):  # the last first: the earlier axes keep their numbers
        y = g.op("Gather", [y, g.scalar(i, numpy.int64)], axis=d)
    if new_axes:
        y = g.op("Unsqueeze", [y, g.ints(new_axes)])
    return y if y != xv else g.op("Identity", [y])


def _identity(g, args, outs):
    return g.value(args[0])


def _to_copy(g, args, outs):
    x = args[0]
    return g.cast(g.value(x), x.dtype, outs[0].dtype)


def _cat(g, args, outs):
    dim, tensors = args[0], args[1:]
    dt = outs[0].dtype
    return g.op("Concat", [g.operand(t, dt) for t in tensors], axis=dim)


def _pad(g, args, outs):
    x, pads, mode, value = args
    xv = g.value(x)
    if mode == "constant":
        r = x.ndim
        begin, end = [0] * r, [0] * r
        for i in range(len(pads) // 2):
            begin[r - 1 - i], end[r - 1 - i] = pads[2 * i], pads[2 * i + 1]
        return g.op("Pad", [xv, g.ints(begin + end), g.scalar(value, x.dtype)], mode="constant")
    lo, hi = pads
    if mode == "circular":
        parts = []
        if lo:
            parts.append(g.op("Slice", [xv, g.ints([-lo]), g.ints([_INT64_MAX]), g.ints([-1])]))
        parts.append(xv)
        if hi:
            parts.append(g.op("Slice", [xv, g.ints([0]), g.ints([hi]), g.ints([-1])]))
        return g.op("Concat", parts, axis=-1)
    begin, end = [0] * x.ndim, [0] * x.ndim
    begin[-1], end[-1] = lo, hi
    return g.op("Pad", [xv, g.ints(begin + end)], mode="reflect" if mode == "reflect" else "edge")


# -- layers --------------------------------------------------------------------------------------------
def _conv1d(g, args, outs):
    x, w, b, stride, pad, dilation, groups = args
    inputs = [g.value(x), g.value(w)] + ([] if b is None else [g.value(b)])
    return g.op("Conv", inputs, kernel_shape=[w.shape[2]], strides=[stride], pads=list(pad), dilations=[dilation],
                group=groups)


def _conv_transpose1d(g, args, outs):
    x, w, b, stride, padding, output_padding, dilation, groups = args
    inputs = [g.value(x), g.value(w)] + ([] if b is None else [g.value(b)])
    return g.op("ConvTranspose", inputs, kernel_shape=[w.shape[2]], strides=[stride], pads=[padding, padding],
                output_padding=[output_padding], dilations=[dilation], group=groups)


def _linear(g, args, outs):
    x, w, b = args
    if x.ndim == 2:
        return g.op("Gemm", [g.value(x), g.value(w)] + ([] if b is None else [g.value(b)]), transB=1)
    y = g.op("MatMul", [g.value(x), g.op("Transpose", [g.value(w)], perm=[1, 0])])
    return y if b is None else g.op("Add", [y, g.value(b)])


def _channels(g, t, fill, c, dtype):
    """A per-channel vector: the tensor's value, or a constant of ``fill`` where it is None."""
    return g.const(numpy.full(c, fill, dtype)) if t is None else g.value(t)


def _normalize(g, x, axes, eps, dtype):
    """(x - mean) / sqrt(var + eps) over ``axes``, biased variance, as ONNX nodes."""
    d = g.op("Sub", [x, g.reduce("ReduceMean", x, axes, True)])
    var = g.reduce("ReduceMean", g.op("Mul", [d, d]), axes, True)
    return g.op("Div", [d, g.op("Sqrt", [g.op("Add", [var, g.scalar(eps, dtype)])])])


def _batch_norm(g, args, outs):
    x, weight, bias, running_mean, running_var, training, _momentum, eps = args
    c, dt = x.shape[1], x.dtype
    scale, shift = _channels(g, weight, 1, c, dt), _channels(g, bias, 0, c, dt)
    if not training:
        return g.op("BatchNormalization", [g.value(x), scale, shift, g.value(running_mean), g.value(running_var)],
                    epsilon=float(eps))
    # batch statistics (training=True, or eval without running statistics); the running update has no
    # place in an inference graph; without weight and bias no per-channel constant is made (instance_norm
    # folds a dynamic batch into the channels)
    y = _normalize(g, g.value(x), (0,) + tuple(range(2, x.ndim)), eps, dt)
    per_channel = [1, -1] + [1] * (x.ndim - 2)
    if weight is not None:
        y = g.op("Mul", [y, g.op("Reshape", [scale, g.ints(per_channel)])])
    if bias is not None:
        y = g.op("Add", [y, g.op("Reshape", [shift, g.ints(per_channel)])])
    return y


def _row_norm(g, args, outs):
    x, eps = args
    d = x.shape[-1]
    return g.op("LayerNormalization", [g.value(x), g.const(numpy.ones(d, x.dtype))], axis=-1, epsilon=float(eps))


def _pool_ceil(length, kernel, stride, padding, dilation, out):
    floor_out = (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    return int(out != floor_out)


def _max_pool(g, args, outs):
    x, kernel, stride, padding, dilation, out = args[:6]
    y = g.op("MaxPool", [g.value(x)], kernel_shape=[kernel], strides=[stride], pads=[padding, padding],
             dilations=[dilation], ceil_mode=_pool_ceil(x.shape[-1], kernel, stride, padding, dilation, out))
    return y, None


def _avg_pool(g, args, outs):
    x, kernel, stride, padding, count_include_pad, out = args
    return g.op("AveragePool", [g.value(x)], kernel_shape=[kernel], strides=[stride], pads=[padding, padding],
                count_include_pad=int(bool(count_include_pad)),
                ceil_mode=_pool_ceil(x.shape[-1], kernel, stride, padding, 1, out))


def _adaptive(kind):
    glob, pool, reduce = {"avg": ("GlobalAveragePool", "AveragePool", "ReduceMean"),
                          "max": ("GlobalMaxPool", "MaxPool", "ReduceMax")}[kind]

    def emit(g, args, outs):
        x, out = args
        length = x.shape[-1]
        xv = g.value(x)
        if out == 0:
            g.unsupported(f"adaptive_{kind}_pool1d with output_size 0")
        if out == 1:
            y = g.op(glob, [xv])
        elif length % out == 0:
            w = length // out
            y = g.op(pool, [xv], kernel_shape=[w], strides=[w])
        else:  # uneven windows: one slice and reduction per window, joined
            lo, hi = _pool._adaptive_bounds(length, out)
            parts = [g.reduce(reduce, g.op("Slice", [xv, g.ints([a]), g.ints([b]), g.ints([2])]), (2,), True)
                     for a, b in zip(lo.tolist(), hi.tolist())]
            y = g.op("Concat", parts, axis=2)
        return y if kind == "avg" else (y, None)
    return emit


def _leaky_relu(g, args, outs):
    return g.op("LeakyRelu", [g.value(args[0])], alpha=float(args[1]))


def _elu(g, args, outs):
    return g.op("Elu", [g.value(args[0])], alpha=float(args[1]))


def _gelu(g, args, outs):
    x, approximate = args
    xv, dt = g.value(x), x.dtype
    if g.opset >= 20:
        return g.op("Gelu", [xv], approximate=approximate)
    half = g.scalar(0.5, dt)
    one = g.scalar(1.0, dt)
    if approximate == "tanh":
        cube = g.op("Mul", [g.op("Mul", [xv, xv]), xv])
        inner = g.op("Add", [xv, g.op("Mul", [cube, g.scalar(0.044715, dt)])])
        t = g.op("Tanh", [g.op("Mul", [inner, g.scalar(_F._SQRT_2_OVER_PI, dt)])])
    else:
        t = g.op("Erf", [g.op("Mul", [xv, g.scalar(0.7071067811865476, dt)])])
    return g.op("Mul", [g.op("Mul", [xv, half]), g.op("Add", [t, one])])


def _elementwise(g, args, outs):
    x, kind, a, b = args
    xv, dt = g.value(x), x.dtype
    if kind == "silu":
        return g.op("Mul", [xv, g.op("Sigmoid", [xv])])
    if kind == "mish":
        if g.opset >= 18:
            return g.op("Mish", [xv])
        return g.op("Mul", [xv, g.op("Tanh", [g.op("Softplus", [xv])])])
    if kind == "hardswish":
        return g.op("HardSwish", [xv])
    if kind == "softplus":  # log(1 + exp(beta x)) / beta, and x where beta x > threshold
        bx = xv if a == 1.0 else g.op("Mul", [xv, g.scalar(a, dt)])
        soft = g.op("Softplus", [bx])
        soft = soft if a == 1.0 else g.op("Div", [soft, g.scalar(a, dt)])
        return g.op("Where", [g.op("Greater", [bx, g.scalar(b, dt)]), xv, soft])
    return g.op("Clip", [xv, g.scalar(a, dt), g.scalar(b, dt)])  # hardtanh, relu6


def _prelu(g, args, outs):
    x, w = args
    wv = g.value(w)
    if w.numel() > 1:  # one slope per channel (dimension 1): (C, 1, ...) broadcasts over the rest
        wv = g.op("Reshape", [wv, g.ints([w.numel()] + [1] * (x.ndim - 2))])
    elif w.ndim:
        wv = g.op("Reshape", [wv, g.ints([])])
    return g.op("PRelu", [g.value(x), wv])


def _interp1d(g, args, outs):
    # the positions depend on the traced length only (interpolate computes them from the sizes), so they are
    # constants: the graph keeps the traced length, the batch and channels may vary
    x, i0, i1, w = args
    dt, axis, xv = x.dtype, x.ndim - 1, g.value(x)

    def cpu(a):
        return numpy.asarray(_backend.to_device(a, _backend.CPU))

    def take(i):
        return g.op("Gather", [xv, g.const(cpu(i).astype(numpy.int64))], axis=axis)
    if w is None:
        return take(i0)
    w = cpu(w).astype(dt)
    return g.op("Add", [g.op("Mul", [take(i0), g.const((1 - w).astype(dt))]), g.op("Mul", [take(i1), g.const(w)])])


def _max_unpool(g, args, outs):
    g.unsupported("max_unpool1d takes its indices as an array fixed at trace time (the pooling indices have no "
                  "ONNX value here), so the graph would scatter every input to the traced positions")


def _dropout(g, args, outs):
    g.unsupported("dropout in training mode (F.dropout(..., training=True) in a forward)")


SYMBOLIC = {
    _ops.Add: _binary("Add"), _ops.Sub: _binary("Sub"), _ops.Mul: _binary("Mul"), _ops.Div: _binary("Div"),
    _ops.Pow: _binary("Pow"), _ops.MatMul: _matmul,
    _ops.Neg: _unary("Neg"), _ops.Abs: _unary("Abs"), _ops.Exp: _unary("Exp"), _ops.Log: _unary("Log"),
    _ops.Sqrt: _unary("Sqrt"), _ops.Tanh: _unary("Tanh"), _ops.Sigmoid: _unary("Sigmoid"),
    _ops.Relu: _unary("Relu"), _ops.Clamp: _clamp, _ops.Maximum: _maximum,
    _ops.Sum: _sum, _ops.Mean: _mean, _ops.Var: _var, _ops.MaxMinAll: _max_min_all, _ops.MaxMinDim: _max_min_dim,
    _ops.Softmax: _softmax,
    _ops.Reshape: _reshape, _ops.Permute: _permute, _ops.Expand: _expand, _ops.Index: _index,
    _ops.Clone: _identity, _ops.ToCopy: _to_copy, _ops.Cat: _cat, _ops.Pad: _pad,
    _conv.Conv1dFunction: _conv1d, _conv_transpose.ConvTranspose1dFunction: _conv_transpose1d,
    _linear_mod.LinearFunction: _linear, _norm.BatchNorm1dFunction: _batch_norm, _norm.RowNormFunction: _row_norm,
    _pool.MaxPool1dFunction: _max_pool, _pool.AvgPool1dFunction: _avg_pool,
    _pool.AdaptiveAvgPool1dFunction: _adaptive("avg"), _pool.AdaptiveMaxPool1dFunction: _adaptive("max"),
    _F._LeakyRelu: _leaky_relu, _F._Elu: _elu, _F._Gelu: _gelu, _F._Dropout: _dropout,
    _MF.Elementwise: _elementwise, _MF.PReLUFunction: _prelu, _ops.Interp1d: _interp1d,
    _MF.MaxUnpool1dFunction: _max_unpool,
}
