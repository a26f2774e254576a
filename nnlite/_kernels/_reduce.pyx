# cython: language_level=3
"""Deterministic reductions used by autograd.

``sum_batch_length(x)`` sums an ``(N, C, L)`` array over N and L, giving ``(C,)``.
It is the gradient of a per-channel bias broadcast over a batch of sequences
(Conv1d's bias, BatchNorm's shift) and the commonest un-broadcast in a 1D conv
net.  Each channel is summed by one thread in a fixed order, so the result is
bitwise the same whatever the thread count.
"""
from cython.parallel cimport prange, parallel
cimport cython
from cython cimport floating  # Cython's own fused type: float or double


@cython.boundscheck(False)
@cython.wraparound(False)
def sum_batch_length(const floating[:, :, ::1] x,   # IN  (N, C, L)
                     floating[::1] out,             # OUT (C,)
                     int num_threads):
    cdef Py_ssize_t n_batch = x.shape[0], n_chan = x.shape[1], length = x.shape[2]
    cdef Py_ssize_t c, n, i
    cdef double acc, part
    num_threads = max(1, min(num_threads, n_chan))
    with nogil, parallel(num_threads=num_threads):
        for c in prange(n_chan, schedule="static"):
            acc = 0.0
            for n in range(n_batch):
                part = 0.0
                for i in range(length):
                    part = part + x[n, c, i]
                acc = acc + part
            out[c] = <floating>acc
