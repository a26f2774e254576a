# cython: language_level=3
"""Activation kernels on contiguous 1-D arrays: ReLU (one vectorised, threaded pass where numpy
needs two) and the exact GELU, ``x * Phi(x)``, with C's ``erf`` (numpy has none)."""
from cython.parallel cimport prange, parallel
from libc.math cimport erf, exp, M_SQRT1_2, M_2_SQRTPI
cimport cython
from cython cimport floating  # Cython's own fused type: float or double


@cython.boundscheck(False)
@cython.wraparound(False)
def gelu_forward(const floating[::1] x,   # IN
                 floating[::1] y,         # OUT x * 0.5 * (1 + erf(x / sqrt 2))
                 int num_threads):
    cdef Py_ssize_t n = x.shape[0], i
    cdef double v
    num_threads = max(1, min(num_threads, (n + 16383) // 16384))
    with nogil, parallel(num_threads=num_threads):
        for i in prange(n, schedule="static"):
            v = x[i]
            y[i] = <floating>(v * 0.5 * (1.0 + erf(v * M_SQRT1_2)))


@cython.boundscheck(False)
@cython.wraparound(False)
def gelu_backward(const floating[::1] x,    # IN
                  const floating[::1] gy,   # IN
                  floating[::1] gx,         # OUT gy * (Phi(x) + x * phi(x))
                  int num_threads):
    cdef Py_ssize_t n = x.shape[0], i
    cdef double v, cdf, pdf
    num_threads = max(1, min(num_threads, (n + 16383) // 16384))
    with nogil, parallel(num_threads=num_threads):
        for i in prange(n, schedule="static"):
            v = x[i]
            cdf = 0.5 * (1.0 + erf(v * M_SQRT1_2))
            pdf = exp(-0.5 * v * v) * M_2_SQRTPI * M_SQRT1_2 * 0.5
            gx[i] = <floating>(gy[i] * (cdf + v * pdf))


@cython.boundscheck(False)
@cython.wraparound(False)
def relu_forward(const floating[::1] x,   # IN
                 floating[::1] y,         # OUT 0 where x <= 0, else x (NaN stays NaN)
                 int num_threads):
    cdef Py_ssize_t n = x.shape[0], i
    cdef floating v
    num_threads = max(1, min(num_threads, (n + 16383) // 16384))
    with nogil, parallel(num_threads=num_threads):
        for i in prange(n, schedule="static"):
            v = x[i]
            y[i] = 0 if v <= 0 else v


@cython.boundscheck(False)
@cython.wraparound(False)
def relu_backward(const floating[::1] y,    # IN  the forward's output
                  const floating[::1] gy,   # IN
                  floating[::1] gx,         # OUT 0 where y <= 0, else gy
                  int num_threads):
    cdef Py_ssize_t n = y.shape[0], i
    cdef floating v
    num_threads = max(1, min(num_threads, (n + 16383) // 16384))
    with nogil, parallel(num_threads=num_threads):
        for i in prange(n, schedule="static"):
            v = gy[i]   # loaded unconditionally: a select, vectorised, not a branch
            gx[i] = 0 if y[i] <= 0 else v
