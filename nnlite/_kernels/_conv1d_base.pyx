# cython: language_level=3
"""Conv1d kernels (see conv1d.pxi).  setup.py runs Cython on this file once and compiles the C
once per instruction-set variant, as _conv1d_base, _conv1d_avx2 and _conv1d_avx512."""
include "conv1d.pxi"
