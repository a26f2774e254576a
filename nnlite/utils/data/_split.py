"""``Subset`` and ``random_split`` (see PyTorch's ``torch.utils.data.Subset`` and ``random_split``)."""
import math
import warnings

import numpy

from nnlite import _random

__all__ = ["Subset", "random_split"]


class Subset:
    """The samples of ``dataset`` at ``indices``, in that order.

    >>> from nnlite.utils.data import Subset
    >>> s = Subset([10, 11, 12, 13], [3, 0])
    >>> len(s), s[0], s[1]
    (2, 13, 10)

    See PyTorch's ``torch.utils.data.Subset``.
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)

    def __add__(self, other):
        from nnlite.utils.data import ConcatDataset
        return ConcatDataset([self, other])


def _lengths_from_fractions(n, fractions):
    lengths = []
    for i, frac in enumerate(fractions):
        if frac < 0 or frac > 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        lengths.append(int(math.floor(n * frac)))
    for i in range(n - sum(lengths)):  # the remainder, one each, round-robin from the first split
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.", stacklevel=3)
    return lengths


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given ``lengths``.

    ``lengths`` are counts that sum to ``len(dataset)``, or fractions that sum
    to 1 (each split gets ``floor(n * fraction)``, and the remainder is dealt
    out one by one from the first split, as PyTorch does).  The permutation
    comes from ``generator`` (a ``numpy.random.Generator``) or nnlite's
    generator (``nnlite.manual_seed`` makes it repeatable).

    >>> import nnlite
    >>> from nnlite.utils.data import random_split
    >>> _ = nnlite.manual_seed(0)
    >>> [len(s) for s in random_split(range(10), [0.7, 0.2, 0.1])]
    [7, 2, 1]

    See PyTorch's ``torch.utils.data.random_split``.
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _lengths_from_fractions(n, lengths)
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    rng = generator if generator is not None else _random.default_generator
    indices = rng.permutation(n).tolist()
    offsets = numpy.cumsum(lengths).tolist()
    return [Subset(dataset, indices[end - length:end]) for end, length in zip(offsets, lengths)]
