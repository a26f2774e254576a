"""``nnlite.backends.cudnn``: PyTorch's cuDNN flags, kept so that scripts can set them (nnlite has no cuDNN).

``enabled``, ``benchmark``, ``deterministic`` and ``allow_tf32`` are plain
module attributes; nnlite's GPU and CPU kernels are deterministic whatever they
say.  ``is_available()`` is False and ``version()`` is None.

>>> import nnlite.backends.cudnn as cudnn
>>> cudnn.benchmark = True; cudnn.benchmark
True
>>> cudnn.benchmark = False

See PyTorch's ``torch.backends.cudnn``.
"""
__all__ = ["is_available", "version", "enabled", "benchmark", "deterministic", "allow_tf32"]

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    """False: nnlite does not use cuDNN."""
    return False


def version():
    """None: no cuDNN library is loaded."""
    return None
