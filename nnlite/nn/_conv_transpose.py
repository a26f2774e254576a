"""The ConvTranspose1d autograd Function: Conv1d's kernels run the other way round.

A transposed convolution is the gradient of a convolution with respect to its
input.  Its weight ``(C_in, C_out // groups, K)`` is laid out exactly as the
weight of the convolution it transposes (that convolution maps ``C_out``
channels to ``C_in``, group by group), so:

- forward: ``conv1d grad_input`` of the input gives the full-length output
  ``(L_in - 1) * stride + dilation * (K - 1) + 1 + output_padding``, then
  ``padding`` is cropped from both ends;
- backward: the output gradient, zero-padded back to full length, goes through
  ``conv1d forward`` (gradient of the input) and ``conv1d grad_weight``.

The kernels come from ``nnlite.nn._conv._kernels_for`` (CPU Cython or GPU).
See PyTorch's ``torch.nn.functional.conv_transpose1d``.
"""
import numpy

from nnlite import _backend
from nnlite._tensor import Tensor, as_tensor
from nnlite.autograd.function import Function
from nnlite.nn._conv import _dtype_name, _kernels_for, check_scalars, single

__all__ = ["conv_transpose1d", "conv_transpose_output_length"]


def conv_transpose_output_length(length, kernel_size, stride, padding, output_padding, dilation):
    """``(L - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1``.

    >>> conv_transpose_output_length(5, 3, 2, 1, 1, 1)
    10
    """
    return (length - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


class ConvTranspose1dFunction(Function):
    """y = conv_transpose1d(x, w, b) for batched 3-D arrays."""

    _array_backward = True

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, output_padding, dilation, groups):
        xa, wa = x._data, w._data
        ba = None if b is None else b._data
        xp = _backend.get_array_module(xa, wa) if ba is None else _backend.get_array_module(xa, wa, ba)
        kern = _kernels_for(xa, wa, ba)
        n, _, length = xa.shape
        c_out = wa.shape[1] * groups
        k = wa.shape[2]
        reach = (length - 1) * stride + dilation * (k - 1) + 1   # the positions the input reaches
        full = reach + output_padding
        y = kern.grad_input(xa, wa, (n, c_out, reach), stride, dilation, groups)
        if output_padding:
            y = xp.concatenate([y, xp.zeros((n, c_out, output_padding), y.dtype)], axis=2)
        y = y[:, :, padding:full - padding]
        if ba is not None:
            y = y + ba[None, :, None]
        y = xp.ascontiguousarray(y)
        needs = ctx.needs_input_grad
        if needs[0] or needs[1] or (len(needs) > 2 and needs[2]):
            ctx.save_for_backward(xa if needs[1] else None, wa if needs[0] else None)
            ctx.meta = (xa.shape, wa.shape, stride, padding, reach, dilation, groups, kern)
        return y

    @staticmethod
    def backward(ctx, gy):
        xa, wa = ctx.saved_arrays
        xshape, wshape, stride, padding, reach, dilation, groups, kern = ctx.meta
        xp = _backend.get_array_module(gy)
        needs = ctx.needs_input_grad
        n, c_out, lout = gy.shape
        # the gradient of the full-length output over the positions the input reaches (the cropped
        # padding gets zeros; output_padding beyond `reach` never depended on the input)
        g = xp.zeros((n, c_out, reach), gy.dtype)
        hi = min(padding + lout, reach)
        g[:, :, padding:hi] = gy[:, :, :hi - padding]
        gx = gw = gb = None
        if needs[0]:
            gx = kern.forward(g, wa, None, stride, dilation, groups)
        if needs[1]:
            gw = kern.grad_weight(g, xa, wshape, stride, dilation, groups)
        if needs[2]:
            gb = kern.grad_bias(gy)
        return gx, gw, gb, None, None, None, None, None


def _as_input(a):
    if isinstance(a, Tensor):
        return a
    if isinstance(a, numpy.ndarray) or _backend.is_cupy_array(a):
        return Tensor._wrap(a)
    return as_tensor(a)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Apply a 1D transposed convolution over (N, C_in, L) or (C_in, L).

    ``weight`` is (C_in, C_out / groups, K).  The output length is
    ``(L - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1``.
    See PyTorch's ``torch.nn.functional.conv_transpose1d``.

    >>> import nnlite, nnlite.nn.functional as F
    >>> F.conv_transpose1d(nnlite.tensor([[[1.0, 2.0]]]), nnlite.ones(1, 1, 3), stride=2).tolist()
    [[[1.0, 1.0, 3.0, 2.0, 2.0]]]
    """
    x, w = _as_input(input), _as_input(weight)
    b = None if bias is None else _as_input(bias)
    (s,) = single(stride, "stride")
    (p,) = single(padding, "padding")
    (op,) = single(output_padding, "output_padding")
    (d,) = single(dilation, "dilation")
    check_scalars(s, d, groups)
    if p < 0:
        raise RuntimeError("negative padding is not supported")
    if op < 0:
        raise RuntimeError("negative output_padding is not supported")
    if op >= s and op >= d:
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got "
                           f"output_padding_height: 0 output_padding_width: {op} stride_height: 1 stride_width: {s} "
                           f"dilation_height: 1 dilation_width: {d}")
    xs, ws = tuple(x.shape), tuple(w.shape)
    nd = len(xs)
    if nd not in (2, 3):
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to conv_transpose1d, but got input of "
                           f"size: {list(xs)}")
    if len(ws) != 3:
        raise RuntimeError(f"weight should have exactly three dimensions (in_channels, out_channels / groups, "
                           f"kernel_size), but got weight of size {list(ws)}")
    xdt, wdt = x.dtype, w.dtype
    if xdt.kind != "f" or xdt not in (numpy.float32, numpy.float64):
        raise RuntimeError(f"conv_transpose1d supports float32 and float64, but got {xdt}")
    if xdt != wdt:
        raise RuntimeError(f"expected scalar type {_dtype_name(xdt)} but found {_dtype_name(wdt)}")
    if ws[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{list(ws)}] instead")
    shown = list(xs) if nd == 3 else [1] + list(xs)
    if xs[-2] != ws[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(ws)}, expected input{shown} to have {ws[0]} "
                           f"channels, but got {xs[-2]} channels instead")
    c_out = ws[1] * groups
    if b is not None:
        if b.ndim != 1 or b.shape[0] != c_out:
            raise RuntimeError(f"Given transposed=1, weight of size {list(ws)}, expected bias to be 1-dimensional "
                               f"with {c_out} elements, but got bias of size {list(b.shape)} instead")
        if b.dtype != xdt:
            raise RuntimeError(f"expected scalar type {_dtype_name(xdt)} but found {_dtype_name(b.dtype)}")
    length = xs[-1]
    out = conv_transpose_output_length(length, ws[2], s, p, op, d)
    if length == 0 or out <= 0:
        raise RuntimeError(f"Given input size per channel: ({length}). Calculated output size per channel: ({out}). "
                           "Output size is too small")
    if nd == 2:
        return ConvTranspose1dFunction.apply(x.unsqueeze(0), w, b, s, p, op, d, groups).squeeze(0)
    return ConvTranspose1dFunction.apply(x, w, b, s, p, op, d, groups)
