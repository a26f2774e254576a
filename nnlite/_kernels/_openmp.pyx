"""What the OpenMP runtime nnlite was built with reports."""

cdef extern from "omp_compat.h" nogil:
    int NNLITE_HAVE_OPENMP
    int omp_get_max_threads()


def have_openmp():
    """True when the kernels were compiled with OpenMP."""
    return bool(NNLITE_HAVE_OPENMP)


def max_threads():
    """``omp_get_max_threads()``: follows OMP_NUM_THREADS and threadpoolctl's limits."""
    return omp_get_max_threads()


cdef extern from "omp_compat.h" nogil:
    void omp_set_num_threads(int)


def set_max_threads(int n):
    """``omp_set_num_threads(n)`` (ignored without OpenMP)."""
    if NNLITE_HAVE_OPENMP:
        omp_set_num_threads(n)
