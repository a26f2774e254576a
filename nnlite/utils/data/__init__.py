"""Datasets, samplers and the ``DataLoader`` that turns them into batches of Tensors.

>>> import numpy, nnlite
>>> from nnlite.utils.data import TensorDataset, DataLoader
>>> X = numpy.zeros((10, 1, 16), dtype=numpy.float32); y = numpy.arange(10)
>>> loader = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True)
>>> [tuple(xb.shape) for xb, yb in loader]
[(4, 1, 16), (4, 1, 16), (2, 1, 16)]

Batches of a :class:`TensorDataset` are gathered with one numpy fancy-index
per field, not a Python loop over samples.  Shuffling draws from nnlite's own
generator, so ``nnlite.manual_seed(s)`` makes every epoch repeatable.  With
``num_workers > 0`` batches are made in worker processes (``_worker.py``).
See PyTorch's ``torch.utils.data``.
"""
import bisect
import collections.abc
import numbers

import numpy

from nnlite import _backend, _random
from nnlite._tensor import Tensor, as_tensor, stack, tensor

__all__ = ["Dataset", "TensorDataset", "ConcatDataset", "Sampler", "SequentialSampler", "RandomSampler",
           "DataLoader", "default_collate", "default_convert", "get_worker_info", "WorkerInfo", "Subset",
           "random_split"]


class Dataset:
    """A map-style data set: subclasses define ``__getitem__(i)`` and ``__len__()``.

    >>> from nnlite.utils.data import Dataset
    >>> class Squares(Dataset):
    ...     def __len__(self): return 5
    ...     def __getitem__(self, i): return i * i
    >>> len(Squares() + Squares()), (Squares() + Squares())[6]
    (10, 1)

    See PyTorch's ``torch.utils.data.Dataset``.
    """

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __len__(self):
        raise NotImplementedError("Subclasses of Dataset should implement __len__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples ``i`` of several arrays at once: ``dataset[i] == (t[i] for t in tensors)``.

    Accepts nnlite Tensors and numpy (or CuPy) arrays; arrays are wrapped as
    Tensors without a copy.  All must have the same size in dimension 0.

    >>> import numpy
    >>> from nnlite.utils.data import TensorDataset
    >>> ds = TensorDataset(numpy.ones((3, 2)), numpy.array([7, 8, 9]))
    >>> x, y = ds[1]
    >>> len(ds), x.tolist(), y.item()
    (3, [1.0, 1.0], 8)

    See PyTorch's ``torch.utils.data.TensorDataset`` (which raises an
    ``AssertionError`` with the same text where this raises ``ValueError``).
    """

    def __init__(self, *tensors):
        tensors = tuple(t if isinstance(t, Tensor) else as_tensor(t) for t in tensors)
        if any(t.ndim == 0 or t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise ValueError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0] if self.tensors else 0

    def _gather(self, indices):
        """One batch: each field indexed once with the whole index array (numpy/CuPy fancy-indexing)."""
        out = []
        for t in self.tensors:
            if t.requires_grad:  # keep the graph, as PyTorch's stack of t[i] would
                out.append(t[indices])
            else:
                xp = _backend.get_array_module(t._data)
                out.append(Tensor(t._data[xp.asarray(indices)]))
        return tuple(out)


class ConcatDataset(Dataset):
    """Several data sets one after another (``a + b`` builds one).

    >>> from nnlite.utils.data import ConcatDataset
    >>> ds = ConcatDataset([[1, 2], [3, 4, 5]])
    >>> len(ds), ds[2], ds[-1]
    (5, 3, 5)

    See PyTorch's ``torch.utils.data.ConcatDataset``.
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        self.cumulative_sizes = numpy.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        if k == len(self.datasets):
            raise IndexError(f"index {idx} is out of range for a dataset of length {len(self)}")
        return self.datasets[k][idx - (self.cumulative_sizes[k - 1] if k else 0)]


class Sampler:
    """Yields data set indices; subclasses define ``__iter__`` (and ``__len__`` when known).

    >>> from nnlite.utils.data import DataLoader, Sampler
    >>> class Reversed(Sampler):
    ...     def __init__(self, n): self.n = n
    ...     def __iter__(self): return iter(range(self.n - 1, -1, -1))
    ...     def __len__(self): return self.n
    >>> [b.tolist() for b in DataLoader(list(range(5)), batch_size=2, sampler=Reversed(5))]
    [[4, 3], [2, 1], [0]]

    See PyTorch's ``torch.utils.data.Sampler``.
    """

    def __iter__(self):
        raise NotImplementedError

    def _indices(self):
        """All indices of one pass as an int array (samplers that can, skip the Python iterator)."""
        return numpy.fromiter(iter(self), dtype=numpy.intp)


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1``.

    >>> from nnlite.utils.data import SequentialSampler
    >>> list(SequentialSampler(range(3)))
    [0, 1, 2]
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __len__(self):
        return len(self.data_source)

    def _indices(self):
        return numpy.arange(len(self.data_source), dtype=numpy.intp)

    def __iter__(self):
        return iter(range(len(self.data_source)))


class RandomSampler(Sampler):
    """A random permutation of ``range(len(data_source))``, new at every pass.

    Without ``generator`` (a ``numpy.random.Generator``) each pass draws a seed
    from nnlite's generator (``nnlite.manual_seed`` makes passes repeatable)
    and permutes with a fresh Generator, as PyTorch does with ``torch.Generator``.

    >>> import nnlite
    >>> from nnlite.utils.data import RandomSampler
    >>> _ = nnlite.manual_seed(0); a = list(RandomSampler(range(5)))
    >>> _ = nnlite.manual_seed(0); a == list(RandomSampler(range(5))), sorted(a)
    (True, [0, 1, 2, 3, 4])

    See PyTorch's ``torch.utils.data.RandomSampler`` (without replacement).
    """

    def __init__(self, data_source, generator=None):
        if generator is not None and not isinstance(generator, numpy.random.Generator):
            raise TypeError(f"generator should be a numpy.random.Generator, but got {type(generator).__name__}")
        self.data_source = data_source
        self.generator = generator

    def __len__(self):
        return len(self.data_source)

    def _indices(self):
        rng = self.generator
        if rng is None:
            rng = numpy.random.default_rng(int(_random.default_generator.integers(2 ** 63)))
        return rng.permutation(len(self.data_source)).astype(numpy.intp, copy=False)

    def __iter__(self):
        return iter(self._indices().tolist())


class DataLoader:
    """Iterate over a data set in batches of ``batch_size`` samples.

    * ``shuffle=True`` uses a :class:`RandomSampler` (new order every epoch);
      ``sampler`` (any iterable of indices) replaces it and excludes ``shuffle``;
      ``batch_sampler`` (an iterable of lists of indices) replaces both and
      ``batch_size``/``drop_last``.
    * ``drop_last=True`` drops a last, smaller batch.
    * ``collate_fn`` turns a list of samples into a batch (default:
      :func:`default_collate`); ``batch_size=None`` yields single samples passed
      through :func:`default_convert` (or ``collate_fn``).
    * ``num_workers > 0`` loads batches in that many worker processes (see
      :mod:`nnlite.utils.data._worker`): per-worker seeds ``base_seed + id``,
      :func:`get_worker_info`, ``worker_init_fn(worker_id)``, results in order,
      a worker's exception re-raised here with its traceback, ``prefetch_factor``
      batches in flight per worker (default 2), ``timeout`` seconds per batch,
      ``persistent_workers`` to keep the processes between epochs,
      ``multiprocessing_context`` ('fork', 'spawn', 'forkserver' or a context).
    * ``pin_memory`` and ``pin_memory_device`` are accepted and do nothing (CPU arrays
      are not pinned; GPU batches come from a data set that already holds CuPy arrays).
    * A :class:`TensorDataset` with the default ``collate_fn`` takes a fast
      path: each field is gathered with one fancy-index of the batch indices,
      and the batch is a tuple of Tensors wrapping the gathered arrays.

    >>> import numpy
    >>> from nnlite.utils.data import DataLoader
    >>> batches = list(DataLoader([{"x": numpy.ones(2), "y": k} for k in range(5)], batch_size=2, drop_last=True))
    >>> len(batches), batches[0]["x"].shape, batches[1]["y"].tolist()
    (2, nnlite.Size([2, 2]), [2, 3])

    See PyTorch's ``torch.utils.data.DataLoader`` (same arguments in the same order).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
                                       or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                                 "drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.collate_fn = collate_fn
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._iterator = None

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        if self.num_workers == 0:
            fetch = self._fetcher()
            return (fetch(indices) for indices in self._index_batches())
        from nnlite.utils.data._worker import MultiProcessingIter
        if not self.persistent_workers:
            return MultiProcessingIter(self)
        if self._iterator is None:
            self._iterator = MultiProcessingIter(self)
        else:
            self._iterator._reset(self)
        return self._iterator

    def _index_batches(self):
        """The work of one epoch: an int array of indices per batch (single indices without auto-batching)."""
        if self.batch_sampler is not None:
            for batch in self.batch_sampler:
                yield numpy.asarray(batch, dtype=numpy.intp)
            return
        if self.batch_size is None:
            yield from iter(self.sampler)
            return
        indices = self.sampler._indices() if isinstance(self.sampler, Sampler) else \
            numpy.fromiter(iter(self.sampler), dtype=numpy.intp)
        bs = self.batch_size
        stop = len(indices) - len(indices) % bs if self.drop_last else len(indices)
        for lo in range(0, stop, bs):
            yield indices[lo:lo + bs]

    def _fetcher(self):
        fast = self.collate_fn is None and isinstance(self.dataset, TensorDataset) and \
            type(self.dataset).__getitem__ is TensorDataset.__getitem__
        auto = self.batch_size is not None or self.batch_sampler is not None
        return _Fetcher(self.dataset, auto, self.collate_fn, fast)

    def _base_seed(self):
        """The seed workers start from (``base_seed + worker_id``), drawn from the loader's generator."""
        rng = self.generator if self.generator is not None else _random.default_generator
        return int(rng.integers(2 ** 63))


class _Fetcher:
    """Turns one entry of ``DataLoader._index_batches`` into a batch (in the main process or a worker)."""

    def __init__(self, dataset, auto_collation, collate_fn, fast):
        self.dataset, self.auto_collation, self.collate_fn, self.fast = dataset, auto_collation, collate_fn, fast

    def __call__(self, indices):
        if not self.auto_collation:
            return (self.collate_fn or default_convert)(self.dataset[indices])
        if self.fast:
            return self.dataset._gather(indices)
        return (self.collate_fn or default_collate)([self.dataset[i] for i in indices.tolist()])


_COLLATE_ERR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def default_collate(batch):
    """Stack a list of samples into a batch, field by field.

    Tensors and numpy arrays are stacked along a new dimension 0; Python ints
    become an int64 Tensor, floats a float64 Tensor, bools a bool Tensor;
    strings stay a list; tuples give tuples, lists lists, dicts dicts (same
    keys), each field collated in turn.

    >>> import numpy
    >>> from nnlite.utils.data import default_collate
    >>> xb, yb = default_collate([(numpy.zeros(3), 1), (numpy.ones(3), 0)])
    >>> xb.shape, yb.dtype
    (nnlite.Size([2, 3]), dtype('int64'))

    See PyTorch's ``torch.utils.data.default_collate`` (which returns a list
    for a batch of tuples; nnlite keeps the tuple).
    """
    elem = batch[0]
    if isinstance(elem, Tensor) or isinstance(elem, numpy.ndarray) or _backend.is_cupy_array(elem):
        return _stack(batch)
    if isinstance(elem, numpy.generic):
        if elem.dtype.kind in "OSUV":
            raise TypeError(_COLLATE_ERR.format(elem.dtype))
        return as_tensor(numpy.array(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype="float64")
    if isinstance(elem, numbers.Integral):  # bool too: tensor() makes a bool tensor of bools
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(s) != len(elem) for s in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [default_collate(list(s)) for s in zip(*batch)]
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(_COLLATE_ERR.format(type(elem)))


def default_convert(data):
    """Turn the arrays in one sample into Tensors (no stacking): the ``batch_size=None`` collate.

    >>> import numpy
    >>> from nnlite.utils.data import default_convert
    >>> default_convert({"x": numpy.zeros(2), "n": 3})["x"].shape
    nnlite.Size([2])

    See PyTorch's ``torch.utils.data.default_convert``.
    """
    if isinstance(data, numpy.ndarray) and data.dtype.kind not in "OSUV":
        return as_tensor(data)
    if _backend.is_cupy_array(data):
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        fields = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(fields)
        except TypeError:
            return fields
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(d) for d in data)
    return data


def _stack(items):
    """Stack Tensors/arrays along a new dim 0: one raw ``xp.stack`` unless a gradient must flow."""
    if any(isinstance(t, Tensor) and t.requires_grad for t in items):
        return stack(items)
    arrays = [t._data if isinstance(t, Tensor) else t for t in items]
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                               f"and {list(a.shape)} at entry {i}")
    if arrays[0].dtype.kind in "OSUV":
        raise TypeError(_COLLATE_ERR.format(arrays[0].dtype))
    xp = _backend.get_array_module(*arrays)
    return Tensor(xp.stack(arrays))


from nnlite.utils.data._worker_info import WorkerInfo, get_worker_info  # noqa: E402
from nnlite.utils.data._split import Subset, random_split  # noqa: E402
