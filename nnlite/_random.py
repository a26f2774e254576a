"""nnlite's own random generators: one numpy Generator, and CuPy's when the GPU is used.

``manual_seed(s)`` reseeds both, so initialisation, dropout and shuffling are
reproducible without touching numpy's global state.  The numpy Generator is
created on first use (``numpy.random`` costs ~10 ms to import).
"""
import os

import numpy

__all__ = ["manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state"]

_seed = int.from_bytes(os.urandom(8), "little") >> 1
_generator = None
_cupy_seed = None


def _default_generator():
    global _generator
    if _generator is None:
        from numpy.random import PCG64, Generator
        _generator = Generator(PCG64(_seed))
    return _generator


def __getattr__(name):
    # ``_random.default_generator``: the CPU Generator, created on first use
    if name == "default_generator":
        return _default_generator()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def manual_seed(seed):
    """Seed nnlite's random number generators (CPU, and GPU when CuPy is in use).

    >>> import nnlite
    >>> _ = nnlite.manual_seed(0); a = nnlite.rand(3)
    >>> _ = nnlite.manual_seed(0); bool((nnlite.rand(3) == a).all())
    True

    See PyTorch's ``torch.manual_seed``.
    """
    global _seed, _cupy_seed, _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)):
        raise TypeError(f"manual_seed expects an int, but got {type(seed).__name__}")
    seed = int(seed)
    if seed < 0:
        seed %= 2 ** 64
    _seed = seed
    from numpy.random import PCG64, Generator
    _generator = Generator(PCG64(seed))
    from nnlite import _backend
    cp = _backend.cupy_if_loaded()
    _cupy_seed = seed
    if cp is not None:
        cp.random.seed(seed)
    return _generator


def seed():
    """Seed the generators from fresh entropy and return that seed."""
    s = int.from_bytes(os.urandom(8), "little") >> 1
    manual_seed(s)
    return s


def initial_seed():
    """The last seed given to :func:`manual_seed` (or drawn at import)."""
    return _seed


def get_rng_state():
    """The CPU generator's state as a JSON-compatible dict (for checkpoints)."""
    return _default_generator().bit_generator.state


def set_rng_state(state):
    """Restore a state returned by :func:`get_rng_state`."""
    _default_generator().bit_generator.state = state


def _on_cupy_import(cp):
    if _cupy_seed is not None:
        cp.random.seed(_cupy_seed)


def generator_for(xp):
    """The generator to draw from for array module ``xp``."""
    if xp is numpy:
        return _default_generator()
    return xp.random.get_random_state()
