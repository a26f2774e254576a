# cython: language_level=3
"""MaxPool1d and AvgPool1d on ``(rows, L)`` arrays (``rows = N * C``), forward and backward.

One thread owns whole rows (prange over rows), and inside a row the windows are
visited in order, so each gradient element is accumulated in a fixed order and
the results do not depend on the thread count.  Window ``j`` starts at
``j * stride - padding``; positions outside ``[0, L)`` are padding.

Max: the first index of the maximum wins a tie; a NaN in a window is the
result (PyTorch's rule: ``val > max or isnan(val)``).  Avg: PyTorch's divisor,
the window clipped to ``[-padding, L + padding)`` when ``count_include_pad``,
else to ``[0, L)``.
"""
from cython.parallel cimport prange, parallel
from libc.math cimport INFINITY
from libc.stdint cimport int64_t
cimport cython
from cython cimport floating  # Cython's own fused type: float or double

DEF MAX_BLOCK = 1024  # windows per block of _max_inside (a row's block stays in L1)


cdef void _max_edge(const floating* xr, floating* yr, int64_t* ir, Py_ssize_t L, Py_ssize_t j0,
                    Py_ssize_t j1, Py_ssize_t kernel, Py_ssize_t stride, Py_ssize_t padding,
                    Py_ssize_t dilation) noexcept nogil:
    """Windows [j0, j1) of one row, any of whose taps may be padding."""
    cdef Py_ssize_t j, t, pos, start, best
    cdef floating v, m
    for j in range(j0, j1):
        start = j * stride - padding
        t = 0
        while start + t * dilation < 0:
            t = t + 1
        best = start + t * dilation
        m = -INFINITY
        for t in range(t, kernel):
            pos = start + t * dilation
            if pos >= L:
                break
            v = xr[pos]
            if v > m or v != v:
                m = v
                best = pos
        yr[j] = m
        if ir != NULL:
            ir[j] = best


cdef void _max_inside(const floating* xr, floating* yr, int64_t* ir, Py_ssize_t j0, Py_ssize_t j1,
                      Py_ssize_t kernel, Py_ssize_t stride, Py_ssize_t padding,
                      Py_ssize_t dilation) noexcept nogil:
    """Windows [j0, j1) of one row with every tap inside it: taps outer, windows inner
    (blocks of MAX_BLOCK), each step a branch-free select the compiler vectorises (with
    indices: window by window, branch-free, in registers); the
    same rule and order as _max_edge (a tap replaces the maximum when greater or NaN)."""
    cdef Py_ssize_t j, jb, je, t, pos, best
    cdef floating v, m
    cdef bint c
    for jb in range(j0, j1, MAX_BLOCK):
        je = min(j1, jb + MAX_BLOCK)
        if ir == NULL:
            for j in range(jb, je):
                yr[j] = xr[j * stride - padding]
            for t in range(1, kernel):
                for j in range(jb, je):
                    v = xr[j * stride - padding + t * dilation]
                    m = yr[j]
                    yr[j] = v if (v > m) | (v != v) else m
        else:
            # with indices: window by window, the maximum and its position in registers
            for j in range(jb, je):
                pos = j * stride - padding
                m = xr[pos]
                best = pos
                for t in range(1, kernel):
                    pos = pos + dilation
                    v = xr[pos]
                    c = (v > m) | (v != v)
                    m = v if c else m
                    best = pos if c else best
                yr[j] = m
                ir[j] = best


@cython.boundscheck(False)
@cython.wraparound(False)
def max_forward(const floating[:, ::1] x,   # IN  (R, L)
                floating[:, ::1] y,         # OUT (R, L_out)
                int64_t[:, ::1] idx,        # OUT (R, L_out): argmax within the row, or None
                Py_ssize_t kernel, Py_ssize_t stride, Py_ssize_t padding, Py_ssize_t dilation,
                int num_threads):
    """y[r, j] = max over window j of row r; idx (unless None: the values only) its position."""
    cdef Py_ssize_t R = x.shape[0], L = x.shape[1], Lout = y.shape[1]
    cdef Py_ssize_t r, hi = L - 1 - (kernel - 1) * dilation + padding
    # windows [jlo, jhi) have every tap inside the row
    cdef Py_ssize_t jlo = min(Lout, (padding + stride - 1) // stride)
    cdef Py_ssize_t jhi = max(jlo, min(Lout, hi // stride + 1 if hi >= 0 else 0))
    cdef int64_t* ir
    cdef bint want = idx is not None
    if R == 0 or Lout == 0:
        return
    num_threads = max(1, min(num_threads, R))
    with nogil, parallel(num_threads=num_threads):
        for r in prange(R, schedule="static"):
            ir = &idx[r, 0] if want else NULL
            _max_edge(&x[r, 0], &y[r, 0], ir, L, 0, jlo, kernel, stride, padding, dilation)
            _max_inside(&x[r, 0], &y[r, 0], ir, jlo, jhi, kernel, stride, padding, dilation)
            _max_edge(&x[r, 0], &y[r, 0], ir, L, jhi, Lout, kernel, stride, padding, dilation)


@cython.boundscheck(False)
@cython.wraparound(False)
def max_backward(const floating[:, ::1] gy,    # IN  (R, L_out)
                 const int64_t[:, ::1] idx,    # IN  (R, L_out)
                 floating[:, ::1] gx,          # OUT (R, L), overwritten
                 int num_threads):
    cdef Py_ssize_t R = gx.shape[0], L = gx.shape[1], Lout = gy.shape[1]
    cdef Py_ssize_t r, j, i
    num_threads = max(1, min(num_threads, R))
    with nogil, parallel(num_threads=num_threads):
        for r in prange(R, schedule="static"):
            for i in range(L):
                gx[r, i] = 0
            for j in range(Lout):
                i = idx[r, j]
                if 0 <= i < L:  # a window with no position inside the input has nowhere to send its gradient
                    gx[r, i] += gy[r, j]


cdef inline Py_ssize_t _avg_window(Py_ssize_t j, Py_ssize_t kernel, Py_ssize_t stride, Py_ssize_t padding,
                                   Py_ssize_t L, bint count_include_pad,
                                   Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """Window ``j``'s taps inside the input, ``[lo, hi)``, and its divisor (PyTorch's rule: the window
    clipped to the padded input, or to the input alone without ``count_include_pad``)."""
    cdef Py_ssize_t start = j * stride - padding
    cdef Py_ssize_t end = min(start + kernel, L + padding)
    cdef Py_ssize_t div = end - start
    lo[0] = max(start, 0)
    hi[0] = min(end, L)
    return div if count_include_pad else hi[0] - lo[0]


@cython.boundscheck(False)
@cython.wraparound(False)
def avg_forward(const floating[:, ::1] x,   # IN  (R, L)
                floating[:, ::1] y,         # OUT (R, L_out)
                Py_ssize_t kernel, Py_ssize_t stride, Py_ssize_t padding, bint count_include_pad,
                int num_threads):
    cdef Py_ssize_t R = x.shape[0], L = x.shape[1], Lout = y.shape[1]
    cdef Py_ssize_t r, j, i, lo, hi, div
    cdef double acc
    num_threads = max(1, min(num_threads, R))
    with nogil, parallel(num_threads=num_threads):
        for r in prange(R, schedule="static"):
            lo = 0  # assigned in the loop: thread-private (taking &lo alone would share it)
            hi = 0
            for j in range(Lout):
                div = _avg_window(j, kernel, stride, padding, L, count_include_pad, &lo, &hi)
                acc = 0.0
                for i in range(lo, hi):
                    acc = acc + x[r, i]
                y[r, j] = <floating>(acc / div) if hi > lo else 0


@cython.boundscheck(False)
@cython.wraparound(False)
def avg_backward(const floating[:, ::1] gy,   # IN  (R, L_out)
                 floating[:, ::1] gx,         # OUT (R, L), overwritten
                 Py_ssize_t kernel, Py_ssize_t stride, Py_ssize_t padding, bint count_include_pad,
                 int num_threads):
    cdef Py_ssize_t R = gx.shape[0], L = gx.shape[1], Lout = gy.shape[1]
    cdef Py_ssize_t r, j, i, lo, hi, div
    cdef floating g
    num_threads = max(1, min(num_threads, R))
    with nogil, parallel(num_threads=num_threads):
        for r in prange(R, schedule="static"):
            lo = 0  # thread-private, as in avg_forward
            hi = 0
            for i in range(L):
                gx[r, i] = 0
            for j in range(Lout):
                div = _avg_window(j, kernel, stride, padding, L, count_include_pad, &lo, &hi)
                if hi > lo:
                    g = gy[r, j] / div
                    for i in range(lo, hi):
                        gx[r, i] += g
