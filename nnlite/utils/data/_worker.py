"""DataLoader worker processes: the worker loop, ``get_worker_info`` and the main-process iterator.

Each of ``num_workers`` processes (``multiprocessing``'s default start method,
or the loader's ``multiprocessing_context``) owns an index queue; all share one
result queue.  The main process sends batches of indices round-robin, keeping
``prefetch_factor * num_workers`` in flight, and yields results in sampler
order.  A worker seeds ``random``, numpy's global generator and nnlite's
generator from ``base_seed + worker_id`` and runs nnlite's kernels on one
thread (OpenMP is not fork-safe; PyTorch's workers do the same).  An exception
in a worker is re-raised in the main process with the worker's traceback in the
message.  Workers stop when the epoch ends (unless ``persistent_workers``), when
the iterator is garbage-collected, or when they see their parent has gone.

See PyTorch's ``torch.utils.data.DataLoader`` ("Multi-process data loading").
"""
import itertools
import multiprocessing
import os
import pickle
import queue
import random
import sys
import time
import traceback

import numpy

from multiprocessing.reduction import ForkingPickler

from nnlite.utils.data import _worker_info
from nnlite.utils.data._worker_info import WorkerInfo

_POLL = 0.2           # seconds between checks for a dead worker or a dead parent
_JOIN_TIMEOUT = 5.0   # seconds a worker gets to stop before it is terminated

class KeyErrorMessage(str):
    """A KeyError's message shown as is (KeyError's str() would quote it, hiding the newlines)."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception caught in a worker, with its traceback as text, re-raised in the main process."""

    def __init__(self, exc_info, where):
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:  # an exception class whose constructor wants other arguments
            raise RuntimeError(msg) from None
        raise exc


def _dumps(obj):
    return bytes(ForkingPickler.dumps(obj))


def _seed_worker(seed, base_seed, worker_id):
    from nnlite import _random
    random.seed(seed)
    _random.manual_seed(seed)
    numpy.random.seed(numpy.random.SeedSequence([worker_id, base_seed]).generate_state(4))


def _worker_loop(fetch, dataset, index_queue, result_queue, done_event, worker_id, num_workers, base_seed, init_fn,
                 parent_pid):
    from nnlite._threads import set_num_threads
    where = f"in DataLoader worker process {worker_id}"
    try:
        set_num_threads(1)
        seed = base_seed + worker_id
        _seed_worker(seed, base_seed, worker_id)
        _worker_info.current = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        init_error = None
        if init_fn is not None:
            try:
                init_fn(worker_id)
            except Exception:
                init_error = ExceptionWrapper(sys.exc_info(), where)
        while True:
            try:
                task = index_queue.get(timeout=_POLL)
            except queue.Empty:
                # told to stop (a None can be lost when the iterator dies in a garbage-collected cycle),
                # or the main process died without telling us
                if done_event.is_set() or os.getppid() != parent_pid:
                    break
                continue
            if task is None or done_event.is_set():
                break
            epoch, idx, indices = task
            if init_error is not None:
                payload = _dumps(init_error)
            else:
                try:  # pickled here, so that an unpicklable batch is reported like any other error
                    payload = _dumps(fetch(indices))
                except Exception:
                    payload = _dumps(ExceptionWrapper(sys.exc_info(), where))
            result_queue.put((epoch, idx, payload))
    except KeyboardInterrupt:
        pass
    result_queue.cancel_join_thread()  # never block at exit on results nobody will read


class MultiProcessingIter:
    """The iterator of a DataLoader with ``num_workers > 0`` (reused across epochs with ``persistent_workers``)."""

    def __init__(self, loader):
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = multiprocessing.get_context()
        elif isinstance(ctx, str):
            ctx = multiprocessing.get_context(ctx)
        self._num_workers = loader.num_workers
        self._prefetch = max(1, loader.prefetch_factor * loader.num_workers)
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self._epoch = 0
        self._shutdown = True
        self._result_queue = ctx.Queue()
        self._done_event = ctx.Event()
        self._index_queues, self._workers = [], []
        base_seed = loader._base_seed()
        fetch = loader._fetcher()
        self._shutdown = False
        try:
            for i in range(self._num_workers):
                iq = ctx.Queue()
                w = ctx.Process(target=_worker_loop, daemon=True,
                                args=(fetch, loader.dataset, iq, self._result_queue, self._done_event, i,
                                      self._num_workers, base_seed, loader.worker_init_fn, os.getpid()))
                w.start()
                self._index_queues.append(iq)
                self._workers.append(w)
        except BaseException:
            self._shutdown_workers()
            raise
        self._reset(loader)

    def _reset(self, loader):
        self._epoch += 1  # results of an unfinished earlier epoch are recognised and dropped
        self._tasks = loader._index_batches()
        self._length = len(loader)
        self._send_idx = self._rcvd_idx = 0
        self._cache = {}
        self._next_worker = itertools.cycle(range(self._num_workers))
        for _ in range(self._prefetch):
            self._put_task()

    def _put_task(self):
        indices = next(self._tasks, None)
        if indices is None:
            return
        self._index_queues[next(self._next_worker)].put((self._epoch, self._send_idx, indices))
        self._send_idx += 1

    def __iter__(self):
        return self

    def __len__(self):
        return self._length

    def __next__(self):
        while True:
            if self._rcvd_idx in self._cache:
                data = self._cache.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                self._put_task()
                if isinstance(data, ExceptionWrapper):
                    data.reraise()
                return data
            if self._shutdown or self._rcvd_idx >= self._send_idx:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            epoch, idx, payload = self._get()
            if epoch == self._epoch:
                self._cache[idx] = pickle.loads(payload)

    def _get(self):
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = _POLL if deadline is None else max(0.0, min(_POLL, deadline - time.monotonic()))
            try:
                return self._result_queue.get(timeout=wait)
            except queue.Empty:
                dead = [w.pid for w in self._workers if not w.is_alive()]
                if dead:
                    self._shutdown_workers()
                    raise RuntimeError(f"DataLoader worker (pid(s) {', '.join(map(str, dead))}) exited "
                                       "unexpectedly") from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds") from None

    def _shutdown_workers(self):
        """Tell every worker to stop, wait for it (terminate it after a grace period), close the queues."""
        if self._shutdown:
            return
        self._shutdown = True
        self._done_event.set()
        for iq in self._index_queues:
            try:
                iq.put(None)
            except (OSError, ValueError):
                pass
        for w in self._workers:
            w.join(_JOIN_TIMEOUT)
            if w.is_alive():
                w.terminate()
                w.join()
        for q in self._index_queues + [self._result_queue]:
            q.cancel_join_thread()
            q.close()

    def __del__(self):
        self._shutdown_workers()
