"""``use_deterministic_algorithms``: PyTorch's switch, recorded (nnlite's kernels are always deterministic).

>>> import nnlite
>>> nnlite.use_deterministic_algorithms(True)
>>> nnlite.are_deterministic_algorithms_enabled()
True
>>> nnlite.use_deterministic_algorithms(False)
"""
__all__ = ["use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled"]

_mode = False
_warn_only = False


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Record the request for deterministic algorithms; every nnlite kernel already gives bitwise the same
    result for the same input whatever the thread count.  See PyTorch's ``torch.use_deterministic_algorithms``."""
    global _mode, _warn_only
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms expects a bool, but got {type(mode).__name__}")
    _mode, _warn_only = mode, bool(warn_only)


def are_deterministic_algorithms_enabled():
    """The mode last given to :func:`use_deterministic_algorithms`."""
    return _mode


def is_deterministic_algorithms_warn_only_enabled():
    """The ``warn_only`` last given to :func:`use_deterministic_algorithms`."""
    return _warn_only
