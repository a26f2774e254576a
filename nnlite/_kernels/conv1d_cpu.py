"""CPU Conv1d on numpy arrays: forward and the three gradients (no autograd here).

All functions take and return numpy arrays of one float dtype (float32 or float64);
``x`` is batched ``(N, C_in, Lp)`` and already padded (``forward`` can instead take the
unpadded ``x`` and ``pad=(left, right)``), ``w`` is ``(C_out, C_in // groups, K)``;
``L_out = (Lp - dilation*(K-1) - 1) // stride + 1``.  ``grad_weight(...,
with_bias=True)`` also returns the bias gradient, summed in the same pass over ``gy``
(bitwise equal to ``grad_bias``).

>>> import numpy as np
>>> from nnlite._kernels import conv1d_cpu
>>> x = np.arange(10, dtype=np.float32).reshape(1, 1, 10)
>>> w = np.ones((2, 1, 3), np.float32)
>>> conv1d_cpu.forward(x, w, None, 1, 1, 1)[0, 0, :4]
array([ 3.,  6.,  9., 12.], dtype=float32)

See PyTorch's ``torch.nn.functional.conv1d`` (with ``padding=0``).

Kernel variant.  The Cython kernels (``conv1d.pxi``) are built three times:
``base`` (x86-64 baseline), ``avx2`` (-march=x86-64-v3) and ``avx512``
(-march=x86-64-v4).  At import the best one the CPU supports is chosen from numpy's
CPU feature table (falling back to ``/proc/cpuinfo`` flags, then ``base``);
``NNLITE_KERNEL_VARIANT=base|avx2|avx512`` overrides it.  ``VARIANT`` names the choice.

Threads.  The kernels use :func:`nnlite._threads.get_num_threads` OpenMP threads and
parallelise over independent outputs only, so results are bitwise identical for any
thread count (results of different variants may differ in the last bits: FMA
contraction and vector widths change the rounding).

Dispatch rule: always the Cython kernels; no BLAS path.  Inside the kernels the
shape picks the loop: an 8-channel x 32-column register tile (avx512; 6 x 16 for
avx2) when a group has more than 2 output channels (forward) or input channels (grad
input), otherwise a single-row kernel (depthwise, C_in == 1 grad input); grad weight
has two forms: the lane form, a 4 x 6 (output channel x (c_in, k)) tile whose vector
lanes accumulate along l (1 x 8 when a group has one output channel), and the packed
form, the forward's 8 x 32 tile over a transposed copy of gy with x packed per task
(a GEMM over N*L_out), which the kernel picks for 64+ output channels per group, 256+
(c_in, k) rows and short rows (L_out <= 1024, N*L_out <= 16384: a small-batch training
step, where it measured 1.8-2.7x faster than the lane form; it is slower for long rows
and few channels).  Stride > 1 grad input computes each stride phase into a small
task-local buffer and interleaves it into gx, and stride > 1 grad weight splits each
task's x rows per sample (no full-size scratch besides the packed form's gy copy).
When a batch has fewer (sample, column block) tasks than about 8 per thread, the
forward and grad input split the channel blocks across tasks too (a batch of 5 on two
threads would otherwise run 3 + 2).  Each forward task copies the input slice it
reads (phase-split, padding zeros included) before its tiles run: reading x in place
was measured 5-15% slower where rows are a power of two apart (they share L1 sets);
grad input copies gy rows that are a multiple of 1 KiB apart for the same reason.
When one thread suffices the kernels skip the OpenMP region (starting one costs ~1 us).
Short rows (L_out under the tile's 32 or 16 columns, or a little over where one row's tiles
would waste more columns than the kernel's halo) batch the samples instead: forward and grad
input tasks copy several samples' segments side by side into one row and run the tiles over
it (measured 13-40x faster than the scalar loop they used to fall into at L_out 4-12).  The
register tile is written with GCC's vector extensions: auto-vectorised, gcc had spread the
avx2 build's 6-row tile across rows with shuffles and spills (2 GFLOP/s, 25x slower than
PyTorch on Zen 3); the vector form keeps all 12 accumulators in registers.

No BLAS.  The BLAS formulation (sum over k of ``W[:, :, k] @ x[:, :, k*d::stride]``
with numpy ``matmul``) was measured against the kernels on the benchmark shapes
(2-core AMD EPYC, numpy 2.4 / OpenBLAS, float32, 2 threads, medians of 5) and won
none of them (wide: kernel 193 GFLOP/s, BLAS 110; dilated 91 / 72; strided 86 / 40;
mid within the noise, before the forward's slice copy took mid to 150); and OpenBLAS's
gemm gives different bits for 1 and 2 threads, which would break the determinism rule.
"""
import os

import numpy as np

from nnlite._kernels._openmp import max_threads as _max_threads

__all__ = ["VARIANT", "VARIANTS", "forward", "grad_input", "grad_weight", "grad_bias",
           "output_length", "set_variant"]

VARIANTS = ("base", "avx2", "avx512")
_AVX512 = ("AVX512F", "AVX512BW", "AVX512VL", "AVX512DQ")
_AVX2 = ("AVX2", "FMA3")


def _cpu_features():
    """The CPU's feature names (upper case, numpy's spelling), or an empty set."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as feats
        return {k for k, v in feats.items() if v}
    except Exception:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = {fl.upper() for fl in line.split(":", 1)[1].split()}
                    if "FMA" in flags:
                        flags.add("FMA3")
                    return flags
    except OSError:
        pass
    return set()


def _best_variant(features):
    if all(f in features for f in _AVX512):
        return "avx512"
    if all(f in features for f in _AVX2):
        return "avx2"
    return "base"


def _load(name):
    import importlib
    if name not in VARIANTS:
        raise ValueError(f"NNLITE_KERNEL_VARIANT must be one of {VARIANTS}, but got {name!r}")
    return importlib.import_module(f"nnlite._kernels._conv1d_{name}")


def supported_variants():
    """The variants this CPU can run, best last."""
    best = VARIANTS.index(_best_variant(_cpu_features()))
    return VARIANTS[:best + 1]


def _specialised(fused):
    """{dtype: function} for a Cython fused function: skips the per-call type dispatch."""
    sigs = getattr(fused, "__signatures__", None) or {}
    return {np.dtype(np.float32): sigs.get("float", fused),
            np.dtype(np.float64): sigs.get("double", fused)}


def set_variant(name):
    """Switch the kernel variant used by this module (for tests and benchmarks)."""
    global VARIANT, _k, _GI, _GW, _GB
    _k = _load(name)
    _GI, _GW, _GB = (_specialised(f) for f in (_k.grad_input, _k.grad_weight, _k.grad_bias))
    VARIANT = name


VARIANT = None
_k = _GI = _GW = _GB = None
set_variant(os.environ.get("NNLITE_KERNEL_VARIANT") or _best_variant(_cpu_features()))


def output_length(length, kernel_size, stride, dilation):
    """``L_out`` of a convolution over an already padded length."""
    return (length - dilation * (kernel_size - 1) - 1) // stride + 1


def _c(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _kernel(table, dtype, *others):
    for o in others:
        if o.dtype != dtype:
            raise TypeError(f"conv1d: expected all arrays of dtype {dtype}, but got {o.dtype}")
    try:
        return table[dtype]
    except KeyError:
        raise TypeError(f"conv1d: expected float32 or float64 arrays, but got {dtype}") from None


def forward(x, w, b, stride, dilation, groups, pad=(0, 0)):
    """``y[n, o, l] = b[o] + sum_{c,k} w[o, c, k] xp[n, g(o)*C_in/groups + c, l*stride + k*dilation]``.

    ``xp`` is ``x`` with ``pad = (left, right)`` zeros around each row; the kernels read
    the zeros without a padded copy of ``x`` (the default ``(0, 0)``: ``x`` is already padded).
    The kernel allocates ``y``, and checks dtypes and shapes (``TypeError`` /
    ``ValueError``) before it writes anything."""
    return _k.forward(x, w, b, None, stride, dilation, groups, _max_threads(), pad[0], pad[1])


def grad_input(gy, w, x_shape, stride, dilation, groups, pad=(0, 0)):
    """Gradient of :func:`forward` with respect to its input ``x`` of shape ``x_shape``.

    With ``pad=(left, right)`` ``x`` is the unpadded input (as in ``forward(..., pad=)``):
    only the gradient of its own elements is computed, no padded array and no crop."""
    gy = _c(gy)
    if gy.size == 0:
        return np.zeros(x_shape, dtype=gy.dtype)
    w = _c(w)
    fn = _kernel(_GI, gy.dtype, w)
    gx = np.empty(x_shape, dtype=gy.dtype)
    if gx.size:
        if pad[0] or pad[1]:
            fn(gy, w, gx, stride, dilation, groups, _max_threads(), pad[0], pad[1])
        else:
            fn(gy, w, gx, stride, dilation, groups, _max_threads())
    return gx


def grad_weight(x, gy, w_shape, stride, dilation, groups, with_bias=False, pad=(0, 0), form=-1):
    """Gradient of :func:`forward` with respect to the weight, shape ``w_shape``.

    With ``with_bias=True`` returns ``(grad_weight, grad_bias)``: the bias gradient is
    summed in the same pass over ``gy`` (bitwise equal to :func:`grad_bias`).  With
    ``pad=(left, right)`` ``x`` is the unpadded input, as in ``forward(..., pad=)``.
    ``form`` (for tests and benchmarks): -1 picks the kernel's form by shape, 0 forces
    the lane form, 1 the packed form (see the kernel's docstring)."""
    x = _c(x)
    gy = _c(gy)
    fn = _kernel(_GW, x.dtype, gy)
    gw = np.empty(w_shape, dtype=x.dtype)
    gb = np.empty(w_shape[0], dtype=x.dtype) if with_bias else None
    if gw.size:
        if pad[0] or pad[1]:
            fn(x, gy, gw, stride, dilation, groups, _max_threads(), gb, pad[0], pad[1], form)
        else:
            fn(x, gy, gw, stride, dilation, groups, _max_threads(), gb, 0, 0, form)
    elif with_bias:
        gb = grad_bias(gy)
    return (gw, gb) if with_bias else gw


def grad_bias(gy):
    """Gradient of :func:`forward` with respect to the bias: ``gy`` summed over N and L
    (per channel, in a fixed order: bitwise the same for any thread count)."""
    gy = _c(gy)
    gb = np.empty(gy.shape[1], dtype=gy.dtype)
    if gb.size:
        _kernel(_GB, gy.dtype)(gy, gb, _max_threads())
    return gb
