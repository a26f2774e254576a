"""Stateless operations: the maths behind the layers (see PyTorch's ``torch.nn.functional``).

>>> import nnlite
>>> import nnlite.nn.functional as F
>>> F.pad(nnlite.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode='reflect').tolist()
[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
"""
import numbers

from nnlite import _ops
from nnlite._tensor import Tensor, _norm_dim, as_tensor
from nnlite.nn._conv import conv1d

__all__ = ["conv1d", "pad", "relu", "sigmoid", "tanh", "softmax", "log_softmax"]

_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _tensor(x):
    return x if isinstance(x, Tensor) else as_tensor(x)


def pad(input, pad, mode="constant", value=None):
    """Pad the last dimensions of ``input``; ``pad = (left, right)`` pads the last one.

    Modes: ``'constant'`` (with ``value``, any number of dimensions, negative
    widths crop), and for 1D padding of 2D or 3D input ``'reflect'``,
    ``'replicate'`` and ``'circular'``.  Differentiable.  See PyTorch's
    ``torch.nn.functional.pad``.
    """
    x = _tensor(input)
    pads = tuple(int(p) for p in pad)
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if len(pads) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pads) > 2 * x.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but "
                           f"got padding length {len(pads)} and input of dimension {x.ndim}")
    if mode == "constant":
        if value is None:
            value = 0
        elif not isinstance(value, numbers.Number):
            raise TypeError(f"pad value must be a number, but got {type(value).__name__}")
        return _ops.Pad.apply(x, pads, mode, value)
    if value not in (None, 0):
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    if len(pads) != 2 or x.ndim not in (2, 3):
        raise NotImplementedError(
            f"Padding size {len(pads)} is not supported for {x.ndim}D input tensor with mode '{mode}'. nnlite "
            "supports non-constant padding of the last dimension of 2D or 3D input (padding size = 2)")
    lo, hi = pads
    if lo < 0 or hi < 0:  # negative widths crop first, as PyTorch does
        x = x[..., max(-lo, 0):x.shape[-1] - max(-hi, 0)]
        lo, hi = max(lo, 0), max(hi, 0)
    length = x.shape[-1]
    if mode == "reflect" and (lo >= length or hi >= length):
        raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                           f"but got: padding ({lo}, {hi}) at dimension {x.ndim - 1} of input {list(x.shape)}")
    if mode == "circular" and (lo > length or hi > length):
        raise RuntimeError("Padding value causes wrapping around more than once.")
    if mode == "replicate" and length == 0 and (lo or hi):
        raise RuntimeError(f"Expected input of non-zero length to pad in mode 'replicate', but got size "
                           f"{list(x.shape)}")
    return _ops.Pad.apply(x, (lo, hi), mode, None)


def relu(input, inplace=False):
    """max(x, 0) elementwise (see ``torch.nn.functional.relu``)."""
    return _ops.Relu.apply(_tensor(input))


def sigmoid(input):
    """1 / (1 + exp(-x)), computed without overflow."""
    return _ops.Sigmoid.apply(_tensor(input))


def tanh(input):
    """Hyperbolic tangent."""
    return _ops.Tanh.apply(_tensor(input))


def softmax(input, dim, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``, shifted by the max for stability."""
    x = _tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    return _ops.Softmax.apply(x, _norm_dim(dim, x.ndim), False)


def log_softmax(input, dim, dtype=None):
    """log(softmax(x)) along ``dim``, as x - max - log(sum(exp(x - max)))."""
    x = _tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    return _ops.Softmax.apply(x, _norm_dim(dim, x.ndim), True)


# -- layers of "Train a real 1D CNN end to end": linear, activations, dropout, norms, pools, transposed conv ---
# (the ops themselves live in nn/_linear.py, nn/_norm.py, nn/_pool.py, nn/_conv_transpose.py; the small
# elementwise Functions are here)
import numpy as _numpy  # noqa: E402

from nnlite import _backend as _be, _random as _rnd  # noqa: E402
from nnlite.autograd.function import Function as _Function  # noqa: E402
from nnlite.nn._conv_transpose import conv_transpose1d  # noqa: E402,F401
from nnlite.nn._linear import linear  # noqa: E402,F401
from nnlite.nn._norm import batch_norm, group_norm, layer_norm  # noqa: E402,F401
from nnlite.nn._pool import (adaptive_avg_pool1d, adaptive_max_pool1d, avg_pool1d,  # noqa: E402,F401
                             max_pool1d)

__all__ += ["linear", "dropout", "batch_norm", "group_norm", "layer_norm", "max_pool1d", "avg_pool1d",
            "adaptive_avg_pool1d", "adaptive_max_pool1d", "conv_transpose1d", "leaky_relu", "gelu", "elu"]


class _LeakyRelu(_Function):
    _array_backward = True

    @staticmethod
    def forward(ctx, x, slope):
        a = x._data
        xp = _be.get_array_module(a)
        ctx.pos, ctx.slope = a > 0, slope
        return xp.where(ctx.pos, a, a * slope).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return _be.get_array_module(g).where(ctx.pos, g, g * ctx.slope), None


class _Elu(_Function):
    _array_backward = True

    @staticmethod
    def forward(ctx, x, alpha):
        a = x._data
        xp = _be.get_array_module(a)
        neg = alpha * xp.expm1(xp.minimum(a, 0))
        ctx.pos, ctx.alpha, ctx.neg = a > 0, alpha, neg
        return xp.where(ctx.pos, a, neg).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        # d/dx alpha * (exp(x) - 1) = alpha * exp(x) = neg + alpha
        return _be.get_array_module(g).where(ctx.pos, g, g * (ctx.neg + ctx.alpha)), None


_SQRT_2_OVER_PI = 0.7978845608028654


class _Gelu(_Function):
    """GELU: exact (``x * Phi(x)``, C's erf on the CPU, CuPy's erf on a GPU) or the tanh approximation."""

    _array_backward = True

    @staticmethod
    def forward(ctx, x, approximate):
        a = x._data
        xp = _be.get_array_module(a)
        ctx.x, ctx.approximate = a, approximate
        if approximate == "tanh":
            t = xp.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a * a * a))
            ctx.t = t
            return (0.5 * a * (1 + t)).astype(a.dtype, copy=False)
        if xp is _numpy:
            return _gelu_cpu(a, None)
        from cupyx.scipy.special import erf
        return (0.5 * a * (1 + erf(a * 0.7071067811865476))).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        a = ctx.x
        xp = _be.get_array_module(g)
        if ctx.approximate == "tanh":
            t = ctx.t
            inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
            return g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * inner), None
        if xp is _numpy:
            return _gelu_cpu(a, g), None
        from cupyx.scipy.special import erf
        cdf = 0.5 * (1 + erf(a * 0.7071067811865476))
        pdf = xp.exp(-0.5 * a * a) * 0.3989422804014327
        return g * (cdf + a * pdf), None


def _gelu_cpu(a, g):
    """GELU (``g is None``) or its gradient times ``g`` on numpy arrays, through the Cython kernel."""
    from nnlite._kernels import _activation
    from nnlite._threads import threads_for
    dt = a.dtype if a.dtype in (_numpy.float32, _numpy.float64) else _numpy.dtype(_numpy.float32)
    x = _numpy.ascontiguousarray(a, dtype=dt).reshape(-1)
    out = _numpy.empty_like(x)
    if g is None:
        _activation.gelu_forward(x, out, threads_for(x.size))
    else:
        _activation.gelu_backward(x, _numpy.ascontiguousarray(g, dtype=dt).reshape(-1), out, threads_for(x.size))
    return out.reshape(a.shape).astype(a.dtype, copy=False)


class _Dropout(_Function):
    _array_backward = True

    @staticmethod
    def forward(ctx, x, p, mask_shape=None):
        a = x._data
        xp = _be.get_array_module(a)
        shape = a.shape if mask_shape is None else mask_shape  # dropout1d: one draw per channel
        if p == 1:
            mask = xp.zeros(shape, a.dtype)
        else:
            rng = _rnd.generator_for(xp)
            udt = _numpy.float64 if a.dtype == _numpy.float64 else _numpy.float32
            draw = rng.random if isinstance(rng, _numpy.random.Generator) else rng.random_sample
            mask = (draw(shape, dtype=udt) >= p).astype(a.dtype) * a.dtype.type(1 / (1 - p))
        ctx.mask = mask
        return a * mask

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask, None, None


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``x`` where ``x > 0``, else ``negative_slope * x``; see PyTorch's ``torch.nn.functional.leaky_relu``.

    ``inplace`` is accepted for compatibility; nnlite returns a new tensor.

    >>> import nnlite, nnlite.nn.functional as F
    >>> F.leaky_relu(nnlite.tensor([-2.0, 3.0]), 0.25).tolist()
    [-0.5, 3.0]
    """
    return _LeakyRelu.apply(_tensor(input), float(negative_slope))


def elu(input, alpha=1.0, inplace=False):
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``; see PyTorch's ``torch.nn.functional.elu``.

    ``inplace`` is accepted for compatibility; nnlite returns a new tensor.

    >>> import nnlite, nnlite.nn.functional as F
    >>> F.elu(nnlite.tensor([0.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    return _Elu.apply(_tensor(input), float(alpha))


def gelu(input, approximate="none"):
    """Gaussian error linear unit, ``x * Phi(x)``, or its ``'tanh'`` approximation.

    See PyTorch's ``torch.nn.functional.gelu``.

    >>> import nnlite, nnlite.nn.functional as F
    >>> round(F.gelu(nnlite.tensor([1.0])).item(), 6)
    0.841345
    """
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _Gelu.apply(_tensor(input), approximate)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)`` (when ``training``).

    The mask is drawn from nnlite's seeded generator (``nnlite.manual_seed``).
    ``inplace`` is accepted for compatibility; nnlite returns a new tensor.
    See PyTorch's ``torch.nn.functional.dropout``.

    >>> import nnlite, nnlite.nn.functional as F
    >>> x = nnlite.ones(1000)
    >>> y = F.dropout(x, 0.5)
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    >>> F.dropout(x, 0.5, training=False) is x
    True
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = _tensor(input)
    if not training or p == 0 or x.numel() == 0:
        return x
    return _Dropout.apply(x, float(p))

from nnlite.nn._loss_functional import (mse_loss, l1_loss, smooth_l1_loss, huber_loss, cross_entropy,  # noqa: E402
                                        nll_loss, binary_cross_entropy, binary_cross_entropy_with_logits)

__all__ += ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
            "binary_cross_entropy", "binary_cross_entropy_with_logits"]

from nnlite.nn._more_functional import (prelu, silu, mish, hardswish, softplus, hardtanh, relu6,  # noqa: E402
                                        dropout1d, instance_norm, max_unpool1d, interpolate, one_hot)

__all__ += ["prelu", "silu", "mish", "hardswish", "softplus", "hardtanh", "relu6", "dropout1d", "instance_norm",
            "max_unpool1d", "interpolate", "one_hot"]
