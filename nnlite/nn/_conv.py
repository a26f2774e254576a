"""The Conv1d autograd Function: argument checks, then the device's kernels.

This is the single dispatch point of the convolution: ``_kernels_for(x, w, b)``
returns the CPU kernels (Cython) for numpy arrays and the GPU kernels (CuPy
RawKernels) for CuPy arrays.  Everything is checked here, before any kernel
runs or any array is written.
"""
import numpy

from nnlite import _backend
from nnlite._tensor import Tensor
from nnlite.autograd import grad_mode
from nnlite.autograd.function import Function

__all__ = ["conv1d", "apply", "check_scalars", "padding_pair", "same_padding", "single"]


def single(value, name):
    """An int, or a one-element tuple/list of int, as a one-element tuple."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{name} must be an int or a 1-element tuple for a 1D convolution, but got {value!r}")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)):
        raise TypeError(f"{name} must be an int or a 1-element tuple of int, but got {value!r}")
    return (int(value),)


def same_padding(kernel_size, dilation):
    """(left, right) zero padding that keeps the length for stride 1; the odd element goes right."""
    total = dilation * (kernel_size - 1)
    return total // 2, total - total // 2


_cpu_kernels = None
_nd = numpy.ndarray


def _kernels_for(xa, wa, ba=None):
    """The kernels for these arrays: the CPU (Cython) kernels for numpy arrays, the GPU (CuPy
    RawKernel) ones for CuPy arrays; arrays on different devices raise."""
    global _cpu_kernels
    if not (type(xa) is _nd and type(wa) is _nd and (ba is None or type(ba) is _nd)):
        if _backend.get_array_module(xa, wa, *(() if ba is None else (ba,))) is not numpy:
            from nnlite._kernels import conv1d_cuda
            return conv1d_cuda
    if _cpu_kernels is None:
        from nnlite._kernels import conv1d_cpu
        _cpu_kernels = conv1d_cpu
    return _cpu_kernels


class Conv1dFunction(Function):
    """y = conv1d(x, w, b) for batched 3-D arrays with (left, right) zero padding."""

    _array_backward = True

    @staticmethod
    def forward(ctx, x, w, b, stride, pad, dilation, groups):
        xa, wa = x._data, w._data
        ba = None if b is None else b._data
        kern = _kernels_for(xa, wa, ba)
        # the kernels read the zero padding themselves: no padded copy of x
        y = kern.forward(xa, wa, ba, stride, dilation, groups, pad=pad)
        needs = ctx.needs_input_grad
        if needs[0] or needs[1] or (len(needs) > 2 and needs[2]):
            ctx.save_for_backward(xa if needs[1] else None, wa if needs[0] else None)
            ctx.meta = (xa.shape, wa.shape, stride, pad, dilation, groups, kern)
        return y

    @staticmethod
    def backward(ctx, gy):
        xa, wa = ctx.saved_arrays
        xshape, wshape, stride, pad, dilation, groups, kern = ctx.meta
        needs = ctx.needs_input_grad
        if not gy.flags.c_contiguous:   # e.g. sum()'s broadcast gradient: one copy for both kernels
            gy = _backend.get_array_module(gy).ascontiguousarray(gy)
        gx = gw = gb = None
        if needs[0]:
            gx = kern.grad_input(gy, wa, xshape, stride, dilation, groups, pad=pad)
        if needs[1] and needs[2]:  # one pass over gy for both
            gw, gb = kern.grad_weight(xa, gy, wshape, stride, dilation, groups, with_bias=True, pad=pad)
        elif needs[1]:
            gw = kern.grad_weight(xa, gy, wshape, stride, dilation, groups, pad=pad)
        elif needs[2]:
            gb = kern.grad_bias(gy)
        return gx, gw, gb, None, None, None, None


def _dtype_name(dt):
    return {"float32": "Float", "float64": "Double", "float16": "Half"}.get(dt.name, dt.name)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Apply a 1D convolution (cross-correlation) over ``input`` of shape (N, C_in, L) or (C_in, L).

    ``weight`` is (C_out, C_in / groups, K); ``padding`` is an int, a 1-tuple,
    ``'valid'`` or ``'same'``.  Arguments are checked before anything runs, with
    PyTorch's messages.  See PyTorch's ``torch.nn.functional.conv1d``.

    >>> import nnlite, numpy
    >>> x = numpy.ones((1, 1, 5), dtype=numpy.float32)
    >>> w = nnlite.ones(1, 1, 3)
    >>> nnlite.nn.functional.conv1d(x, w, padding=1).tolist()
    [[[2.0, 3.0, 3.0, 3.0, 2.0]]]
    """
    w = weight if isinstance(weight, Tensor) else _as_input(weight)
    s = stride if type(stride) is int else single(stride, "stride")[0]
    d = dilation if type(dilation) is int else single(dilation, "dilation")[0]
    check_scalars(s, d, groups)
    ws = w._data.shape
    if len(ws) != 3:
        raise RuntimeError(f"weight should have exactly three dimensions (out_channels, in_channels / groups, "
                           f"kernel_size), but got weight of size {list(ws)}")
    return apply(input, w, bias, s, padding_pair(padding, ws[2], s, d, RuntimeError), d, int(groups))


def check_scalars(stride, dilation, groups):
    """PyTorch's errors for a non-positive stride, dilation or groups (shared with conv_transpose1d)."""
    if type(groups) is not int and (isinstance(groups, bool) or not isinstance(groups, numpy.integer)):
        raise TypeError(f"groups must be an int, but got {groups!r}")
    if stride <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if dilation <= 0:
        raise RuntimeError("non-positive dilation is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")


def padding_pair(padding, kernel_size, stride, dilation, error):
    """(left, right) zero padding from an int, a 1-tuple, 'valid' or 'same'; ``error`` is the type raised."""
    if type(padding) is int:
        if padding < 0:
            raise error("negative padding is not supported")
        return padding, padding
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding == "same":
            if stride != 1:
                raise error("padding='same' is not supported for strided convolutions")
            return same_padding(kernel_size, dilation)
        raise error(f"Invalid padding string: '{padding}'")
    (p,) = single(padding, "padding")
    if p < 0:
        raise error("negative padding is not supported")
    return p, p


_F32, _F64 = numpy.dtype(numpy.float32), numpy.dtype(numpy.float64)
_grad_state = grad_mode._state


def apply(input, w, bias, s, pad, d, groups):
    """Check the tensors against each other and run the convolution; the scalars are already valid."""
    x = input if isinstance(input, Tensor) else _as_input(input)
    b = bias if bias is None or isinstance(bias, Tensor) else _as_input(bias)
    xa, wa = x._data, w._data
    ba = None if b is None else b._data
    xs, ws = xa.shape, wa.shape
    nd = len(xs)
    if nd != 3 and nd != 2:
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: "
                           f"{list(xs)}")
    xdt = xa.dtype
    if not (xdt is wa.dtype and (xdt is _F32 or xdt is _F64)):   # identity: the common case, cheap
        _check_dtypes(xdt, wa.dtype)
    if ws[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size [{list(ws)}] instead")
    c_in = xs[-2]
    if c_in != ws[1] * groups:
        shown = list(xs) if nd == 3 else [1] + list(xs)
        raise RuntimeError(f"Given groups={groups}, weight of size {list(ws)}, expected input{shown} to have "
                           f"{ws[1] * groups} channels, but got {c_in} channels instead")
    if ba is not None:
        bs = ba.shape
        if len(bs) != 1 or bs[0] != ws[0]:
            raise RuntimeError(f"Given weight of size {list(ws)}, expected bias to be 1-dimensional with "
                               f"{ws[0]} elements, but got bias of size {list(bs)} instead")
        if ba.dtype is not xdt and ba.dtype != xdt:
            raise RuntimeError(f"Input type ({_dtype_name(xdt)}) and bias type ({_dtype_name(ba.dtype)}) "
                               "should be the same")
    if xs[-1] + pad[0] + pad[1] < d * (ws[2] - 1) + 1:
        raise RuntimeError(f"Calculated padded input size per channel: ({xs[-1] + pad[0] + pad[1]}). "
                           f"Kernel size: ({d * (ws[2] - 1) + 1}). Kernel size can't be greater than actual "
                           "input size")
    if nd == 2:
        y = Conv1dFunction.apply(x.unsqueeze(0), w, b, s, pad, d, groups)
        return y.squeeze(0)
    if not (_grad_state.enabled and (x._requires_grad or w._requires_grad or
                                     (b is not None and b._requires_grad))):
        # nothing to record (inference): skip the graph node, run the kernel (and its device check)
        return Tensor._wrap(_kernels_for(xa, wa, ba).forward(xa, wa, ba, s, d, groups, pad))
    return Conv1dFunction.apply(x, w, b, s, pad, d, groups)


def _check_dtypes(xdt, wdt):
    """PyTorch's errors for an input / weight dtype pair that conv1d cannot take."""
    if xdt.kind != "f":
        raise RuntimeError(f"conv1d expects a floating-point input (float32 or float64), but got {xdt}")
    if xdt != wdt:
        raise RuntimeError(f"Input type ({_dtype_name(xdt)}) and weight type ({_dtype_name(wdt)}) should be "
                           f"the same: got input {xdt} and weight {wdt}")
    if xdt.itemsize < 4:
        raise RuntimeError(f"conv1d supports float32 and float64, but got {xdt}")


def _as_input(a):
    if isinstance(a, numpy.ndarray) or _backend.is_cupy_array(a):
        return Tensor._wrap(a)
    raise TypeError(f"conv1d() expects Tensors or arrays, but got {type(a).__name__}")
