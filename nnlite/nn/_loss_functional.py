"""The loss functions: the maths behind ``nnlite.nn``'s loss modules (re-exported by ``nnlite.nn.functional``).

Signatures, defaults, reductions and error messages follow PyTorch's
``torch.nn.functional``.  Element-wise losses that compose cleanly (MSE, L1)
are built from Tensor operations; the others are ``autograd.Function``\\ s with
array forward/backward written against the array module of their inputs
(numpy or CuPy, from ``_backend``), in numerically stable forms (log-sum-exp
for cross entropy, log-sigmoid for BCE with logits).

>>> import nnlite
>>> from nnlite.nn import _loss_functional as LF
>>> x = nnlite.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], requires_grad=True)
>>> loss = LF.cross_entropy(x, nnlite.tensor([0, 2]))
>>> round(loss.item(), 4)
0.1755
>>> loss.backward()
>>> x.grad.shape
nnlite.Size([2, 3])
"""
import math
import warnings

import numpy

from nnlite import _backend
from nnlite._tensor import Tensor, as_tensor
from nnlite.autograd.function import Function

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits"]

_TORCH_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char", "int16": "Short",
                "int32": "Int", "int64": "Long", "uint8": "Byte", "bool": "Bool"}


def _name(dtype):
    """PyTorch's name of a dtype (``Float``, ``Long``...), for error messages."""
    return _TORCH_NAMES.get(numpy.dtype(dtype).name, str(dtype))


def _tensor(x):
    return x if isinstance(x, Tensor) or x is None else as_tensor(x)


# -- reductions ---------------------------------------------------------------------------------------------
def _legacy_reduction(size_average, reduce):
    """PyTorch's ``_Reduction.legacy_get_string``: the deprecated flags as a reduction string."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
                  stacklevel=3)
    return ret


def _reduction(reduction, size_average=None, reduce=None):
    """The reduction string, checked; the legacy flags win when given (as in PyTorch)."""
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                      stacklevel=3)
        return "mean"
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _apply_reduction(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _reduce_array(xp, loss, reduction, dtype):
    """Reduce an array loss; 'mean' of nothing is nan, as in PyTorch."""
    if reduction == "none":
        return loss
    total = loss.sum(dtype=dtype)
    if reduction == "mean":
        with numpy.errstate(invalid="ignore", divide="ignore"):
            total = total / loss.size if loss.size else total * numpy.nan
    return xp.asarray(total, dtype=dtype)


def _grad_of_reduction(g, reduction, n):
    """The incoming gradient of a reduced loss, per loss element (``n`` elements)."""
    if reduction == "mean":
        return g / n if n else g * numpy.nan
    return g


def _warn_size(input, target):
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.size()}) that is different to the input size "
                      f"({input.size()}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)


def _broadcast_shape(a, b):
    """numpy.broadcast_shapes with PyTorch's error message."""
    try:
        return numpy.broadcast_shapes(a, b)
    except ValueError:
        pass
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and 1 not in (x, y):
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                               f"non-singleton dimension {max(len(a), len(b)) - i}") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _div(a, b):
    """``a / b`` for a 0-d Tensor ``a``.

    Works around Tensor arithmetic on 0-d operands, which leaves a numpy
    scalar instead of a 0-d array in ``_data`` (see the report in the commit).
    """
    b = b.reshape(1) if isinstance(b, Tensor) else b
    return (a.reshape(1) / b).reshape(())


def _weighted(loss, weight, reduction):
    """PyTorch's Python-side weighting of mse_loss / l1_loss: 'mean' divides by the sum of the weights."""
    if reduction == "none":
        return loss * weight
    if reduction == "sum":
        return (loss * weight).sum()
    if reduction == "mean":
        return _div((loss * weight).sum(), weight.sum())
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")


def _check_weight_size(input, weight):
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")


# -- regression losses ------------------------------------------------------------------------------------
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error ``(input - target)²``, optionally weighted element by element.

    With ``weight`` (same size as ``input``), ``'mean'`` divides by the sum of
    the weights.  See PyTorch's ``torch.nn.functional.mse_loss``.

    >>> import nnlite
    >>> from nnlite.nn import _loss_functional as LF
    >>> LF.mse_loss(nnlite.tensor([1.0, 2.0]), nnlite.tensor([0.0, 0.0])).item()
    2.5
    """
    input, target, weight = _tensor(input), _tensor(target), _tensor(weight)
    _warn_size(input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    diff = input - target
    loss = diff * diff
    if weight is not None:
        _check_weight_size(input, weight)
        return _weighted(loss, weight, reduction)
    return _apply_reduction(loss, _reduction(reduction))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error ``|input - target|``, optionally weighted element by element.

    See PyTorch's ``torch.nn.functional.l1_loss``.

    >>> import nnlite
    >>> from nnlite.nn import _loss_functional as LF
    >>> LF.l1_loss(nnlite.tensor([1.0, -2.0]), nnlite.tensor([0.0, 0.0]), reduction='sum').item()
    3.0
    """
    input, target, weight = _tensor(input), _tensor(target), _tensor(weight)
    _warn_size(input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    loss = (input - target).abs()
    if weight is not None:
        _check_weight_size(input, weight)
        return _weighted(loss, weight, reduction)
    return _apply_reduction(loss, _reduction(reduction))


class _SmoothL1(Function):
    """Element-wise smooth L1 (``huber=False``: 0.5 d²/beta or |d| - beta/2) or Huber (delta · smooth L1)."""

    _array_backward = True

    @staticmethod
    def forward(ctx, input, target, beta, huber):
        x, t = input._data, target._data
        xp = _backend.get_array_module(x, t)
        d = x - t
        ad = xp.abs(d)
        small = ad < beta
        if huber:
            loss = xp.where(small, 0.5 * d * d, beta * (ad - 0.5 * beta))
        else:
            loss = xp.where(small, 0.5 * d * d / beta, ad - 0.5 * beta)
        ctx.save_for_backward(d)
        ctx.beta, ctx.huber = beta, huber
        return loss

    @staticmethod
    def backward(ctx, g):
        d, = ctx.saved_arrays
        xp = _backend.get_array_module(d)
        beta = ctx.beta
        small = xp.abs(d) < beta
        if ctx.huber:
            dd = xp.where(small, d, beta * xp.sign(d))
        else:
            dd = xp.where(small, d / beta, xp.sign(d))
        gd = g * dd
        needs = ctx.needs_input_grad
        return (gd if needs[0] else None), (-gd if needs[1] else None), None, None


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Smooth L1: ``0.5 d² / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``; ``beta=0`` is L1.

    See PyTorch's ``torch.nn.functional.smooth_l1_loss``.

    >>> import nnlite
    >>> from nnlite.nn import _loss_functional as LF
    >>> LF.smooth_l1_loss(nnlite.tensor([0.5, 3.0]), nnlite.tensor([0.0, 0.0]), reduction='none').tolist()
    [0.125, 2.5]
    """
    input, target = _tensor(input), _tensor(target)
    _warn_size(input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    reduction = _reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _broadcast_shape(input.shape, target.shape)
    if beta == 0.0:
        return _apply_reduction((input - target).abs(), reduction)
    return _apply_reduction(_SmoothL1.apply(input, target, float(beta), False), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Huber loss: ``0.5 d²`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``.

    With ``weight``, ``'mean'`` is the plain mean of the weighted losses (as in
    PyTorch).  See PyTorch's ``torch.nn.functional.huber_loss``.

    >>> import nnlite
    >>> from nnlite.nn import _loss_functional as LF
    >>> LF.huber_loss(nnlite.tensor([0.5, 3.0]), nnlite.tensor([0.0, 0.0]), reduction='none', delta=2.0).tolist()
    [0.125, 4.0]
    """
    input, target, weight = _tensor(input), _tensor(target), _tensor(weight)
    _warn_size(input, target)
    if weight is None:
        reduction = _reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _broadcast_shape(input.shape, target.shape)
    loss = _SmoothL1.apply(input, target, float(delta), True)
    if weight is None:
        return _apply_reduction(loss, reduction)
    _check_weight_size(input, weight)
    loss = loss * weight
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")
    return _apply_reduction(loss, reduction)


# -- classification with class indices --------------------------------------------------------------------
def _check_index_target(input, target, weight, ignore_index):
    """PyTorch's ``nll_loss_nd`` checks, in its order; returns the class count."""
    x, t = input, target
    if x.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {x.ndim})")
    if x.ndim != 1 and x.shape[0] != (t.shape[0] if t.ndim else 0):
        raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
                         f"({t.shape[0] if t.ndim else 0}).")
    if x.ndim <= 2:
        if t.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if x.ndim == 1 and t.ndim == 1 and t.shape[0] != 1:
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {t.shape[0]}")
    elif x.ndim == 4:
        if t.ndim != 3:
            raise RuntimeError(f"only batches of spatial targets supported (3D tensors) but got targets of "
                               f"dimension: {t.ndim}")
        if t.shape[1:] != x.shape[2:]:
            raise RuntimeError(f"size mismatch (got input: {list(x.shape)} , target: {list(t.shape)}")
    elif t.shape[1:] != x.shape[2:]:
        raise RuntimeError(f"Expected target size {[x.shape[0]] + list(x.shape[2:])}, got {list(t.shape)}")
    n_classes = x.shape[1] if x.ndim > 1 else x.shape[0]
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != n_classes):
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes or no classes "
                           f"but got weight tensor of shape: {list(weight.shape)}")
    if t.dtype not in (numpy.int64, numpy.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_name(t.dtype)}")
    if weight is not None and weight.dtype != x.dtype:
        raise RuntimeError(f"expected scalar type {_name(x.dtype)} but found {_name(weight.dtype)}")
    return n_classes


def _log_softmax(xp, x):
    if x.size == 0:
        return x.copy()
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


class _ClassIndexLoss(Function):
    """NLL of class-index targets over input (N, C, d...), target (N, d...).

    ``logits=True`` fuses log_softmax (cross entropy, with optional label
    smoothing); ``logits=False`` takes log-probabilities (nll_loss).  Ignored
    targets weigh 0; 'mean' divides by the summed weights of the kept targets.
    """

    _array_backward = True

    @staticmethod
    def forward(ctx, input, target, weight, reduction, ignore_index, smoothing, logits):
        x, t = input._data, target._data
        w = None if weight is None else weight._data
        xp = _backend.get_array_module(x, t) if w is None else _backend.get_array_module(x, t, w)
        n_classes = x.shape[1]
        t = t.astype(numpy.int64, copy=False)  # uint8 targets: compare with a negative ignore_index safely
        keep = t != ignore_index
        if t.size:
            bad = keep & ((t < 0) | (t >= n_classes))
            if bool(bad.any()):
                raise IndexError(f"Target {int(t[bad].ravel()[0])} is out of bounds.")
        safe = xp.where(keep, t, 0)[:, None]  # (N, 1, d...)
        lsm = _log_softmax(xp, x) if logits else x
        picked = xp.take_along_axis(lsm, safe, axis=1)[:, 0]
        wt = keep.astype(x.dtype) if w is None else w[safe[:, 0]] * keep
        loss = -(picked * wt)
        bshape = (1, n_classes) + (1,) * (x.ndim - 2)
        if smoothing > 0:
            smooth = -(lsm.sum(axis=1) if w is None else (lsm * w.reshape(bshape)).sum(axis=1)) * keep
            loss = (1 - smoothing) * loss + (smoothing / n_classes) * smooth
        total_w = None
        if reduction == "none":
            out = loss
        else:
            out = loss.sum(dtype=x.dtype)
            if reduction == "mean":
                total_w = wt.sum(dtype=x.dtype)
                with numpy.errstate(invalid="ignore", divide="ignore"):
                    out = out / total_w
            out = xp.asarray(out, dtype=x.dtype)
        if ctx.needs_input_grad[0]:
            ctx.lsm, ctx.safe, ctx.wt, ctx.keep, ctx.w = lsm, safe, wt, keep, w
            ctx.meta = (reduction, total_w, smoothing, logits, bshape)
        return out

    @staticmethod
    def backward(ctx, g):
        lsm, safe, wt, keep, w = ctx.lsm, ctx.safe, ctx.wt, ctx.keep, ctx.w
        reduction, total_w, smoothing, logits, bshape = ctx.meta
        xp = _backend.get_array_module(lsm)
        if reduction == "mean":
            with numpy.errstate(invalid="ignore", divide="ignore"):
                g = g / total_w
        n_classes = lsm.shape[1]
        g = xp.where(keep, g, 0)  # ignored positions get exactly 0, even when 'mean' divides by 0
        coef = (g * wt)[:, None]  # gradient weight of each position's picked term
        if smoothing > 0:
            coef = coef * (1 - smoothing)
        onehot = xp.arange(n_classes).reshape(bshape) == safe
        if logits:
            p = xp.exp(lsm)
            if smoothing > 0:
                sm = ((smoothing / n_classes) * g)[:, None]
                s_w = n_classes if w is None else w.sum()
                grad = p * (coef + sm * s_w) - onehot * coef
                grad -= sm if w is None else sm * w.reshape(bshape)
            else:
                grad = p * coef - onehot * coef
        else:
            grad = -(onehot * coef)
        return grad.astype(lsm.dtype, copy=False), None, None, None, None, None, None


def _index_loss(input, target, weight, reduction, ignore_index, smoothing, logits):
    if input.ndim == 1:  # unbatched (C,): a batch of one; the 'none' result is a scalar
        out = _ClassIndexLoss.apply(input.unsqueeze(0), target.reshape(1), weight, reduction, ignore_index,
                                    smoothing, logits)
        return out.reshape(()) if reduction == "none" else out
    return _ClassIndexLoss.apply(input, target, weight, reduction, ignore_index, smoothing, logits)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of class-index targets, given log-probabilities ``input``.

    ``input`` is (N, C), (N, C, d1, ...) or (C,); ``target`` holds int64 class
    indices, (N,), (N, d1, ...) or a scalar.  ``weight`` (C,) rescales each
    class; targets equal to ``ignore_index`` contribute nothing, and ``'mean'``
    divides by the summed weights of the other targets.  See PyTorch's
    ``torch.nn.functional.nll_loss``.

    >>> import nnlite
    >>> from nnlite.nn import _loss_functional as LF
    >>> logp = nnlite.tensor([[-0.1, -2.0], [-3.0, -0.5]])
    >>> round(LF.nll_loss(logp, nnlite.tensor([0, 1])).item(), 4)
    0.3
    """
    input, target, weight = _tensor(input), _tensor(target), _tensor(weight)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    reduction = _reduction(reduction)
    _check_index_target(input, target, weight, ignore_index)
    return _index_loss(input, target, weight, reduction, int(ignore_index), 0.0, False)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy between logits ``input`` and class-index or class-probability targets.

    Class-index targets (int64, the shape of ``input`` without the class
    dimension) are :func:`nll_loss` of ``log_softmax(input, 1)``, computed in
    one fused, stable step.  A floating ``target`` of the same shape as
    ``input`` holds class probabilities; then ``'mean'`` divides by the
    number of samples and ``ignore_index`` is not supported.
    ``label_smoothing`` mixes the target with the uniform distribution.  See
    PyTorch's ``torch.nn.functional.cross_entropy``.

    >>> import nnlite
    >>> from nnlite.nn import _loss_functional as LF
    >>> x = nnlite.tensor([[1.0, 2.0, 3.0]])
    >>> round(LF.cross_entropy(x, nnlite.tensor([2])).item(), 4)
    0.4076
    >>> round(LF.cross_entropy(x, nnlite.tensor([[0.0, 0.0, 1.0]])).item(), 4)
    0.4076
    """
    input, target, weight = _tensor(input), _tensor(target), _tensor(weight)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    reduction = _reduction(reduction)
    if input.dtype.kind != "f":
        raise NotImplementedError(f"\"log_softmax_lastdim_kernel_impl\" not implemented for '{_name(input.dtype)}'")
    if input.shape == target.shape:
        return _probability_cross_entropy(input, target, weight, reduction, ignore_index, label_smoothing)
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    else:
        label_smoothing = 0.0
    _check_index_target(input, target, weight, ignore_index)
    return _index_loss(input, target, weight, reduction, int(ignore_index), float(label_smoothing), True)


def _probability_cross_entropy(input, target, weight, reduction, ignore_index, label_smoothing):
    """PyTorch's ``cross_entropy_loss_prob_target``, from differentiable Tensor ops (target gets a gradient)."""
    if target.dtype.kind != "f":
        raise RuntimeError(f"Expected floating point type for target with class probabilities, got "
                           f"{_name(target.dtype)}")
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    if input.ndim == 0:
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != n_classes):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {n_classes} classes "
                           f"or no classes but got weight tensor of shape: {list(weight.shape)}")
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    prod = input.log_softmax(class_dim) * target
    if weight is not None:
        prod = prod * weight.reshape([n_classes if d == class_dim else 1 for d in range(input.ndim)])
    if reduction == "none":
        return (-prod).sum(class_dim)
    total = (-prod).sum()
    if reduction == "sum":
        return total
    n = input.numel() // n_classes if n_classes else 0
    return _div(total, n if n else math.nan)


# -- binary classification --------------------------------------------------------------------------------
def _check_into(input_shape, other):
    """``other`` must broadcast into ``input_shape`` (PyTorch writes into an input-shaped output)."""
    shape = _broadcast_shape(other.shape, input_shape)
    if shape != tuple(input_shape):
        raise RuntimeError(f"output with shape {list(input_shape)} doesn't match the broadcast shape {list(shape)}")


class _BCE(Function):
    """-w [t log x + (1 - t) log(1 - x)], each log clamped at -100 (PyTorch's convention)."""

    _array_backward = True

    @staticmethod
    def forward(ctx, input, target, weight, reduction):
        x, t = input._data, target._data
        w = None if weight is None else weight._data
        xp = _backend.get_array_module(x, t) if w is None else _backend.get_array_module(x, t, w)
        if x.size and bool(((x < 0) | (x > 1)).any()):
            raise RuntimeError("all elements of input should be between 0 and 1")
        with numpy.errstate(divide="ignore"):
            logx = xp.maximum(xp.log(x), -100)
            log1mx = xp.maximum(xp.log1p(-x), -100)
        loss = (t - 1) * log1mx - t * logx
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(input, target, weight)
        ctx.reduction = reduction
        return _reduce_array(xp, loss, reduction, x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, t, w = ctx.saved_arrays
        xp = _backend.get_array_module(x)
        g = _grad_of_reduction(g, ctx.reduction, x.size)
        if w is not None:
            g = g * w
        needs = ctx.needs_input_grad
        gx = gt = None
        if needs[0]:
            gx = g * (x - t) / xp.maximum((1 - x) * x, 1e-12)
        if needs[1]:
            with numpy.errstate(divide="ignore"):
                gt = g * (xp.log1p(-x) - xp.log(x))
        return gx, gt, None, None


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross entropy between probabilities ``input`` (in [0, 1]) and ``target``.

    Each log term is clamped at -100, so the loss stays finite at 0 and 1.
    ``weight`` broadcasts to the input's shape.  See PyTorch's
    ``torch.nn.functional.binary_cross_entropy``.

    >>> import nnlite
    >>> from nnlite.nn import _loss_functional as LF
    >>> round(LF.binary_cross_entropy(nnlite.tensor([0.8, 0.1]), nnlite.tensor([1.0, 0.0])).item(), 4)
    0.1643
    """
    input, target, weight = _tensor(input), _tensor(target), _tensor(weight)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    reduction = _reduction(reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input size "
                         f"({input.size()}) is deprecated. Please ensure they have the same size.")
    if input.dtype.kind != "f":
        raise NotImplementedError(f"\"binary_cross_entropy\" not implemented for '{_name(input.dtype)}'")
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {_name(target.dtype)} but expected {_name(input.dtype)}")
    if weight is not None:
        _check_into(input.shape, weight)
    return _BCE.apply(input, target, weight, reduction)


class _BCEWithLogits(Function):
    """(1 - t) x - (1 + (pw - 1) t) log σ(x), times w, with log σ(x) = min(x, 0) - log1p(exp(-|x|))."""

    _array_backward = True

    @staticmethod
    def forward(ctx, input, target, weight, pos_weight, reduction):
        arrays = [a._data for a in (input, target, weight, pos_weight) if a is not None]
        xp = _backend.get_array_module(*arrays)
        x, t = input._data, target._data
        w = None if weight is None else weight._data
        pw = None if pos_weight is None else pos_weight._data
        log_sig = xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))
        if pw is None:
            loss = (1 - t) * x - log_sig
        else:
            loss = (1 - t) * x - (1 + (pw - 1) * t) * log_sig
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(input, target, weight, pos_weight)
        ctx.reduction = reduction
        return _reduce_array(xp, loss, reduction, loss.dtype)

    @staticmethod
    def backward(ctx, g):
        x, t, w, pw = ctx.saved_arrays
        xp = _backend.get_array_module(x)
        n = numpy.broadcast_shapes(*(a.shape for a in (x, t, w, pw) if a is not None))
        g = _grad_of_reduction(g, ctx.reduction, int(numpy.prod(n)))
        if w is not None:
            g = g * w
        needs = ctx.needs_input_grad
        gx = gt = None
        if needs[0]:
            e = xp.exp(-xp.abs(x))  # σ(x) without overflow
            sig = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
            gx = g * (sig - t) if pw is None else g * ((1 - t) - (1 + (pw - 1) * t) * (1 - sig))
        if needs[1]:
            if pw is None:
                gt = -g * x
            else:
                log_sig = xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))
                gt = -g * (x + (pw - 1) * log_sig)
        return gx, gt, None, None, None


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Binary cross entropy of ``sigmoid(input)`` against ``target``, computed stably from the logits.

    ``pos_weight`` multiplies the positive term (broadcast over the class
    dimension, e.g. shape (C,) for input (N, C)); ``weight`` multiplies the
    whole loss.  See PyTorch's ``torch.nn.functional.binary_cross_entropy_with_logits``.

    >>> import nnlite
    >>> from nnlite.nn import _loss_functional as LF
    >>> round(LF.binary_cross_entropy_with_logits(nnlite.tensor([100.0, -100.0]), nnlite.tensor([1.0, 0.0])).item(), 4)
    0.0
    """
    input, target, weight, pos_weight = _tensor(input), _tensor(target), _tensor(weight), _tensor(pos_weight)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    reduction = _reduction(reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.size()}) must be the same as input size ({input.size()})")
    if input.dtype.kind != "f":
        raise NotImplementedError(f"\"binary_cross_entropy_with_logits\" not implemented for "
                                  f"'{_name(input.dtype)}'")
    if target.dtype.kind != "f":
        raise RuntimeError(f"result type {_name(input.dtype)} can't be cast to the desired output type "
                           f"{_name(target.dtype)}")
    if pos_weight is not None:
        _check_into(input.shape, pos_weight)
    if weight is not None:
        _check_into(input.shape, weight)
    return _BCEWithLogits.apply(input, target, weight, pos_weight, reduction)
