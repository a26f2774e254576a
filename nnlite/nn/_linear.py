"""The Linear autograd Function: ``y = x @ weight.T + bias`` over the last dimension.

Any number of leading dimensions is folded into one for the two matrix products
of the backward.  See PyTorch's ``torch.nn.functional.linear``.
"""
from nnlite import _backend
from nnlite._tensor import Tensor, as_tensor
from nnlite.autograd.function import Function

__all__ = ["linear"]


class LinearFunction(Function):
    _array_backward = True

    @staticmethod
    def forward(ctx, x, w, b):
        xa, wa = x._data, w._data
        ba = None if b is None else b._data
        xp = _backend.get_array_module(xa, wa) if ba is None else _backend.get_array_module(xa, wa, ba)
        y = xa @ wa.T
        if ba is not None:
            y = y + ba
        needs = ctx.needs_input_grad
        ctx.save_for_backward(x if needs[1] else None, w if needs[0] else None)
        ctx.xshape = xa.shape
        return xp.ascontiguousarray(y)

    @staticmethod
    def backward(ctx, gy):
        xa, wa = ctx.saved_arrays
        needs = ctx.needs_input_grad
        g2 = gy.reshape(-1, gy.shape[-1])
        gx = gw = gb = None
        if needs[0]:
            gx = (g2 @ wa).reshape(ctx.xshape)
        if needs[1]:
            gw = g2.T @ xa.reshape(-1, xa.shape[-1])
        if needs[2]:
            gb = g2.sum(axis=0)
        return gx, gw, gb


def _as(t):
    return t if isinstance(t, Tensor) else as_tensor(t)


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` with ``weight`` (out_features, in_features).

    See PyTorch's ``torch.nn.functional.linear``.

    >>> import nnlite, nnlite.nn.functional as F
    >>> F.linear(nnlite.tensor([[1.0, 2.0]]), nnlite.tensor([[1.0, 1.0], [0.0, 2.0]]), nnlite.tensor([0.5, 0.0])).tolist()
    [[3.5, 4.0]]
    """
    x, w = _as(input), _as(weight)
    b = None if bias is None else _as(bias)
    if w.ndim == 1:  # a vector weight: a dot product over the last dimension, as PyTorch allows
        y = LinearFunction.apply(x, w.unsqueeze(0), None).squeeze(-1)
        return y if b is None else y + b
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        rows = 1
        for s in x.shape[:-1]:
            rows *= s
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{x.shape[-1] if x.ndim else 1} and "
                           f"{w.shape[-1]}x{w.shape[0]})")
    if b is not None and b.shape not in ((w.shape[0],), (), (1,)):
        raise RuntimeError(f"The expanded size of the tensor ({w.shape[0]}) must match the existing size "
                           f"({b.shape[-1]}) at non-singleton dimension {max(x.ndim - 1, 0)}.  Target sizes: "
                           f"{list(x.shape[:-1]) + [w.shape[0]]}.  Tensor sizes: {list(b.shape)}")
    if b is not None and b.shape != (w.shape[0],):
        return LinearFunction.apply(x, w, None) + b
    return LinearFunction.apply(x, w, b)
