"""Gradient clipping: ``clip_grad_norm_``, ``clip_grad_value_``, ``get_total_norm``, ``clip_grads_with_norm_``.

>>> import nnlite
>>> from nnlite.nn.utils import clip_grad_norm_
>>> w = nnlite.nn.Parameter(nnlite.zeros(2)); w.grad = nnlite.tensor([3.0, 4.0])
>>> clip_grad_norm_([w], max_norm=1.0).item()
5.0
>>> [round(v, 4) for v in w.grad.tolist()]
[0.6, 0.8]

See PyTorch's ``torch.nn.utils.clip_grad_norm_``.
"""
import math

from nnlite import _backend
from nnlite._tensor import Tensor, tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters):
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


def _vector_norm(a, p):
    """The p-norm of an array viewed as a vector (numpy's and CuPy's own reductions)."""
    xp = _backend.get_array_module(a)
    x = xp.abs(a)
    return xp.asarray(_norm_of_abs(xp, x, a, p))


def _norm_of_abs(xp, x, a, p):
    if p == math.inf:
        return x.max() if x.size else xp.zeros((), a.dtype)
    if p == -math.inf:
        return x.min()
    if p == 0:
        return (x != 0).sum().astype(a.dtype)
    if p == 1:
        return x.sum()
    if p == 2:
        return xp.sqrt((x * x).sum())
    return (x ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The p-norm of all ``tensors`` together, as if flattened into one vector (a 0-d Tensor).

    ``norm_type`` is any float, ``inf`` or ``-inf``.  ``foreach`` is accepted
    (nnlite has one implementation).  With ``error_if_nonfinite`` a NaN or
    infinite total raises RuntimeError.  See PyTorch's ``torch.nn.utils.get_total_norm``.
    """
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    first = tensors[0].device
    norms = [_backend.to_device(_vector_norm(t._data, norm_type), first) for t in tensors]
    xp = _backend.array_module_for(first)
    total = _vector_norm(xp.stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           "so it cannot be clipped. To disable this error and scale the gradients by the "
                           "non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor._wrap(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients in place by ``min(1, max_norm / (total_norm + 1e-6))``.

    See PyTorch's ``torch.nn.utils.clip_grads_with_norm_``.
    """
    grads = _grads(parameters)
    if not grads:
        return
    coef = min(float(max_norm) / (float(total_norm) + 1e-6), 1.0)
    for g in grads:
        g._data *= g._data.dtype.type(coef)
        g._vc[0] += 1


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Clip the gradients of ``parameters`` in place so that their total ``norm_type``-norm is at most
    ``max_norm``; returns the total norm before clipping (a 0-d Tensor).

    ``parameters`` is a Tensor or an iterable of Tensors; those without a
    gradient are skipped (none at all: returns ``tensor(0.0)``).  The scale is
    ``max_norm / (total_norm + 1e-6)``, applied only when below 1.

    >>> import nnlite
    >>> from nnlite.nn.utils import clip_grad_norm_
    >>> w = nnlite.nn.Parameter(nnlite.zeros(2)); w.grad = nnlite.tensor([-3.0, 1.0])
    >>> clip_grad_norm_(w, 1.0, norm_type='inf').item()
    3.0

    See PyTorch's ``torch.nn.utils.clip_grad_norm_``.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        parameters = list(parameters)  # a generator is consumed twice below
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    if grads:
        clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient of ``parameters`` in place to ``[-clip_value, clip_value]``.

    >>> import nnlite
    >>> from nnlite.nn.utils import clip_grad_value_
    >>> w = nnlite.nn.Parameter(nnlite.zeros(3)); w.grad = nnlite.tensor([-3.0, 0.5, 2.0])
    >>> clip_grad_value_(w, 1.0); w.grad.tolist()
    [-1.0, 0.5, 1.0]

    See PyTorch's ``torch.nn.utils.clip_grad_value_``.
    """
    clip_value = float(clip_value)
    for g in _grads(parameters):
        xp = _backend.get_array_module(g._data)
        xp.clip(g._data, -clip_value, clip_value, out=g._data)
        g._vc[0] += 1

