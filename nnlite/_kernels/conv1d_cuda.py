"""GPU Conv1d on CuPy arrays: forward and the three gradients (no autograd here).

The same API as :mod:`nnlite._kernels.conv1d_cpu`: ``x`` is batched ``(N, C_in, Lp)`` and
already padded, ``w`` is ``(C_out, C_in // groups, K)``,
``L_out = (Lp - dilation*(K-1) - 1) // stride + 1``; all arrays are CuPy arrays of one
float dtype (float32 or float64) on one device.  ``nnlite.nn.functional.conv1d`` calls it
for CuPy arrays; nothing imports it otherwise, and importing it does not import CuPy
(CuPy is imported through ``nnlite._backend.cupy()`` on the first call).

>>> import nnlite, numpy                                             # doctest: +SKIP
>>> from nnlite._kernels import conv1d_cuda                          # doctest: +SKIP
>>> cp = nnlite._backend.cupy()                                      # doctest: +SKIP
>>> x = cp.arange(10, dtype=cp.float32).reshape(1, 1, 10)            # doctest: +SKIP
>>> conv1d_cuda.forward(x, cp.ones((2, 1, 3), cp.float32), None, 1, 1, 1)[0, 0, :4]  # doctest: +SKIP
array([ 3.,  6.,  9., 12.], dtype=float32)

See PyTorch's ``torch.nn.functional.conv1d`` (with ``padding=0``).

Kernels.  ``conv1d_cuda.cu`` is compiled once per process (per device) by CuPy's NVRTC
into one ``RawModule``, templated over float/double through ``name_expressions``.  The
general path is an implicit GEMM per group with shared-memory tiles; groups == C_in ==
C_out (depthwise) has its own row kernels.  Reductions that span blocks (weight and bias
gradients) write per-split partial sums that a second kernel adds in a fixed order: no
atomics, so every result is bitwise reproducible run to run on one GPU model.  The
number of splits depends on the shapes only, never on the device.

Matmul path (``matmul = "auto" | "always" | "never"``).  For groups == 1 the convolution
can also run as cuBLAS GEMMs over an im2col copy of the input (``cupy.matmul`` /
``cupy.tensordot``; the scatter back for the input gradient adds the K taps in order, so
it is deterministic too).  ``"auto"`` uses it when ``C_in*K >= 512``, ``C_out >= 64``,
``N*L_out >= 4096`` and the im2col copy is at most 1 GiB: the reduction is deep and the
output wide enough for a GEMM to beat the direct kernels.  That rule is reasoned, NOT
measured (no GPU was available when it was written); ``benchmarks/conv1d_gpu.py`` prints
both paths per shape so it can be set from data.

TF32.  The kernels never use TF32.  CuPy's ``matmul`` uses TF32 for float32 only when
``CUPY_TF32=1`` is set in the environment; while ``allow_tf32`` is False (the default)
the matmul path is skipped whenever CuPy would use TF32, so float32 results keep full
float32 precision.  Set ``nnlite._kernels.conv1d_cuda.allow_tf32 = True`` to let it run.
"""
import os
from pathlib import Path

import numpy

from nnlite import _backend

__all__ = ["forward", "grad_input", "grad_weight", "grad_bias", "output_length", "allow_tf32", "matmul",
           "SOURCE", "OPTIONS", "NAME_EXPRESSIONS"]

SOURCE = Path(__file__).with_name("conv1d_cuda.cu")
OPTIONS = ("--std=c++17",)
THREADS = 256
_TYPES = {numpy.dtype(numpy.float32): "float", numpy.dtype(numpy.float64): "double"}
_TMS = (1, 2, 4)  # output-channel rows per thread: tile heights 16, 32, 64
NAME_EXPRESSIONS = tuple(
    [f"conv1d_{op}<{t}, {tm}>" for op in ("forward", "grad_input", "grad_weight")
     for t in _TYPES.values() for tm in _TMS] +
    [f"conv1d_{op}<{t}>" for op in ("sum_splits", "grad_bias", "dw_forward", "dw_grad_input", "dw_grad_weight")
     for t in _TYPES.values()])

allow_tf32 = False
matmul = "auto"

_GEMM_BN = 128           # forward / grad input tile width (positions), as in the .cu
_GW_BN = 64              # grad weight tile width ((c, k) pairs)
_DW_TILE = THREADS * 4   # depthwise positions per block, as NNL_DW_TILE
_DW_TAPS = 8             # depthwise grad weight taps per block, as NNL_DW_TAPS
_SMEM_BYTES = 48 * 1024  # dynamic shared memory available without an opt-in
_TARGET_BLOCKS = 1024    # split reductions until about this many blocks (shape-only rule)
_MAX_GRID = 2 ** 31 - 1  # the kernels loop over tiles, so a capped grid still covers all
_INT_MAX = 2 ** 31 - 1

_module = None
_functions = {}
_i32, _i64 = numpy.int32, numpy.int64


def _cp():
    return _backend.cupy()


def _get_module():
    """The one RawModule for this op family, created on first use (CuPy compiles per device)."""
    global _module
    if _module is None:
        _module = _cp().RawModule(code=SOURCE.read_text(), options=OPTIONS, name_expressions=NAME_EXPRESSIONS)
    return _module


def _fn(name, dtype, dev, tm=None):
    key = (name, dtype, tm, dev)
    f = _functions.get(key)
    if f is None:
        expr = f"conv1d_{name}<{_TYPES[dtype]}>" if tm is None else f"conv1d_{name}<{_TYPES[dtype]}, {tm}>"
        f = _functions[key] = _get_module().get_function(expr)
    return f


def _launch(f, n_blocks, args, shared_mem=0):
    f((min(n_blocks, _MAX_GRID),), (THREADS,), args, shared_mem=shared_mem)


def output_length(length, kernel_size, stride, dilation):
    """``L_out`` of a convolution over an already padded length."""
    return (length - dilation * (kernel_size - 1) - 1) // stride + 1


def _cdiv(a, b):
    return -(-a // b)


def _tm(rows):
    return 1 if rows <= 16 else 2 if rows <= 32 else 4


def _checked(cp, what, *arrays):
    """The arrays, C-contiguous, after checking type, dtype and device (CuPy checks nothing)."""
    first = arrays[0]
    out = []
    for a in arrays:
        if not isinstance(a, cp.ndarray):
            raise TypeError(f"conv1d_cuda.{what}: expected CuPy arrays, but got {type(a).__name__}")
        if a.dtype != first.dtype:
            raise TypeError(f"conv1d_cuda.{what}: expected all arrays of dtype {first.dtype}, but got {a.dtype}")
        if a.device.id != first.device.id:
            _backend.raise_mixed(_backend.device_of(first), _backend.device_of(a))
        out.append(a if a.flags.c_contiguous else cp.ascontiguousarray(a))
    if first.dtype not in _TYPES:
        raise TypeError(f"conv1d_cuda.{what}: expected float32 or float64 arrays, but got {first.dtype}")
    return out


def _check_geometry(x_shape, w_shape, stride, dilation, groups):
    n, c_in, lp = x_shape
    c_out, cg, k = w_shape
    if groups < 1 or c_out % groups or c_in != cg * groups:
        raise ValueError(f"conv1d_cuda: input {tuple(x_shape)} and weight {tuple(w_shape)} do not match "
                         f"groups={groups}")
    if min(stride, dilation, k) < 1:
        raise ValueError("conv1d_cuda: stride, dilation and kernel size must be positive")
    # the kernels keep channel counts, K, stride, dilation and the per-group reductions in int
    if max(c_in, c_out, stride, dilation, cg * k, (c_out // groups) * k) > _INT_MAX:
        raise ValueError("conv1d_cuda: channel counts, kernel size, stride and dilation must be below 2**31")
    return n, c_in, lp, c_out, cg, k


def _splits(tiles, r_total, min_chunk):
    """(splits, chunk) for a reduction of ``r_total`` terms over ``tiles`` output tiles.

    Depends on the shapes only, so the summation order, and with it every bit of the
    result, is the same on every run and every GPU.
    """
    s = max(1, min(_TARGET_BLOCKS // max(tiles, 1), r_total // min_chunk))
    chunk = _cdiv(r_total, s)
    return _cdiv(r_total, chunk), chunk


def _cupy_uses_tf32(cp):
    try:
        from cupy._core import _routines_linalg as rl
        return rl.get_compute_type(numpy.dtype(numpy.float32)) == rl.COMPUTE_TYPE_TF32
    except Exception:  # private API moved: fall back to the documented switch
        return os.environ.get("CUPY_TF32", "0") not in ("", "0")


def _use_matmul(cp, dtype, groups, n, c_in, c_out, k, l_out):
    if matmul not in ("auto", "always", "never"):
        raise ValueError(f"conv1d_cuda.matmul must be 'auto', 'always' or 'never', but got {matmul!r}")
    if matmul == "never" or groups != 1:
        return False
    if dtype == numpy.float32 and not allow_tf32 and _cupy_uses_tf32(cp):
        return False
    if matmul == "always":
        return True
    workspace = n * c_in * k * l_out * dtype.itemsize
    return c_in * k >= 512 and c_out >= 64 and n * l_out >= 4096 and workspace <= 1 << 30


def _im2col(cp, x, k, stride, dilation, l_out):
    """(N, C_in*K, L_out) copy with cols[n, c*K + k, l] = x[n, c, l*stride + k*dilation]."""
    n, c, _ = x.shape
    s0, s1, s2 = x.strides
    view = cp.lib.stride_tricks.as_strided(x, (n, c, k, l_out), (s0, s1, dilation * s2, stride * s2))
    return cp.ascontiguousarray(view).reshape(n, c * k, l_out)


def _zero_padded(cp, x, pad):
    """``x`` with ``pad = (left, right)`` zeros around each row (``x`` itself for no padding)."""
    if not (pad[0] or pad[1]):
        return x
    n, c, length = x.shape
    out = cp.zeros((n, c, length + pad[0] + pad[1]), x.dtype)
    out[:, :, pad[0]:pad[0] + length] = x
    return out


def forward(x, w, b, stride, dilation, groups, pad=(0, 0)):
    """``y[n, o, l] = b[o] + sum_{c,k} w[o, c, k] xp[n, g(o)*C_in/groups + c, l*stride + k*dilation]``.

    ``xp`` is ``x`` with ``pad = (left, right)`` zeros around each row, as in ``conv1d_cpu.forward``."""
    cp = _cp()
    x = _zero_padded(cp, x, pad)
    x, w, *rest = _checked(cp, "forward", x, w, *(() if b is None else (b,)))
    b = rest[0] if rest else None
    n, c_in, lp, c_out, cg, k = _check_geometry(x.shape, w.shape, stride, dilation, groups)
    if b is not None and b.shape != (c_out,):
        raise ValueError(f"conv1d_cuda.forward: bias of shape {b.shape} for {c_out} output channels")
    l_out = max(output_length(lp, k, stride, dilation), 0)
    dt, dev = x.dtype, x.device.id
    with cp.cuda.Device(dev):
        if n and c_out and l_out and _use_matmul(cp, dt, groups, n, c_in, c_out, k, l_out):
            y = cp.matmul(w.reshape(c_out, c_in * k), _im2col(cp, x, k, stride, dilation, l_out))
            if b is not None:
                y += b[:, None]
            return y
        y = cp.empty((n, c_out, l_out), dtype=dt)
        if y.size == 0:
            return y
        bias = y if b is None else b  # never read without has_bias
        og = c_out // groups
        if cg == 1 and og == 1:
            span = (_DW_TILE - 1) * stride + (k - 1) * dilation + 1
            smem = (k + span) * dt.itemsize
            use = smem <= _SMEM_BYTES
            _launch(_fn("dw_forward", dt, dev), n * c_out * _cdiv(l_out, _DW_TILE),
                    (x, w, bias, y, _i64(n), _i32(c_out), _i64(lp), _i64(l_out), _i32(k), _i32(stride),
                     _i32(dilation), _i32(b is not None), _i32(use)), smem if use else 0)
            return y
        tm = _tm(og)
        tiles = n * groups * _cdiv(og, 16 * tm) * _cdiv(l_out, _GEMM_BN)
        _launch(_fn("forward", dt, dev, tm), tiles,
                (x, w, bias, y, _i64(n), _i32(c_in), _i32(c_out), _i64(lp), _i64(l_out), _i32(k), _i32(stride),
                 _i32(dilation), _i32(groups), _i32(b is not None)))
        return y


def grad_input(gy, w, x_shape, stride, dilation, groups, pad=(0, 0)):
    """Gradient of :func:`forward` with respect to its input ``x`` of shape ``x_shape`` (unpadded when
    ``pad`` is given, as in ``conv1d_cpu.grad_input``)."""
    if pad[0] or pad[1]:
        n, c, length = x_shape
        gx = grad_input(gy, w, (n, c, length + pad[0] + pad[1]), stride, dilation, groups)
        return _cp().ascontiguousarray(gx[:, :, pad[0]:pad[0] + length])
    cp = _cp()
    gy, w = _checked(cp, "grad_input", gy, w)
    n, c_in, lp, c_out, cg, k = _check_geometry(tuple(x_shape), w.shape, stride, dilation, groups)
    l_out = max(output_length(lp, k, stride, dilation), 0)
    if gy.shape != (n, c_out, l_out):
        raise ValueError(f"conv1d_cuda.grad_input: gradient of shape {gy.shape}, expected {(n, c_out, l_out)}")
    dt, dev = gy.dtype, gy.device.id
    with cp.cuda.Device(dev):
        if gy.size == 0:
            return cp.zeros((n, c_in, lp), dtype=dt)
        if _use_matmul(cp, dt, groups, n, c_in, c_out, k, l_out):
            cols = cp.matmul(w.reshape(c_out, c_in * k).T, gy).reshape(n, c_in, k, l_out)
            gx = cp.zeros((n, c_in, lp), dtype=dt)
            for kk in range(k):  # taps in order: deterministic
                start = kk * dilation
                gx[:, :, start:start + (l_out - 1) * stride + 1:stride] += cols[:, :, kk]
            return gx
        gx = cp.empty((n, c_in, lp), dtype=dt)
        og = c_out // groups
        if cg == 1 and og == 1:
            span = (_DW_TILE - 1 + (k - 1) * dilation) // stride + 2
            smem = (k + span) * dt.itemsize
            use = smem <= _SMEM_BYTES
            _launch(_fn("dw_grad_input", dt, dev), n * c_in * _cdiv(lp, _DW_TILE),
                    (gy, w, gx, _i64(n), _i32(c_in), _i64(lp), _i64(l_out), _i32(k), _i32(stride),
                     _i32(dilation), _i32(use)), smem if use else 0)
            return gx
        tm = _tm(cg)
        tiles = n * groups * _cdiv(cg, 16 * tm) * _cdiv(lp, _GEMM_BN)
        _launch(_fn("grad_input", dt, dev, tm), tiles,
                (gy, w, gx, _i64(n), _i32(c_in), _i32(c_out), _i64(lp), _i64(l_out), _i32(k), _i32(stride),
                 _i32(dilation), _i32(groups)))
        return gx


def grad_weight(x, gy, w_shape, stride, dilation, groups, with_bias=False, pad=(0, 0)):
    """Gradient of :func:`forward` with respect to the weight, shape ``w_shape`` (``x`` unpadded when
    ``pad`` is given); ``with_bias=True`` returns ``(grad_weight, grad_bias)``, as ``conv1d_cpu.grad_weight``."""
    if with_bias:
        return grad_weight(x, gy, w_shape, stride, dilation, groups, pad=pad), grad_bias(gy)
    cp = _cp()
    x = _zero_padded(cp, x, pad)
    x, gy = _checked(cp, "grad_weight", x, gy)
    n, c_in, lp, c_out, cg, k = _check_geometry(x.shape, tuple(w_shape), stride, dilation, groups)
    l_out = max(output_length(lp, k, stride, dilation), 0)
    if gy.shape != (n, c_out, l_out):
        raise ValueError(f"conv1d_cuda.grad_weight: gradient of shape {gy.shape}, expected {(n, c_out, l_out)}")
    dt, dev = x.dtype, x.device.id
    with cp.cuda.Device(dev):
        if n * l_out == 0 or c_out * cg * k == 0:
            return cp.zeros((c_out, cg, k), dtype=dt)
        if _use_matmul(cp, dt, groups, n, c_in, c_out, k, l_out):
            cols = _im2col(cp, x, k, stride, dilation, l_out)
            return cp.tensordot(gy, cols, axes=([0, 2], [0, 2])).reshape(c_out, cg, k)
        og, r_total = c_out // groups, n * l_out
        gw = cp.empty((c_out, cg, k), dtype=dt)
        if cg == 1 and og == 1:
            tiles = c_out * _cdiv(k, _DW_TAPS)
            splits, chunk = _splits(tiles, r_total, 2048)
            out = gw if splits == 1 else cp.empty((splits, c_out * k), dtype=dt)
            _launch(_fn("dw_grad_weight", dt, dev), tiles * splits,
                    (x, gy, out, _i64(n), _i32(c_out), _i64(lp), _i64(l_out), _i32(k), _i32(stride),
                     _i32(dilation), _i64(splits), _i64(chunk)))
        else:
            tm = _tm(og)
            tiles = groups * _cdiv(og, 16 * tm) * _cdiv(cg * k, _GW_BN)
            splits, chunk = _splits(tiles, r_total, 1024)
            out = gw if splits == 1 else cp.empty((splits, c_out * cg * k), dtype=dt)
            _launch(_fn("grad_weight", dt, dev, tm), tiles * splits,
                    (x, gy, out, _i64(n), _i32(c_in), _i32(c_out), _i64(lp), _i64(l_out), _i32(k), _i32(stride),
                     _i32(dilation), _i32(groups), _i64(splits), _i64(chunk)))
        if splits > 1:
            _sum_splits(out, gw, splits, dt, dev)
        return gw


def grad_bias(gy):
    """Gradient of :func:`forward` with respect to the bias: ``gy`` summed over N and L."""
    cp = _cp()
    (gy,) = _checked(cp, "grad_bias", gy)
    if gy.ndim != 3:
        raise ValueError(f"conv1d_cuda.grad_bias: expected a 3-D gradient, but got shape {gy.shape}")
    n, c_out, l_out = gy.shape
    dt, dev = gy.dtype, gy.device.id
    with cp.cuda.Device(dev):
        if n * l_out == 0 or c_out == 0:
            return cp.zeros((c_out,), dtype=dt)
        gb = cp.empty((c_out,), dtype=dt)
        splits, chunk = _splits(c_out, n * l_out, 4096)
        out = gb if splits == 1 else cp.empty((splits, c_out), dtype=dt)
        _launch(_fn("grad_bias", dt, dev), c_out * splits,
                (gy, out, _i64(n), _i32(c_out), _i64(l_out), _i64(splits), _i64(chunk)))
        if splits > 1:
            _sum_splits(out, gb, splits, dt, dev)
        return gb


def _sum_splits(partial, out, splits, dt, dev):
    count = out.size
    _launch(_fn("sum_splits", dt, dev), _cdiv(count, THREADS), (partial, out, _i64(splits), _i64(count)))
