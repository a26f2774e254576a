"""The number of threads nnlite's kernels use.

One source of truth: the OpenMP runtime's ``omp_get_max_threads()``.  It starts
from ``OMP_NUM_THREADS`` (or the number of cores), is changed by
:func:`set_num_threads`, and is limited temporarily by ``threadpoolctl``.
"""
from nnlite._kernels import _openmp

__all__ = ["get_num_threads", "set_num_threads"]


def get_num_threads():
    """Return the number of threads the CPU kernels run with.

    >>> import nnlite
    >>> nnlite.get_num_threads() >= 1
    True

    See PyTorch's ``torch.get_num_threads``.
    """
    return _openmp.max_threads()


def set_num_threads(n):
    """Set the number of threads the CPU kernels run with (a positive int).

    >>> import nnlite
    >>> old = nnlite.get_num_threads(); nnlite.set_num_threads(1); nnlite.get_num_threads()
    1
    >>> nnlite.set_num_threads(old)

    See PyTorch's ``torch.set_num_threads``.  Results do not depend on it: the
    kernels reduce in a fixed order.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"Expected a positive number of threads, but got {n}")
    _openmp.set_max_threads(n)


# An OpenMP region costs a few microseconds on a quiet machine and up to a scheduler time slice on a busy
# one; a pass over fewer elements than this runs on one thread (PyTorch's intra-op grain is 32768).
GRAIN = 1 << 16


def threads_for(work):
    """Threads for one kernel pass over ``work`` elements: 1 below :data:`GRAIN`, else :func:`get_num_threads`."""
    return 1 if work < GRAIN else _openmp.max_threads()
