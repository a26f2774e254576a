"""Compiled kernels: Cython loops with OpenMP for the CPU, CUDA sources for CuPy."""

import numpy as _np

_FLOATS = (_np.dtype(_np.float32), _np.dtype(_np.float64))


def cpu_floats(*arrays):
    """True when the CPU kernels can take ``arrays`` as they are: C-contiguous numpy arrays of
    one dtype, float32 or float64 (``None`` entries are skipped)."""
    dt = arrays[0].dtype
    if dt not in _FLOATS:
        return False
    for a in arrays:
        if a is not None and (type(a) is not _np.ndarray or a.dtype != dt or not a.flags.c_contiguous):
            return False
    return True
