# cython: language_level=3
"""Per-channel batch-norm kernels on ``(N, C, L)`` arrays (BatchNorm1d's CPU path).

``stats`` gives each channel's mean and biased variance (two passes: the mean,
then the squared deviations from it, so a large mean does not cancel the
variance away); ``backward_reduce`` gives the two sums the backward needs,
``sum(gy)`` and ``sum(gy * (x - mean))``.  One thread owns one channel and sums
it in a fixed order (rows of L, then over N, in double), so the results are
bitwise the same whatever the thread count.  ``affine`` and ``grad_input`` are
the elementwise passes, parallel over the ``N * C`` rows.
"""
from cython.parallel cimport prange, parallel
cimport cython
from cython cimport floating  # Cython's own fused type: float or double


@cython.boundscheck(False)
@cython.wraparound(False)
def stats(const floating[:, :, ::1] x,   # IN  (N, C, L)
          floating[::1] mean,            # OUT (C,)
          floating[::1] var,             # OUT (C,) biased: sum((x - mean)^2) / (N * L)
          int num_threads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2]
    cdef Py_ssize_t c, n, i
    cdef double acc, part, m, dev, count = <double>(N * L)
    num_threads = max(1, min(num_threads, C))
    with nogil, parallel(num_threads=num_threads):
        for c in prange(C, schedule="static"):
            acc = 0.0
            for n in range(N):
                part = 0.0
                for i in range(L):
                    part = part + x[n, c, i]
                acc = acc + part
            m = acc / count
            acc = 0.0
            for n in range(N):
                part = 0.0
                for i in range(L):
                    dev = x[n, c, i] - m
                    part = part + dev * dev
                acc = acc + part
            mean[c] = <floating>m
            var[c] = <floating>(acc / count)


@cython.boundscheck(False)
@cython.wraparound(False)
def backward_reduce(const floating[:, :, ::1] gy,   # IN  (N, C, L)
                    const floating[:, :, ::1] x,    # IN  (N, C, L)
                    const floating[::1] mean,       # IN  (C,)
                    floating[::1] sum_dy,           # OUT (C,) sum(gy)
                    floating[::1] sum_dy_xmu,       # OUT (C,) sum(gy * (x - mean))
                    int num_threads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2]
    cdef Py_ssize_t c, n, i
    cdef double a, b, pa, pb, m, g
    num_threads = max(1, min(num_threads, C))
    with nogil, parallel(num_threads=num_threads):
        for c in prange(C, schedule="static"):
            m = mean[c]
            a = 0.0
            b = 0.0
            for n in range(N):
                pa = 0.0
                pb = 0.0
                for i in range(L):
                    g = gy[n, c, i]
                    pa = pa + g
                    pb = pb + g * (x[n, c, i] - m)
                a = a + pa
                b = b + pb
            sum_dy[c] = <floating>a
            sum_dy_xmu[c] = <floating>b


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
