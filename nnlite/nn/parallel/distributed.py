"""``DistributedDataParallel``: the gradients of every rank averaged when ``backward`` returns.

The wrapper adds two things to the module's forward: it broadcasts the
buffers from rank 0 first, and it hooks the output so that the backward pass
that starts there queues one callback on the autograd engine
(:func:`nnlite.autograd.engine.queue_callback`).  The callback runs once every
``.grad`` is written and averages them over the ranks, bucket by bucket: each
bucket is one flat array of several parameters' gradients (25 MiB by
default, parameters in reverse registration order, one dtype per bucket) and
one used/unused flag per parameter, reduced with
:func:`nnlite.distributed.collectives.reduce_flat` (in rank order by default).
"""
import contextlib
import time

import numpy

from nnlite._tensor import Tensor
from nnlite.autograd import engine
from nnlite.autograd.grad_mode import is_grad_enabled
from nnlite.nn.modules.module import Module

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Parameters whose gradients travel together, and the flat array they travel in."""

    def __init__(self, params, dtype):
        self.params = params
        self.dtype = dtype
        self.sizes = [p._data.size for p in params]
        # the gradients, then one flag per parameter: 1 where this rank produced a gradient
        self.flat = numpy.empty(sum(self.sizes) + len(params), dtype)


def _buckets(params, cap_bytes):
    """Group ``params`` (already in reduction order) into buckets of one dtype up to ``cap_bytes`` each."""
    open_, done = {}, []
    for p in params:
        dt = p._data.dtype
        cur = open_.setdefault(dt, [])
        if cur and (sum(q._data.nbytes for q in cur) + p._data.nbytes > cap_bytes):
            done.append(_Bucket(cur, dt))
            cur = open_[dt] = []
        cur.append(p)
    done += [_Bucket(ps, dt) for dt, ps in open_.items() if ps]
    return done


def _layout(module):
    return [("parameter", n, tuple(p.shape), str(p.dtype)) for n, p in module.named_parameters()] + \
           [("buffer", n, tuple(b.shape), str(b.dtype)) for n, b in module.named_buffers()]


def _say(entry):
    return "nothing there" if entry is None else f"{entry[0]} '{entry[1]}' of shape {list(entry[2])} {entry[3]}"


def _tensors(obj):
    """The Tensors in a (nested) forward output that a backward can start from."""
    if isinstance(obj, Tensor):
        if obj.requires_grad and obj.grad_fn is not None:
            yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


class DistributedDataParallel(Module):
    """Data parallelism over the ranks of ``nnlite.distributed``: each rank trains a replica on its shard.

    At construction every rank must pass a module with the same parameter and
    buffer names, shapes and dtypes (a difference raises the same RuntimeError
    on every rank, naming the first one); rank 0's parameters and buffers are
    then copied to every rank.  After ``loss.backward()`` each parameter's
    ``.grad`` is the mean over the ranks, added in rank order (bitwise the same
    on every rank; see ``init_process_group(deterministic=...)``).  A parameter
    without a gradient on some rank counts as zero there; one without a
    gradient on every rank keeps ``.grad`` as it was.  Inside :meth:`no_sync`
    gradients accumulate locally, and the next backward outside it averages
    the accumulated ones.  With ``broadcast_buffers`` the buffers (e.g. batch
    norm running statistics) are copied from rank 0 at the start of every
    forward that records a graph.  ``state_dict`` keys start with ``module.``.

    CPU tensors only (``device_ids`` must be None).  ``find_unused_parameters``
    is accepted for compatibility: unused parameters are always handled.

    See PyTorch's ``torch.nn.parallel.DistributedDataParallel``.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=25, find_unused_parameters=False):
        super().__init__()
        from nnlite.distributed import collectives, process_group as pg
        if process_group is not None:
            raise NotImplementedError("nnlite.distributed has one group, the default one: pass process_group=None")
        group = pg._group_or_raise()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel expects an nnlite.nn.Module, but got {type(module).__name__}")
        if device_ids is not None or output_device is not None:
            raise ValueError("DistributedDataParallel device_ids and output_device arguments only work with "
                             "single-device/multiple-device GPU modules; nnlite's DDP is for CPU modules: pass None")
        if dim != 0:
            raise ValueError(f"DistributedDataParallel splits nothing itself; dim must be 0, but got {dim}")
        if bucket_cap_mb is None:
            bucket_cap_mb = 25
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb should be positive, but got {bucket_cap_mb}")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = bucket_cap_mb
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self._group = group
        self._collectives = collectives
        self._verify_same_layout()
        tensors = [p._data for p in module.parameters()] + [b._data for b in module.buffers()]
        arrays = [a if a.flags.c_contiguous else numpy.ascontiguousarray(a) for a in tensors]
        collectives.broadcast_arrays(group, arrays, 0)
        for dst, src in zip(tensors, arrays):
            if dst is not src:
                dst[...] = src
        params = [p for p in module.parameters() if p.requires_grad]
        self._buckets = _buckets(params[::-1], int(bucket_cap_mb * 1024 * 1024))
        self._comm_seconds = 0.0   # time in the buffer broadcasts and gradient reductions (benchmarks/ddp.py)
        self._queued = False

    def _verify_same_layout(self):
        mine = _layout(self.module)
        for p in self.module.parameters():
            if not isinstance(p._data, numpy.ndarray):
                mine = f"parameter on {p.device}: DistributedDataParallel works on CPU modules"
                break
        layouts = self._group.comm.allgather(mine)
        for r, lay in enumerate(layouts):
            if isinstance(lay, str):
                raise RuntimeError(f"DistributedDataParallel: rank {r} has a {lay}")
        ref = layouts[0]
        for r, lay in enumerate(layouts[1:], 1):
            for i in range(max(len(ref), len(lay))):
                a = ref[i] if i < len(ref) else None
                b = lay[i] if i < len(lay) else None
                if a != b:
                    raise RuntimeError(f"DistributedDataParallel: the modules differ across ranks: rank 0 has "
                                       f"{_say(a)}, rank {r} has {_say(b)}")

    def forward(self, *inputs, **kwargs):
        sync = is_grad_enabled() and self.require_backward_grad_sync
        if sync and self.broadcast_buffers:
            bufs = [b._data for b in self.module.buffers()]
            if bufs:
                start = time.perf_counter()
                self._collectives.broadcast_arrays(self._group, bufs, 0)
                self._comm_seconds += time.perf_counter() - start
        out = self.module(*inputs, **kwargs)
        if sync:
            self._queued = False  # a backward that raised may have left it set
            for t in _tensors(out):
                t.register_hook(self._on_output_grad)
        return out

    def _on_output_grad(self, grad):
        if not self._queued:
            self._queued = True
            engine.queue_callback(self._reduce_gradients)

    def _reduce_gradients(self):
        """Average every bucket's gradients over the ranks (the engine calls it at the end of backward)."""
        self._queued = False
        start = time.perf_counter()
        size = self._group.size
        for b in self._buckets:
            flat, lo = b.flat, 0
            for p, n in zip(b.params, b.sizes):
                g = p._grad
                flat[lo:lo + n] = 0 if g is None else g._data.reshape(-1)
                lo += n
            flat[lo:] = [p._grad is not None for p in b.params]
            out = self._collectives.reduce_flat(self._group, flat)
            lo = 0
            used = out[-len(b.params):]
            for p, n, u in zip(b.params, b.sizes, used):
                if u:
                    mean = out[lo:lo + n].reshape(p._data.shape) / size
                    if p._grad is None:
                        p._grad = Tensor._wrap(mean.astype(p._data.dtype, copy=False))
                    else:
                        p._grad._data[...] = mean
                        p._grad._vc[0] += 1
                lo += n
        self._comm_seconds += time.perf_counter() - start

    @contextlib.contextmanager
    def no_sync(self):
        """Within this context backward passes accumulate gradients locally, without communication.

        See PyTorch's ``DistributedDataParallel.no_sync``.
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old
