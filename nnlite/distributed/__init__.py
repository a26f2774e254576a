"""Training across processes over MPI (mpi4py), with PyTorch's ``torch.distributed`` names.

Launch every rank with ``mpiexec -n N python -m mpi4py train.py``; in the
script call :func:`init_process_group` first.  Collectives work in place on a
Tensor's array; sums over ranks are added in rank order, so every rank holds
bitwise the same result.  :class:`nnlite.nn.parallel.DistributedDataParallel`,
:class:`nnlite.nn.SyncBatchNorm` and
:class:`nnlite.utils.data.distributed.DistributedSampler` build on them.
mpi4py is imported only when :func:`is_available` or
:func:`init_process_group` is called.  See ``docs/distributed.md``.

>>> import nnlite.distributed as dist
>>> dist.is_initialized()
False
>>> dist.all_reduce(nnlite.ones(2))
Traceback (most recent call last):
...
RuntimeError: Default process group has not been initialized, please make sure to call init_process_group.
"""
import nnlite  # noqa: F401  (the doctest above uses it)
from nnlite.distributed.process_group import (is_available, init_process_group, is_initialized,  # noqa: F401
                                              get_rank, get_world_size, destroy_process_group, default_threads)
from nnlite.distributed.collectives import (ReduceOp, barrier, broadcast, all_reduce, all_gather,  # noqa: F401
                                            all_gather_object)

__all__ = ["is_available", "init_process_group", "is_initialized", "get_rank", "get_world_size",
           "destroy_process_group", "default_threads", "ReduceOp", "barrier", "broadcast", "all_reduce",
           "all_gather", "all_gather_object"]
