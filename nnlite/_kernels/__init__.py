"""Compiled kernels: Cython loops with OpenMP for the CPU, CUDA sources for CuPy."""
