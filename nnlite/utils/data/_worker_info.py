"""``get_worker_info`` and ``WorkerInfo``: what a DataLoader worker knows about itself.

Kept apart from the worker loop (``_worker.py``) so that ``import nnlite`` does not load
``multiprocessing``; the loop sets ``current`` in each worker process.
"""
__all__ = ["WorkerInfo", "get_worker_info"]

current = None   # set by the worker loop in a worker process


class WorkerInfo:
    """What a worker process knows about itself: ``id``, ``num_workers``, ``seed``, ``dataset`` (read-only).

    See PyTorch's ``torch.utils.data.get_worker_info``.
    """

    __initialized = False

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        return super().__setattr__(key, val)

    def __repr__(self):
        items = ", ".join(f"{k}={getattr(self, k)}" for k in self.__keys)
        return f"{self.__class__.__name__}({items})"


def get_worker_info():
    """In a DataLoader worker, its :class:`WorkerInfo`; in the main process, None.

    >>> from nnlite.utils.data import get_worker_info
    >>> get_worker_info() is None
    True

    See PyTorch's ``torch.utils.data.get_worker_info``.
    """
    return current
