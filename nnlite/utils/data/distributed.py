"""``DistributedSampler``: each rank's share of a data set (see PyTorch's
``torch.utils.data.distributed.DistributedSampler``)."""
import math

import numpy

from nnlite.utils.data import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """The indices of rank ``rank`` among ``num_replicas``: every ``num_replicas``-th index from ``rank`` on.

    Every rank gets ``num_samples`` indices.  Without ``drop_last`` the index
    list is padded with its own first indices up to a multiple of
    ``num_replicas`` (some samples appear twice in an epoch); with
    ``drop_last`` its tail is dropped to the largest multiple instead.  With
    ``shuffle`` the list is a permutation drawn from a numpy Generator seeded
    with ``seed + epoch``: every rank must use the same ``seed`` and call
    :meth:`set_epoch` with the same epoch before each pass.
    ``num_replicas`` and ``rank`` default to those of ``nnlite.distributed``.

    >>> from nnlite.utils.data.distributed import DistributedSampler
    >>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False)) for r in (0, 1)]
    [[0, 2, 4], [1, 3, 0]]
    >>> [list(DistributedSampler(range(5), 2, r, shuffle=False, drop_last=True)) for r in (0, 1)]
    [[0, 2], [1, 3]]

    See PyTorch's ``torch.utils.data.distributed.DistributedSampler`` (same
    split, padding and ``drop_last`` rules; the shuffled order comes from numpy).
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from nnlite import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("Requires distributed package to be available")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def _indices(self):
        n = len(self.dataset)
        if self.shuffle:
            order = numpy.random.default_rng(self.seed + self.epoch).permutation(n).astype(numpy.intp, copy=False)
        else:
            order = numpy.arange(n, dtype=numpy.intp)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:
            order = numpy.resize(order, self.total_size)   # repeats the list from its start
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(self._indices().tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Set the epoch, which seeds the shuffle: call it before each epoch's pass, on every rank."""
        self.epoch = epoch
