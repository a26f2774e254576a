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
