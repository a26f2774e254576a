# cython: language_level=3
"""Conv1d kernels built for the avx2 instruction set (see conv1d.pxi)."""
include "conv1d.pxi"
