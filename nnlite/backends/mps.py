"""``nnlite.backends.mps``: Apple's Metal backend, which nnlite does not have.

>>> import nnlite
>>> nnlite.backends.mps.is_available(), nnlite.backends.mps.is_built()
(False, False)

See PyTorch's ``torch.backends.mps``.
"""
__all__ = ["is_available", "is_built"]


def is_available():
    """False: nnlite runs on CPUs (numpy) and CUDA GPUs (CuPy) only."""
    return False


def is_built():
    """False: nnlite has no Metal support."""
    return False
