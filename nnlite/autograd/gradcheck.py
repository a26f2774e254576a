"""``gradcheck``: analytic gradients against central finite differences, in float64.

One harness for every op and every device: it only uses Tensor operations and
the array module of the inputs, so numpy and CuPy inputs are checked the same
way.
"""
import numpy

from nnlite import _backend
from nnlite.autograd import grad_mode

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with the numerical one."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check the gradients of ``fn(*inputs)`` with respect to every input that requires grad.

    For each floating-point output ``o`` a fixed random weighting ``v`` is drawn
    and the analytic gradient of ``sum(v * o)`` (one backward pass) is compared,
    element by element of every input, with the central difference
    ``(f(x + eps) - f(x - eps)) / (2 eps)``.  An element passes when
    ``|analytic - numerical| <= atol + rtol * |numerical|``.

    Inputs that require grad must be float64.  The caller's tensors are not
    modified: the check runs on copies.  Returns True, or raises
    :class:`GradcheckError` naming the input, the element and both values
    (returns False instead when ``raise_exception=False``).

    >>> import nnlite
    >>> x = nnlite.randn(3, 4, dtype=nnlite.float64, requires_grad=True)
    >>> nnlite.autograd.gradcheck(lambda t: (t * t).tanh(), (x,))
    True

    See PyTorch's ``torch.autograd.gradcheck``.
    """
    from nnlite._tensor import Tensor
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the "
                         "inputs do")
    for i in checked:
        if inputs[i].dtype != numpy.float64:
            raise ValueError(f"gradcheck: input {i} requires gradient and is {inputs[i].dtype}; gradcheck needs "
                             "float64 inputs for a meaningful finite-difference check")
    # fresh leaves, so neither the caller's tensors nor their .grad change
    work = tuple(t.detach().clone().requires_grad_(t.requires_grad) if isinstance(t, Tensor) else t
                 for t in inputs)
    with grad_mode.enable_grad():
        outputs = _as_tuple(fn(*work))
    outputs = [o for o in outputs if isinstance(o, Tensor) and o.dtype.kind == "f"]
    if not outputs:
        raise ValueError("gradcheck: the function returned no floating-point tensor")
    rng = numpy.random.default_rng(seed)
    weights = [_like(o, rng.standard_normal(o.shape)) for o in outputs]

    def objective():
        with grad_mode.no_grad():
            outs = [o for o in _as_tuple(fn(*work)) if isinstance(o, Tensor) and o.dtype.kind == "f"]
            return sum(float((o._data * w).sum()) for o, w in zip(outs, weights))

    differentiable = [o for o in outputs if o.requires_grad]
    analytic = {}
    if differentiable:
        from nnlite.autograd.engine import grad as autograd_grad
        ws = [w for o, w in zip(outputs, weights) if o.requires_grad]
        total = sum((o * Tensor._wrap(w)).sum() for o, w in zip(differentiable, ws))
        grads = autograd_grad(total, [work[i] for i in checked], allow_unused=True)
        analytic = {i: g for i, g in zip(checked, grads)}

    for i in checked:
        x = work[i]
        flat = x._data.reshape(-1)
        a = analytic.get(i)
        a_host = numpy.zeros(x.shape) if a is None else _backend.to_device(a._data, _backend.CPU)
        a_flat = a_host.reshape(-1)
        for k in range(flat.size):
            orig = float(flat[k])
            flat[k] = orig + eps
            plus = objective()
            flat[k] = orig - eps
            minus = objective()
            flat[k] = orig
            numerical = (plus - minus) / (2 * eps)
            analytical = float(a_flat[k])
            if not abs(analytical - numerical) <= atol + rtol * abs(numerical):
                if not raise_exception:
                    return False
                where = tuple(int(v) for v in numpy.unravel_index(k, x.shape)) if x.ndim else ()
                raise GradcheckError(
                    f"gradcheck: gradient of input {i} (shape {list(x.shape)}) at element {where}: "
                    f"numerical {numerical:.10g} vs analytical {analytical:.10g} "
                    f"(atol={atol}, rtol={rtol}, eps={eps})")
    return True


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _like(t, values):
    xp = _backend.get_array_module(t._data)
    if xp is numpy:
        return numpy.asarray(values, dtype=t.dtype)
    with xp.cuda.Device(t.device.index):
        return xp.asarray(values, dtype=t.dtype)
