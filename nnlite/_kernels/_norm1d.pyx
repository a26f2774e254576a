# cython: language_level=3
"""Per-channel batch-norm kernels on ``(N, C, L)`` arrays (BatchNorm1d's CPU path).

``stats`` gives each channel's mean and biased variance (two passes: the mean,
then the squared deviations from it, so a large mean does not cancel the
variance away); ``backward_reduce`` gives the two sums the backward needs,
``sum(gy)`` and ``sum(gy * (x - mean))``.  One thread owns one channel and sums
it in a fixed order, in double: LANES accumulators, lane j taking the elements
i = j (mod LANES) of every row (vectorised), then the lanes in order; so the results are bitwise the same whatever the
thread count.  ``affine`` and ``grad_input`` are
the elementwise passes, parallel over the ``N * C`` rows.
"""
from cython.parallel cimport prange, parallel
cimport cython
from cython cimport floating  # Cython's own fused type: float or double


DEF LANES = 16


cdef inline double _lanes_total(const double* acc) noexcept nogil:
    cdef double t = 0
    cdef Py_ssize_t j
    for j in range(LANES):
        t = t + acc[j]
    return t


cdef inline void _zero(double* acc) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(LANES):
        acc[j] = 0


cdef inline void _add_row(double* acc, const floating* r, Py_ssize_t L) noexcept nogil:
    """acc += r's elements, lane j taking i = j (mod LANES)."""
    cdef Py_ssize_t i, j, le = (L // LANES) * LANES
    for i in range(0, le, LANES):
        for j in range(LANES):
            acc[j] += r[i + j]
    for i in range(le, L):
        acc[i - le] += r[i]


cdef inline void _add_sq_dev(double* acc, const floating* r, Py_ssize_t L, double m) noexcept nogil:
    """acc += (r - m)^2, in _add_row's lanes."""
    cdef Py_ssize_t i, j, le = (L // LANES) * LANES
    cdef double d
    for i in range(0, le, LANES):
        for j in range(LANES):
            d = r[i + j] - m
            acc[j] += d * d
    for i in range(le, L):
        d = r[i] - m
        acc[i - le] += d * d


cdef inline void _add_dot_dev(double* a, double* b, const floating* g, const floating* r,
                              Py_ssize_t L, double m) noexcept nogil:
    """a += g and b += g * (r - m), in _add_row's lanes."""
    cdef Py_ssize_t i, j, le = (L // LANES) * LANES
    for i in range(0, le, LANES):
        for j in range(LANES):
            a[j] += g[i + j]
            b[j] += g[i + j] * (r[i + j] - m)
    for i in range(le, L):
        a[i - le] += g[i]
        b[i - le] += g[i] * (r[i] - m)


cdef void _stats_channel(const floating* x, floating* mean, floating* var, Py_ssize_t c,
                         Py_ssize_t N, Py_ssize_t C, Py_ssize_t L) noexcept nogil:
    cdef double acc[LANES]
    cdef double m, count = <double>(N * L)
    cdef Py_ssize_t n
    _zero(acc)
    for n in range(N):
        _add_row(acc, x + (n * C + c) * L, L)
    m = _lanes_total(acc) / count
    _zero(acc)
    for n in range(N):
        _add_sq_dev(acc, x + (n * C + c) * L, L, m)
    mean[c] = <floating>m
    var[c] = <floating>(_lanes_total(acc) / count)


@cython.boundscheck(False)
@cython.wraparound(False)
def stats(const floating[:, :, ::1] x,   # IN  (N, C, L)
          floating[::1] mean,            # OUT (C,)
          floating[::1] var,             # OUT (C,) biased: sum((x - mean)^2) / (N * L)
          int num_threads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2]
    cdef Py_ssize_t c
    if C == 0 or N * L == 0:
        for c in range(C):
            mean[c] = float("nan")
            var[c] = float("nan")
        return
    num_threads = max(1, min(num_threads, C))
    with nogil, parallel(num_threads=num_threads):
        for c in prange(C, schedule="static"):
            _stats_channel(&x[0, 0, 0], &mean[0], &var[0], c, N, C, L)


cdef void _reduce_channel(const floating* gy, const floating* x, const floating* mean,
                          floating* sum_dy, floating* sum_dy_xmu, Py_ssize_t c, Py_ssize_t N,
                          Py_ssize_t C, Py_ssize_t L) noexcept nogil:
    cdef double a[LANES]
    cdef double b[LANES]
    cdef Py_ssize_t n
    _zero(a)
    _zero(b)
    for n in range(N):
        _add_dot_dev(a, b, gy + (n * C + c) * L, x + (n * C + c) * L, L, mean[c])
    sum_dy[c] = <floating>_lanes_total(a)
    sum_dy_xmu[c] = <floating>_lanes_total(b)


@cython.boundscheck(False)
@cython.wraparound(False)
def backward_reduce(const floating[:, :, ::1] gy,   # IN  (N, C, L)
                    const floating[:, :, ::1] x,    # IN  (N, C, L)
                    const floating[::1] mean,       # IN  (C,)
                    floating[::1] sum_dy,           # OUT (C,) sum(gy)
                    floating[::1] sum_dy_xmu,       # OUT (C,) sum(gy * (x - mean))
                    int num_threads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2]
    cdef Py_ssize_t c
    if C == 0:
        return
    if N * L == 0:
        for c in range(C):
            sum_dy[c] = 0
            sum_dy_xmu[c] = 0
        return
    num_threads = max(1, min(num_threads, C))
    with nogil, parallel(num_threads=num_threads):
        for c in prange(C, schedule="static"):
            _reduce_channel(&gy[0, 0, 0], &x[0, 0, 0], &mean[0], &sum_dy[0], &sum_dy_xmu[0],
                            c, N, C, L)


@cython.boundscheck(False)
@cython.wraparound(False)
def affine(const floating[:, :, ::1] x,    # IN  (N, C, L)
           const floating[::1] scale,      # IN  (C,)
           const floating[::1] shift,      # IN  (C,)
           floating[:, :, ::1] y,          # OUT (N, C, L): x * scale[c] + shift[c]
           int num_threads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2]
    cdef Py_ssize_t r, c, n, i
    cdef floating a, b
    num_threads = max(1, min(num_threads, N * C))
    with nogil, parallel(num_threads=num_threads):
        for r in prange(N * C, schedule="static"):
            n = r // C
            c = r % C
            a = scale[c]
            b = shift[c]
            for i in range(L):
                y[n, c, i] = x[n, c, i] * a + b


@cython.boundscheck(False)
@cython.wraparound(False)
def grad_input(const floating[:, :, ::1] gy,   # IN  (N, C, L)
               const floating[:, :, ::1] x,    # IN  (N, C, L)
               const floating[::1] mean,       # IN  (C,)
               const floating[::1] scale,      # IN  (C,) weight * invstd
               const floating[::1] k,          # IN  (C,) sum_dy_xmu / M * invstd^2
               const floating[::1] mdy,        # IN  (C,) sum_dy / M
               floating[:, :, ::1] gx,         # OUT (N, C, L): scale * (gy - mdy - (x - mean) * k)
               int num_threads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2]
    cdef Py_ssize_t r, c, n, i
    cdef floating a, m, kk, d
    num_threads = max(1, min(num_threads, N * C))
    with nogil, parallel(num_threads=num_threads):
        for r in prange(N * C, schedule="static"):
            n = r // C
            c = r % C
            a = scale[c]
            m = mean[c]
            kk = k[c]
            d = mdy[c]
            for i in range(L):
                gx[n, c, i] = a * (gy[n, c, i] - d - (x[n, c, i] - m) * kk)
