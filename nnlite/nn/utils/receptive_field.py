"""``receptive_field``: which input positions each output position of a 1D model depends on.

A model is *local along the length* when output position ``j`` depends only on
input positions ``j * stride - left ... j * stride + right`` (a window that slides
by ``stride``), positions outside the signal being the model's own padding.
Layers compose: after a layer ``(l1, r1, s1)``, a layer ``(l2, r2, s2)`` gives
``(l2 * s1 + l1, r2 * s1 + r1, s1 * s2)``.  ``nnlite.dask.predict`` uses the
window as the halo of each chunk.

>>> import nnlite
>>> from nnlite import nn
>>> net = nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(4, 4, 3))
>>> nn.utils.receptive_field(net)
ReceptiveField(left=2, right=7, stride=2)
"""
from collections import namedtuple
import numbers

from nnlite.nn.modules.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from nnlite.nn.modules.batchnorm import BatchNorm1d
from nnlite.nn.modules.container import Sequential
from nnlite.nn.modules.conv import Conv1d
from nnlite.nn.modules.dropout import Dropout
from nnlite.nn.modules.linear import Identity
from nnlite.nn.modules.pooling import AvgPool1d, MaxPool1d

__all__ = ["ReceptiveField", "receptive_field"]


class ReceptiveField(namedtuple("ReceptiveField", ["left", "right", "stride"])):
    """``(left, right, stride)``: output ``j`` reads input ``j * stride - left ... j * stride + right``.

    >>> from nnlite.nn.utils import receptive_field
    >>> from nnlite import nn
    >>> rf = receptive_field(nn.Conv1d(2, 2, 3, stride=2, dilation=2))
    >>> rf.left, rf.right, rf.stride
    (0, 4, 2)
    """

    __slots__ = ()

    def then(self, other):
        """The window of this model followed by ``other`` (a ReceptiveField)."""
        return ReceptiveField(other.left * self.stride + self.left, other.right * self.stride + self.right,
                              self.stride * other.stride)


_POINTWISE = ReceptiveField(0, 0, 1)


def _one(value):
    """An int from an int or a one-element tuple/list (the forms pooling layers keep)."""
    return int(value[0]) if isinstance(value, (tuple, list)) else int(value)


def _window(padding, kernel_size, dilation, stride):
    # output j reads taps j*stride - padding + i*dilation, i = 0 .. kernel_size - 1
    return ReceptiveField(padding, dilation * (kernel_size - 1) - padding, stride)


def _conv(m, ndim):
    return _window(m._reversed_padding_repeated_twice[0], m.kernel_size[0], m.dilation[0], m.stride[0])


def _max_pool(m, ndim):
    return _window(_one(m.padding), _one(m.kernel_size), _one(m.dilation), _one(m.stride))


def _avg_pool(m, ndim):
    return _window(_one(m.padding), _one(m.kernel_size), 1, _one(m.stride))


def _batch_norm(m, ndim):
    if ndim == 2:
        return "it reads a 2-D input as (N, C), with the length as its channels"
    if m.training:
        return "in training mode it normalises with statistics over the whole batch and length (call .eval())"
    if m.running_mean is None or m.running_var is None:
        return "without running statistics it normalises with the batch's statistics even in eval mode"
    return _POINTWISE


def _softmax(m, ndim):
    if m.dim in (ndim - 2, -2):
        return _POINTWISE
    return (f"dim={m.dim} is not the channel dimension of a {ndim}-D input (only dim={ndim - 2} or dim=-2 is "
            f"local along the length)")


def _pointwise(m, ndim):
    return _POINTWISE


# each known layer: a function of the layer giving its ReceptiveField, or a string saying why it is not local
_RULES = {Conv1d: _conv, MaxPool1d: _max_pool, AvgPool1d: _avg_pool, BatchNorm1d: _batch_norm, Softmax: _softmax,
          LogSoftmax: _softmax, ReLU: _pointwise, LeakyReLU: _pointwise, GELU: _pointwise, ELU: _pointwise,
          Tanh: _pointwise, Sigmoid: _pointwise, Identity: _pointwise, Dropout: _pointwise}


def _describe(name, m):
    what = f"{type(m).__name__}({m.extra_repr()})" if not m._modules else type(m).__name__
    return f"layer {name!r} ({what})" if name else f"the model ({what})"


def _own(name, m):
    value = m.receptive_field()
    ok = isinstance(value, (tuple, list)) and len(value) == 3 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
    if not ok or value[2] < 1 or value[0] + value[1] < 0:
        raise ValueError(f"receptive_field: {_describe(name, m)}.receptive_field() must return three ints "
                         f"(left, right, stride) with stride >= 1 and left + right >= 0, but returned {value!r}")
    return ReceptiveField(*(int(v) for v in value))


def _walk(name, m, ndim):
    if callable(getattr(m, "receptive_field", None)):
        return _own(name, m)
    cls = type(m)
    if isinstance(m, Sequential) and cls.forward is Sequential.forward:
        total = _POINTWISE
        for child_name, child in m._modules.items():
            total = total.then(_walk(f"{name}.{child_name}" if name else child_name, child, ndim))
        return total
    # a subclass counts as its base only when it keeps the base's forward
    rule = next((_RULES[k] for k in cls.__mro__ if k in _RULES and cls.forward is k.forward), None)
    if rule is None:
        raise ValueError(f"receptive_field: {_describe(name, m)} is not known to be local along the length "
                         f"(global or adaptive pooling, Flatten, Linear, LayerNorm and GroupNorm mix positions "
                         f"along it); define a receptive_field() method on a module that is local")
    value = rule(m, ndim)
    if isinstance(value, str):
        raise ValueError(f"receptive_field: {_describe(name, m)} is not local along the length: {value}")
    return value


def receptive_field(module, *, ndim=3):
    """The window ``(left, right, stride)`` of a model that is local along the length.

    Output position ``j`` depends exactly on input positions ``j * stride - left``
    to ``j * stride + right`` (``right`` is negative when a layer pads more than its
    kernel spans; positions outside the signal are the model's own padding, so
    with ``padding_mode='circular'`` an edge output also reads the other end).
    Known layers: ``Conv1d`` (every padding, padding mode, stride, dilation and
    groups), ``MaxPool1d`` and ``AvgPool1d`` (any ``ceil_mode`` and
    ``count_include_pad``), the pointwise layers (the activations,
    ``Softmax``/``LogSoftmax`` over the channels, ``Identity``, ``Dropout``,
    ``BatchNorm1d`` in eval mode with running statistics) and ``Sequential``, nested.
    A module with a ``receptive_field()`` method returning ``(left, right, stride)``
    is taken at its word.  Anything else (adaptive pooling, ``Flatten``, ``Linear``,
    ``LayerNorm``, ``GroupNorm``, ``BatchNorm1d`` in training mode, an unknown or
    customised layer) raises a ValueError naming the layer.  ``ndim`` is the input's
    number of dimensions: 3 for (N, C, L), 2 for (C, L), where ``Softmax(dim=1)``
    runs along the length and ``BatchNorm1d`` reads (N, C).

    >>> from nnlite import nn
    >>> receptive_field(nn.Sequential(nn.Conv1d(3, 8, 7, padding='same'), nn.BatchNorm1d(8).eval()))
    ReceptiveField(left=3, right=3, stride=1)
    >>> receptive_field(nn.Sequential(nn.Conv1d(3, 8, 7), nn.AdaptiveAvgPool1d(1)))
    Traceback (most recent call last):
    ...
    ValueError: receptive_field: layer '1' (AdaptiveAvgPool1d(output_size=1)) is not known to be local ...
    """
    if ndim not in (2, 3):
        raise ValueError(f"receptive_field: ndim is the input's number of dimensions, 3 for (N, C, L) or 2 for "
                         f"(C, L), but got {ndim!r}")
    return _walk("", module, ndim)
