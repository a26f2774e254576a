"""Parallel wrappers of modules: :class:`DistributedDataParallel` over ``nnlite.distributed`` (MPI).

See PyTorch's ``torch.nn.parallel``.
"""
from nnlite.nn.parallel.distributed import DistributedDataParallel  # noqa: F401

__all__ = ["DistributedDataParallel"]
