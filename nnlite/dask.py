"""Exact chunked inference on Dask arrays: ``predict(model, x)`` equals ``model(x.compute())``.

Chunks along the batch run independently.  Along the length each chunk is
extended by the halo that :func:`nnlite.nn.utils.receptive_field` gives, the
model runs on it, and the outputs that the halo made exact are kept.  The
signal's own edges get no halo: the model pads them itself, so edge chunks are
exact too.  Dask is imported inside the functions (``pip install nnlite[dask]``),
so this module imports without it.  See ``docs/dask.md``.
"""
import copy
import sys
import threading
import warnings

import numpy

from nnlite._threads import get_num_threads, set_num_threads
from nnlite.autograd.grad_mode import no_grad
from nnlite.nn.utils.receptive_field import receptive_field

__all__ = ["predict"]


def _dask_array():
    try:
        import dask.array
    except ImportError as e:
        raise ImportError("nnlite.dask needs dask: pip install nnlite[dask]") from e
    return dask.array


# the predict tasks running now in this process: the threads a worker was given are shared among them
_running = [0]
_running_lock = threading.Lock()


def _worker_threads():
    """The thread count of the dask.distributed worker running this task, or None outside one."""
    if "distributed" not in sys.modules:
        return None
    from distributed import get_worker
    try:
        return get_worker().state.nthreads
    except ValueError:
        return None


def _run(net, block, threads):
    """``net(block)`` as a numpy array, in eval mode, without a graph, on this task's share of the threads."""
    total = threads[0] or _worker_threads() or threads[1]
    with _running_lock:
        _running[0] += 1
        share = max(1, total // _running[0])
    old = get_num_threads()
    try:
        set_num_threads(share)
        with no_grad():
            y = net(block)
    finally:
        set_num_threads(old)
        with _running_lock:
            _running[0] -= 1
    return y.detach().numpy()


def _local_block(block, net, table, threads, block_id=None):
    # table[i] = (start of block i's extended slice, first output, end of outputs), all along the length
    start, j0, j1 = table.rows[block_id[-1]]
    if j1 == j0:
        shape = block.shape[:-2] + (table.channels, 0)
        return numpy.empty(shape, table.dtype)
    y = _run(net, block, threads)
    k0 = j0 - start // table.stride
    if y.shape[-1] < k0 + j1 - j0:
        raise RuntimeError(f"nnlite.dask.predict: the model gave {y.shape[-1]} outputs for a chunk of length "
                           f"{block.shape[-1]}, fewer than its receptive field {table.rf} promises")
    return y[..., k0:k0 + j1 - j0]


class _Table:
    """Per chunk along the length, ``rows[i] = (slice start, first output, output end)``; the output's channels,
    dtype and the model's stride and receptive field (a plain object: dask leaves it whole in the graph)."""

    def __init__(self, rows, channels, dtype, stride, rf):
        self.rows, self.channels, self.dtype, self.stride, self.rf = rows, channels, dtype, stride, rf


def _circular(net):
    return next((name for name, m in net.named_modules() if getattr(m, "padding_mode", None) == "circular"), None)


def _probe(net, x, length):
    """The model's output for one zero sample of ``length`` (its shape, dtype and output length)."""
    shape = (1,) * (x.ndim - 2) + (x.shape[-2], length)
    with no_grad():
        return net(numpy.zeros(shape, x.dtype)).detach().numpy()


def _length_chunks(chunks, length, stride, smallest):
    """Chunk lengths along the signal: every boundary a multiple of ``stride``, every chunk >= ``smallest``."""
    bounds, at = [0], 0
    for c in chunks[:-1]:
        at += c
        b = at - at % stride
        if b - bounds[-1] >= smallest and length - b >= smallest:
            bounds.append(b)
    bounds.append(length)
    return tuple(numpy.diff(bounds).tolist())


def predict(model, x, *, num_threads=None):
    """``model(x)`` on a dask array ``x`` of shape (N, C, L) or (C, L), chunk by chunk; a dask array.

    The result equals ``model(x.compute())``: bitwise for nnlite's CPU layers (see
    ``docs/dask.md``).  The model runs as a copy in eval mode under ``no_grad``;
    the caller's model is not changed.  The copy enters the graph once, so each
    worker unpickles it once, not once per chunk.  Chunks along N run
    independently; the channels are merged into one chunk.  When the model is
    local along the length (:func:`nnlite.nn.utils.receptive_field`, and no
    ``padding_mode='circular'``), chunks along L are moved to multiples of the
    model's stride and merged where smaller than ``left + right + stride`` of its
    receptive field, then each is run with that halo and trimmed; output chunk
    ``i`` starts at input boundary ``/ stride``.  Otherwise (a classifier head,
    for example) each sample's whole length is merged into one chunk, with a
    warning when it was split, and the model is mapped over N.

    ``num_threads``: the kernel threads of each task; by default a
    dask.distributed worker's threads (or, elsewhere, ``nnlite.get_num_threads()``
    at the call) shared among the predict tasks running at once in the process.

    >>> import dask.array as da, numpy, nnlite
    >>> from nnlite import nn
    >>> from nnlite.dask import predict
    >>> net = nn.Sequential(nn.Conv1d(2, 4, 5, padding=2), nn.ReLU(), nn.Conv1d(4, 1, 3, stride=2))
    >>> x = numpy.random.default_rng(0).standard_normal((3, 2, 1000)).astype(numpy.float32)
    >>> y = predict(net, da.from_array(x, chunks=(2, 2, 300)))
    >>> y.chunks
    ((2, 1), (1,), (150, 150, 150, 49))
    >>> with nnlite.no_grad():
    ...     bool((y.compute(scheduler="threads") == net(x).numpy()).all())
    True
    """
    da = _dask_array()
    import dask
    if not isinstance(x, da.Array):
        raise TypeError(f"nnlite.dask.predict expects a dask array, but got {type(x).__name__}")
    if x.ndim not in (2, 3):
        raise ValueError(f"nnlite.dask.predict expects a dask array of shape (N, C, L) or (C, L), but got "
                         f"shape {x.shape}")
    if any(numpy.isnan(c) for cs in x.chunks for c in cs):
        raise ValueError("nnlite.dask.predict needs known chunk sizes (call x.compute_chunk_sizes() first)")
    if num_threads is not None and (isinstance(num_threads, bool) or not isinstance(num_threads, int)
                                    or num_threads < 1):
        raise ValueError(f"num_threads must be a positive int or None, but got {num_threads!r}")
    net = copy.deepcopy(model).eval()
    threads = (num_threads, get_num_threads())
    x = x.rechunk({x.ndim - 2: -1})
    length = x.shape[-1]
    try:
        rf, why = receptive_field(net, ndim=x.ndim), None
    except ValueError as e:
        rf, why = None, str(e)
    if rf is not None and _circular(net) is not None:
        rf, why = None, f"layer {_circular(net)!r} pads circularly, so an edge reads the other end"
    handle = dask.delayed(net, pure=False)

    if rf is None:
        if len(x.chunks[-1]) > 1:
            warnings.warn(f"nnlite.dask.predict: the model is not local along the length ({why}); each "
                          f"sample's length of {length} is merged into one chunk", stacklevel=2)
            x = x.rechunk({x.ndim - 1: -1})
        y0 = _probe(net, x, length)
        run = dask.delayed(_run, pure=True)
        meta = numpy.empty((0,) * y0.ndim, y0.dtype)
        if x.ndim == 2:
            return da.from_delayed(run(handle, x, threads), y0.shape, meta=meta)
        parts = [da.from_delayed(run(handle, b, threads), (n,) + y0.shape[1:], meta=meta)
                 for b, n in zip(x.to_delayed().ravel(), x.chunks[0])]
        return da.concatenate(parts, axis=0)

    s = rf.stride
    dl = -(-max(rf.left, 0) // s) * s       # a multiple of the stride keeps every slice on the output grid
    dr = max(rf.right, 0)
    smallest = -(-(dl + dr + s) // s) * s
    x = x.rechunk({x.ndim - 1: _length_chunks(x.chunks[-1], length, s, smallest)})
    # a probe no longer than two chunks, congruent to the length modulo the stride, gives the output length:
    # the layers are shift-equivariant, so L + k * stride gives k more outputs
    p = min(length, 2 * smallest + dl + dr)
    p += (length - p) % s
    y0 = _probe(net, x, p)
    if y0.ndim != x.ndim:
        raise ValueError(f"nnlite.dask.predict: the model turned a {x.ndim}-D input into a {y0.ndim}-D output, "
                         f"but a model local along the length keeps the dimensions")
    out_len = y0.shape[-1] + (length - p) // s
    bounds = numpy.concatenate([[0], numpy.cumsum(x.chunks[-1])]).tolist()
    outs = [0] + [min(b // s, out_len) for b in bounds[1:-1]] + [out_len]
    table = _Table([(max(0, b - dl), outs[i], outs[i + 1]) for i, b in enumerate(bounds[:-1])], y0.shape[-2],
                   y0.dtype, s, rf)
    depth = {i: 0 for i in range(x.ndim)}
    depth[x.ndim - 1] = (dl, dr)
    xo = da.overlap.overlap(x, depth=depth, boundary={i: "none" for i in range(x.ndim)}) if dl or dr else x
    chunks = x.chunks[:-2] + ((y0.shape[-2],), tuple(numpy.diff(outs).tolist()))
    return da.map_blocks(_local_block, xo, handle, table, threads, chunks=chunks, meta=y0[..., :0])
