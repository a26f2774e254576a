"""``nnlite.Generator``: PyTorch's ``torch.Generator`` for the CPU, on numpy's ``Generator``.

A module of its own because it subclasses ``numpy.random.Generator``: ``import nnlite`` does not load
``numpy.random``; ``nnlite.Generator`` imports this module on first use.
"""
import os

import numpy
import numpy.random

__all__ = ["Generator"]


class Generator(numpy.random.Generator):
    """PyTorch's ``torch.Generator`` for the CPU: a seedable numpy ``Generator`` (PCG64) that nnlite's samplers,
    ``random_split``, ``DataLoader(generator=)`` and the random creators accept.

    >>> import nnlite
    >>> g = nnlite.Generator().manual_seed(42)
    >>> a = nnlite.utils.data.random_split(range(6), [3, 3], generator=g)[0].indices
    >>> b = nnlite.utils.data.random_split(range(6), [3, 3], generator=nnlite.Generator().manual_seed(42))[0].indices
    >>> a == b, g.initial_seed()
    (True, 42)

    See PyTorch's ``torch.Generator``.
    """

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise RuntimeError(f"nnlite.Generator is a CPU generator; got device {device!r} (CuPy's generator "
                               "serves the GPU, seeded by nnlite.manual_seed)")
        self._initial_seed = int.from_bytes(os.urandom(8), "little") >> 1
        super().__init__(numpy.random.PCG64(self._initial_seed))
        self.device = device

    def manual_seed(self, seed):
        """Reseed and return ``self`` (so ``Generator().manual_seed(s)`` can be passed on)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)):
            raise TypeError(f"manual_seed expects an int, but got {type(seed).__name__}")
        seed = int(seed) % 2 ** 64
        self.bit_generator.state = numpy.random.PCG64(seed).state
        self._initial_seed = seed
        return self

    def seed(self):
        """Reseed from fresh entropy and return the seed."""
        s = int.from_bytes(os.urandom(8), "little") >> 1
        self.manual_seed(s)
        return s

    def initial_seed(self):
        """The seed last set."""
        return self._initial_seed

    def get_state(self):
        """The generator's state (a dict; see ``torch.Generator.get_state``)."""
        return self.bit_generator.state

    def set_state(self, state):
        """Restore a state returned by :meth:`get_state`."""
        self.bit_generator.state = state
