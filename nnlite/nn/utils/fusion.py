"""Folding an eval-mode ``BatchNorm1d`` into the ``Conv1d`` before it (PyTorch's ``torch.nn.utils.fusion``).

In eval mode a batch norm is a per-channel affine map, ``y * s + t`` with
``s = weight / sqrt(running_var + eps)`` and ``t = bias - running_mean * s``, so
``bn(conv(x))`` is one convolution with weight ``w * s`` (per output channel) and bias
``(b - running_mean) * s + bias``: one pass over the activations instead of two, and
one array fewer.  :func:`fuse_conv_bn_eval` makes such a layer; the networks of
:mod:`nnlite.models` call :func:`conv_bn`, which folds whenever they run in eval mode
without a gradient (the fold computed per call from the current weights and statistics,
so it never goes stale; a ReLU after it is applied in place).  The folded result differs
from the two-step one by float rounding only.
"""
import copy

from nnlite.autograd import function as _function
from nnlite.autograd import grad_mode
from nnlite.nn.parameter import Parameter

__all__ = ["fuse_conv_bn_weights", "fuse_conv_bn_eval"]


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """The weight and bias (``Parameter``\\ s) of the convolution ``conv_w, conv_b`` followed by
    an eval-mode batch norm with running statistics ``bn_rm, bn_rv``, ``bn_eps`` and affine
    ``bn_w, bn_b``; ``conv_b``, ``bn_w``, ``bn_b`` may be None (0, 1, 0), as in PyTorch.

    >>> import nnlite
    >>> from nnlite.nn.utils.fusion import fuse_conv_bn_weights
    >>> w, b = fuse_conv_bn_weights(nnlite.ones(2, 1, 1), None, nnlite.zeros(2), nnlite.full((2,), 3.0),
    ...                             1.0, nnlite.tensor([1.0, 2.0]), None)
    >>> w.flatten().tolist(), b.tolist()
    ([0.5, 1.0], [0.0, 0.0])
    """
    w, b = _folded(_data(conv_w), _data(conv_b), _data(bn_rm), _data(bn_rv), bn_eps, _data(bn_w), _data(bn_b))
    return Parameter(w, conv_w.requires_grad), Parameter(b, conv_w.requires_grad)


def fuse_conv_bn_eval(conv, bn):
    """A copy of ``conv`` that computes ``bn(conv(x))``: both must be in eval mode and ``bn``
    must have running statistics (PyTorch's ``torch.nn.utils.fusion.fuse_conv_bn_eval``)."""
    if conv.training or bn.training:
        raise RuntimeError("fuse_conv_bn_eval: fusion is only for modules in eval mode; call .eval() first")
    if bn.running_mean is None or bn.running_var is None:
        raise RuntimeError("fuse_conv_bn_eval: the batch norm has no running statistics "
                           "(track_running_stats=False): there is nothing to fold")
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias)
    return fused


def conv_bn(conv, bn, x, relu=False):
    """``bn(conv(x))``, then ReLU when ``relu``: folded into one convolution (the ReLU applied in
    place on its output) when :func:`can_fold` says so, otherwise the modules themselves, so
    that hooks, training and the autograd graph see exactly the unfused layers."""
    if not can_fold(conv, bn):
        y = bn(conv(x))
        return _relu(y) if relu else y
    y = folded_conv(conv, bn, x)
    if relu:
        relu_(y)
    return y


def conv_bn_sequential(seq, x):
    """``seq(x)`` for a shortcut module: a ``Sequential(Conv1d, BatchNorm1d)`` without hooks of its
    own is folded like :func:`conv_bn`; anything else runs as it is."""
    from nnlite.nn.modules.container import Sequential
    if not isinstance(seq, Sequential) or has_hooks(seq) or len(seq) != 2:
        return seq(x)
    return conv_bn(seq[0], seq[1], x)


def can_fold(conv, bn):
    """True when ``bn(conv(x))`` may run folded: no gradient recorded (nor an ONNX export
    recording), a plain ``Conv1d`` and ``BatchNorm1d`` (not subclasses), both in eval mode, ``bn`` with running statistics, no hooks on either."""
    from nnlite.nn.modules.batchnorm import BatchNorm1d
    from nnlite.nn.modules.conv import Conv1d
    return (not grad_mode._state.enabled and _function._tracer is None and type(conv) is Conv1d
            and type(bn) is BatchNorm1d and not conv.training
            and not bn.training and bn.running_mean is not None and bn.running_var is not None
            and not has_hooks(conv) and not has_hooks(bn))


def has_hooks(module):
    """True when ``module`` has forward or forward-pre hooks (it must then run as itself)."""
    return bool(module._forward_pre_hooks or module._forward_hooks)


def folded_conv(conv, bn, x, channels=None):
    """``conv`` with ``bn`` folded in, applied to ``x`` (the caller checked :func:`can_fold`);
    ``channels`` (a slice) folds those channels of a wider ``bn``: a convolution whose output
    is concatenated with others before the norm."""
    sl = slice(None) if channels is None else channels
    w, b = _folded(_data(conv.weight), _data(conv.bias), _data(bn.running_mean)[sl], _data(bn.running_var)[sl],
                   bn.eps, None if bn.weight is None else _data(bn.weight)[sl],
                   None if bn.bias is None else _data(bn.bias)[sl])
    from nnlite._tensor import Tensor
    return conv._conv_forward(x, Tensor._wrap(w), Tensor._wrap(b))


def relu_(y):
    """ReLU of the tensor ``y`` in place (no graph: for the folded eval path only)."""
    from nnlite._ops import relu_array
    relu_array(y._data, out=y._data)
    return y


def _relu(y):
    from nnlite.nn import functional as F
    return F.relu(y)


def _data(t):
    return None if t is None else t._data


def _folded(w, b, rm, rv, eps, gamma, beta):
    """Arrays ``(w * s, (b - rm) * s + beta)`` with ``s = gamma / sqrt(rv + eps)``, in ``w``'s dtype."""
    from nnlite import _backend
    xp = _backend.get_array_module(w)
    s = (1.0 / xp.sqrt(rv + eps)).astype(w.dtype, copy=False)
    if gamma is not None:
        s = s * gamma
    shift = ((xp.zeros_like(rm) if b is None else b) - rm) * s   # PyTorch's order: 0 - 0 stays +0
    if beta is not None:
        shift = shift + beta
    return w * s.reshape((-1,) + (1,) * (w.ndim - 1)), shift.astype(w.dtype, copy=False)
