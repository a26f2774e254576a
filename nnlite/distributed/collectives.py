"""Collectives on Tensors over the default group: in place, checked, and by default in rank order.

Every public collective first exchanges a small header (shape, dtype and any
local error) so that ranks that disagree all raise the same RuntimeError
instead of one of them waiting forever or MPI writing past a buffer.  The data
then travels as raw bytes.

The deterministic sum (the default) is a reduce-scatter and an allgather:
``Alltoall`` hands rank ``r`` the ``r``-th chunk of every rank's buffer, rank
``r`` adds those chunks in rank order (``((x0 + x1) + x2) + ...``) and
``Allgather`` returns the reduced chunks to everyone.  It moves the same bytes
as a ring allreduce, ``2 (N - 1) / N`` times the buffer per rank, and every
rank ends with the same bits, equal to adding the ranks' buffers one after
another in one process.
"""
import enum

import numpy

from nnlite._tensor import Tensor
from nnlite.distributed import process_group as _pg

__all__ = ["ReduceOp", "barrier", "broadcast", "all_reduce", "all_gather", "all_gather_object"]


class ReduceOp(enum.Enum):
    """How :func:`all_reduce` combines the ranks' tensors: SUM, AVG (floating only), MAX, MIN.

    >>> from nnlite.distributed import ReduceOp
    >>> ReduceOp.SUM, ReduceOp.AVG.name
    (<ReduceOp.SUM: 'sum'>, 'AVG')

    See PyTorch's ``torch.distributed.ReduceOp``.
    """

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"


_UFUNC = {ReduceOp.SUM: numpy.add, ReduceOp.AVG: numpy.add, ReduceOp.MAX: numpy.maximum,
          ReduceOp.MIN: numpy.minimum}


def _array(tensor, what):
    """The numpy array of ``tensor``, or the reason it cannot take part (returned, not raised)."""
    if not isinstance(tensor, Tensor):
        return None, f"{what} should be an nnlite Tensor, but got {type(tensor).__name__}"
    if not isinstance(tensor._data, numpy.ndarray):
        return None, f"{what} is on {tensor.device}; nnlite.distributed works on CPU tensors"
    return tensor._data, None


def _describe(header):
    shape, dtype, _ = header
    return f"shape {list(shape)} {dtype}"


def _agree(group, name, array, error=None):
    """Exchange (shape, dtype, error) and raise the same RuntimeError on every rank unless all agree."""
    mine = (None, None, error) if array is None else (tuple(array.shape), str(array.dtype), error)
    headers = group.comm.allgather(mine)
    errors = [(r, h[2]) for r, h in enumerate(headers) if h[2] is not None]
    if errors:
        r, text = errors[0]
        raise RuntimeError(f"{name}: rank {r}: {text}")
    for r, h in enumerate(headers[1:], 1):
        if h[:2] != headers[0][:2]:
            raise RuntimeError(f"{name}: the tensors differ across ranks: rank 0 has {_describe(headers[0])}, "
                               f"rank {r} has {_describe(h)}")


def _bytes(a):
    return a.reshape(-1).view(numpy.uint8)


def reduce_flat(group, flat, op=ReduceOp.SUM):
    """``op`` over the ranks of a 1-D contiguous numpy array; returns a new array (no header check).

    AVG divides the sum by the world size once, after the last addition.
    """
    size = group.size
    if size == 1:
        out = flat.copy()
    elif not group.deterministic:
        MPI = _pg._mpi()
        out = numpy.empty_like(flat)
        mpi_op = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN}[op]
        group.comm.Allreduce(flat, out, op=mpi_op)
    else:
        MPI = _pg._mpi()
        n = flat.size
        chunk = -(-n // size)
        send = numpy.zeros(chunk * size, flat.dtype)
        send[:n] = flat
        recv = numpy.empty_like(send)
        group.comm.Alltoall([_bytes(send), MPI.BYTE], [_bytes(recv), MPI.BYTE])
        parts = recv.reshape(size, chunk)
        mine = parts[0].copy()
        ufunc = _UFUNC[op]
        for r in range(1, size):
            ufunc(mine, parts[r], out=mine)
        if op is ReduceOp.AVG:
            mine /= size
        group.comm.Allgather([_bytes(mine), MPI.BYTE], [_bytes(send), MPI.BYTE])
        return send[:n]
    if op is ReduceOp.AVG:
        out /= size
    return out


def broadcast_arrays(group, arrays, src=0):
    """Overwrite ``arrays`` (contiguous numpy arrays, same layout on every rank) with rank ``src``'s, in one message."""
    if group.size == 1 or not arrays:
        return
    MPI = _pg._mpi()
    buf = numpy.concatenate([_bytes(a) for a in arrays])
    group.comm.Bcast([buf, MPI.BYTE], root=src)
    lo = 0
    for a in arrays:
        b = _bytes(a)
        b[...] = buf[lo:lo + b.size]
        lo += b.size


def _bump(tensor):
    tensor._vc[0] += 1


def barrier(group=None):
    """Wait until every rank has called it.  See PyTorch's ``torch.distributed.barrier``."""
    _check_group(group).comm.Barrier()


def _check_group(group):
    if group is not None:
        raise NotImplementedError("nnlite.distributed has one group, the default one: pass group=None")
    return _pg._group_or_raise()


def broadcast(tensor, src=0, group=None, async_op=False):
    """Overwrite ``tensor`` on every rank with rank ``src``'s values, in place.

    See PyTorch's ``torch.distributed.broadcast`` (no ``async_op``).
    """
    g = _check_group(group)
    _no_async(async_op)
    a, err = _array(tensor, "tensor")
    if err is None and not 0 <= src < g.size:
        err = f"Invalid src rank {src}, it should be in the interval [0, {g.size - 1}]"
    _agree(g, "broadcast", a, err)
    buf = a if a.flags.c_contiguous else numpy.ascontiguousarray(a)
    broadcast_arrays(g, [buf], src)
    if buf is not a:
        a[...] = buf
    _bump(tensor)


def _no_async(async_op):
    if async_op:
        raise NotImplementedError("nnlite.distributed collectives are synchronous (async_op=False)")


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` over all ranks with ``op`` and write the result into it on every rank.

    SUM and AVG add in rank order (bitwise identical on every rank and from run
    to run) unless the group was started with ``deterministic=False``; MAX and
    MIN are exact either way.  AVG needs a floating dtype.

    See PyTorch's ``torch.distributed.all_reduce`` (no ``async_op``).
    """
    g = _check_group(group)
    _no_async(async_op)
    a, err = _array(tensor, "tensor")
    if err is None and not isinstance(op, ReduceOp):
        err = f"op should be a ReduceOp, but got {op!r}"
    elif err is None and op is ReduceOp.AVG and a.dtype.kind not in "fc":
        err = f"ReduceOp.AVG needs a floating point tensor, but got {a.dtype}"
    _agree(g, "all_reduce", a, err)
    a[...] = reduce_flat(g, numpy.ascontiguousarray(a).reshape(-1), op).reshape(a.shape)
    _bump(tensor)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list[r]`` (one tensor per rank, each like ``tensor``) with rank ``r``'s ``tensor``.

    See PyTorch's ``torch.distributed.all_gather`` (no ``async_op``).
    """
    g = _check_group(group)
    _no_async(async_op)
    a, err = _array(tensor, "tensor")
    outs = []
    if err is None:
        if not isinstance(tensor_list, list) or len(tensor_list) != g.size:
            n = len(tensor_list) if isinstance(tensor_list, list) else type(tensor_list).__name__
            err = f"tensor_list should be a list of {g.size} tensors (the world size), but got {n}"
        else:
            for i, t in enumerate(tensor_list):
                o, err = _array(t, f"tensor_list[{i}]")
                if err is None and (o.shape != a.shape or o.dtype != a.dtype):
                    err = (f"tensor_list[{i}] has shape {list(o.shape)} {o.dtype}, but the input tensor has "
                           f"shape {list(a.shape)} {a.dtype}")
                if err is not None:
                    break
                outs.append(o)
    _agree(g, "all_gather", a, err)
    if g.size == 1:
        outs[0][...] = a
    else:
        MPI = _pg._mpi()
        recv = numpy.empty((g.size,) + a.shape, a.dtype)
        g.comm.Allgather([_bytes(numpy.ascontiguousarray(a)), MPI.BYTE], [_bytes(recv), MPI.BYTE])
        for o, r in zip(outs, recv):
            o[...] = r
    for t in tensor_list:
        _bump(t)


def all_gather_object(object_list, obj, group=None):
    """Fill ``object_list[r]`` with rank ``r``'s ``obj`` (any picklable object; pickle runs here, not in files).

    See PyTorch's ``torch.distributed.all_gather_object``.
    """
    g = _check_group(group)
    ok = isinstance(object_list, list) and len(object_list) == g.size
    gathered = g.comm.allgather((ok, obj))
    bad = [r for r, (k, _) in enumerate(gathered) if not k]
    if bad:
        raise RuntimeError(f"all_gather_object: rank {bad[0]}: object_list should be a list of {g.size} "
                           f"elements (the world size)")
    object_list[:] = [o for _, o in gathered]
