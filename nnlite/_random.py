"""nnlite's own random generators: one numpy Generator, and CuPy's when the GPU is used.

``manual_seed(s)`` reseeds both, so initialisation, dropout and shuffling are
reproducible without touching numpy's global state.
"""
import numpy

__all__ = ["manual_seed", "seed", "initial_seed", "default_generator", "get_rng_state", "set_rng_state"]

_seed = int(numpy.random.SeedSequence().entropy % (2 ** 63))
default_generator = numpy.random.Generator(numpy.random.PCG64(_seed))
_cupy_seed = None


def manual_seed(seed):
    """Seed nnlite's random number generators (CPU, and GPU when CuPy is in use).

    >>> import nnlite
    >>> _ = nnlite.manual_seed(0); a = nnlite.rand(3)
    >>> _ = nnlite.manual_seed(0); bool((nnlite.rand(3) == a).all())
    True

    See PyTorch's ``torch.manual_seed``.
    """
    global _seed, _cupy_seed
    if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)):
        raise TypeError(f"manual_seed expects an int, but got {type(seed).__name__}")
    seed = int(seed)
    if seed < 0:
        seed %= 2 ** 64
    _seed = seed
    default_generator.bit_generator.state = numpy.random.PCG64(seed).state
    from nnlite import _backend
    cp = _backend.cupy_if_loaded()
    _cupy_seed = seed
    if cp is not None:
        cp.random.seed(seed)
    return default_generator


def seed():
    """Seed the generators from fresh entropy and return that seed."""
    s = int(numpy.random.SeedSequence().entropy % (2 ** 63))
    manual_seed(s)
    return s


def initial_seed():
    """The last seed given to :func:`manual_seed` (or drawn at import)."""
    return _seed


def get_rng_state():
    """The CPU generator's state as a JSON-compatible dict (for checkpoints)."""
    return default_generator.bit_generator.state


def set_rng_state(state):
    """Restore a state returned by :func:`get_rng_state`."""
    default_generator.bit_generator.state = state


def _on_cupy_import(cp):
    if _cupy_seed is not None:
        cp.random.seed(_cupy_seed)


def generator_for(xp):
    """The generator to draw from for array module ``xp``."""
    if xp is numpy:
        return default_generator
    return xp.random.get_random_state()
