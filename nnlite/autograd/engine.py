"""Reverse-mode differentiation over the graph of :class:`BackwardNode` objects.

Nodes run in reverse creation order once every consumer has passed its
gradient down (a topological order); gradients reaching one node output or one
leaf are summed before use; leaves receive their total in ``.grad``.  Callbacks
queued with :func:`queue_callback` while a backward runs are called, in order,
once it has filled every ``.grad`` (DistributedDataParallel reduces there).
"""
import heapq
import sys
import threading

import numpy

from nnlite import _backend
from nnlite.autograd import function, grad_mode

__all__ = ["run_backward", "grad", "queue_callback"]

_local = threading.local()   # .callbacks: the list of the backward now running in this thread, else None


def queue_callback(callback):
    """Call ``callback()`` when the backward pass now running has finished (it must be running).

    Callbacks run in the order they were queued, with gradient mode off, after
    every leaf's ``.grad`` is written; one queued during a nested backward runs
    at the end of the outermost one.  See PyTorch's
    ``torch.autograd.Variable._execution_engine.queue_callback``.

    >>> import nnlite
    >>> from nnlite.autograd import engine
    >>> w = nnlite.ones(2, requires_grad=True); seen = []
    >>> y = w * 3; h = y.register_hook(lambda g: engine.queue_callback(lambda: seen.append(w.grad.tolist())))
    >>> y.sum().backward(); seen
    [[3.0, 3.0]]
    """
    callbacks = getattr(_local, "callbacks", None)
    if callbacks is None:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    callbacks.append(callback)


def _sum_to(g, shape):
    """Reduce a broadcast gradient ``g`` back to ``shape`` (None if it cannot be done)."""
    if g.shape == shape:
        return g
    from nnlite._tensor import sum_to_shape
    return sum_to_shape(g, shape)


def _validate(node, i, g):
    shape, dtype = node._in_meta[i]
    if g.shape != shape:
        reduced = _sum_to(g, shape)
        if reduced is None or reduced.shape != shape:
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - got "
                               f"{list(g.shape)} but expected shape compatible with {list(shape)}")
        g = reduced
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def _as_array(g):
    if isinstance(g, function._Tensor):
        return g._data
    return g


def _run_hooks(hooks, g):
    Tensor = function._Tensor
    for hook in list(hooks.values()):
        out = hook(Tensor._wrap(g))
        if out is not None:
            g = _as_array(out)
    return g


def run_backward(roots, grads, retain_graph=False, capture=None):
    """Backpropagate ``grads`` (arrays) from ``roots`` (Tensors).

    With ``capture`` (a dict id(tensor) -> None) the gradients of those leaves
    are stored there instead of being accumulated into ``.grad``.
    """
    Tensor = function._Tensor
    buffers = {}   # node -> list of per-output gradient arrays
    leaf_grads = {}  # id(leaf) -> [leaf, summed gradient]
    deps = {}
    starts = []
    for t, g in zip(roots, grads):
        node = t._grad_fn
        if node is None:
            if not t._requires_grad:
                raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
            _add_leaf(leaf_grads, t, g)
            continue
        buf = buffers.setdefault(node, [None] * len(node._out_meta))
        i = t._out_index
        buf[i] = g if buf[i] is None else buf[i] + g
        starts.append(node)
    # count, for every node reachable from the roots, how many edges lead into it
    seen = set()
    stack = list(starts)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for e in node._edges:
            if e is not None and isinstance(e[0], function.BackwardNode):
                deps[e[0]] = deps.get(e[0], 0) + 1
                stack.append(e[0])
    ready = [(-n._seq, id(n), n) for n in set(starts) if deps.get(n, 0) == 0]
    heapq.heapify(ready)
    prev, grad_mode._state.enabled = grad_mode._state.enabled, False
    outermost = getattr(_local, "callbacks", None) is None
    if outermost:
        _local.callbacks = []
    try:
        while ready:
            _, _, node = heapq.heappop(ready)
            outs = buffers.pop(node)
            if node._pre_hooks:
                for i, hooks in node._pre_hooks.items():
                    if outs[i] is not None and hooks:
                        outs[i] = _run_hooks(hooks, outs[i])
            in_grads = _call_backward(node, outs, Tensor)
            if not retain_graph:
                node._release()
            for i, (e, g) in enumerate(zip(node._edges, in_grads)):
                if e is None:
                    continue
                nxt, idx = e
                if isinstance(nxt, function.BackwardNode):
                    if g is not None:
                        g = _validate(node, i, _as_array(g))
                        buf = buffers.setdefault(nxt, [None] * len(nxt._out_meta))
                        buf[idx] = g if buf[idx] is None else buf[idx] + g
                    deps[nxt] -= 1
                    if deps[nxt] == 0:
                        if nxt in buffers:
                            heapq.heappush(ready, (-nxt._seq, id(nxt), nxt))
                        else:
                            _skip(nxt, deps, buffers, ready, retain_graph)
                elif g is not None:
                    _add_leaf(leaf_grads, nxt, _validate(node, i, _as_array(g)))
        outs = in_grads = g = None   # drop this frame's references to gradient arrays
        for key in list(leaf_grads):
            leaf, g = leaf_grads.pop(key)
            if leaf._hooks:
                g = _run_hooks(leaf._hooks, g)
            if capture is not None:
                if id(leaf) in capture:
                    capture[id(leaf)] = g if capture[id(leaf)] is None else capture[id(leaf)] + g
                continue
            # referenced by `g` and getrefcount's argument only: nobody else can see the
            # array, so .grad may take it without a copy (PyTorch steals such gradients too)
            owned = sys.getrefcount(g) <= 2
            _accumulate(leaf, g, owned)
            g = None
        if outermost:
            callbacks = _local.callbacks
            while callbacks:
                callbacks.pop(0)()
    finally:
        grad_mode._state.enabled = prev
        if outermost:
            _local.callbacks = None


def _skip(node, deps, buffers, ready, retain_graph):
    """A node that received no gradient at all: release it and pass the 'done' down."""
    stack = [node]
    while stack:
        n = stack.pop()
        if not retain_graph:
            n._release()
        for e in n._edges:
            if e is not None and isinstance(e[0], function.BackwardNode):
                deps[e[0]] -= 1
                if deps[e[0]] == 0:
                    if e[0] in buffers:
                        heapq.heappush(ready, (-e[0]._seq, id(e[0]), e[0]))
                    else:
                        stack.append(e[0])


def _call_backward(node, outs, Tensor):
    fn = node._function
    if node.materialize_grads:
        for i, g in enumerate(outs):
            if g is None and node._out_meta[i] is not None:
                shape, dtype = node._out_meta[i]
                xp = _node_xp(node)
                outs[i] = xp.zeros(shape, dtype)
    if fn._array_backward:
        res = fn.backward(node, *outs)
    else:
        res = fn.backward(node, *(None if g is None else Tensor._wrap(g) for g in outs))
    if not isinstance(res, tuple):
        res = (res,)
    for r in res:
        if isinstance(r, numpy.generic):  # 0-d numpy arithmetic gives scalars: keep gradients arrays
            res = tuple(numpy.asarray(x) if isinstance(x, numpy.generic) else x for x in res)
            break
    n_in = len(node._edges)
    if len(res) != n_in:
        if len(res) > n_in and all(r is None for r in res[n_in:]):
            res = res[:n_in]
        else:
            raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                               f"(expected {n_in}, got {len(res)})")
    return res


def _node_xp(node):
    for e in node._edges:
        if e is not None and not isinstance(e[0], function.BackwardNode):
            return _backend.get_array_module(e[0]._data)
    for t, _ in node._saved:
        if t is not None:
            return _backend.get_array_module(_as_array(t))
    import numpy
    return numpy


def _add_leaf(leaf_grads, leaf, g):
    entry = leaf_grads.get(id(leaf))
    if entry is None:
        leaf_grads[id(leaf)] = [leaf, g]
    else:
        entry[1] = entry[1] + g


def _accumulate(leaf, g, owned=False):
    """Add ``g`` into ``leaf.grad`` in place.  The first time ``.grad`` is a fresh copy of
    ``g``, never an alias of an array anyone else holds; with ``owned`` (no other reference
    to ``g`` exists) a contiguous array of the leaf's dtype that owns its memory is taken
    as it is."""
    if g.shape != leaf.shape:
        g, owned = _sum_to(g, leaf.shape), False
    if leaf._grad is None:
        if owned and g.dtype == leaf._data.dtype and g.flags.c_contiguous and g.flags.owndata:
            arr = g
        else:
            arr = g.astype(leaf._data.dtype, copy=True)
        leaf._grad = function._Tensor._wrap(arr)
    else:
        leaf._grad._data += g
        leaf._grad._vc[0] += 1


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, allow_unused=False):
    """Gradients of ``outputs`` with respect to leaf tensors ``inputs``, without touching ``.grad``.

    >>> import nnlite
    >>> x = nnlite.tensor([1.0, 2.0], requires_grad=True)
    >>> nnlite.autograd.grad((x * x).sum(), [x])[0].tolist()
    [2.0, 4.0]

    See PyTorch's ``torch.autograd.grad`` (only leaf inputs, no ``create_graph``).
    """
    Tensor = function._Tensor
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    single_in = isinstance(inputs, Tensor)
    inputs = [inputs] if single_in else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        if t._grad_fn is not None:
            raise NotImplementedError("nnlite.autograd.grad differentiates with respect to leaf tensors only")
    grads = [_root_grad(o, g) for o, g in zip(outputs, grad_outputs)]
    capture = {id(t): None for t in inputs}
    run_backward(outputs, grads, retain_graph=bool(retain_graph), capture=capture)
    result = []
    for t in inputs:
        g = capture[id(t)]
        if g is None and not allow_unused:
            raise RuntimeError("One of the differentiated Tensors appears to not have been used in the "
                               "graph. Set allow_unused=True if this is the desired behavior.")
        result.append(None if g is None else Tensor._wrap(g))
    return tuple(result)


def _root_grad(t, g):
    """The starting gradient for root ``t``: ones for a scalar, else the given ``g``."""
    if g is None:
        if t.numel() != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        xp = _backend.get_array_module(t._data)
        return xp.ones(t.shape, t._data.dtype)
    g = _as_array(g) if isinstance(g, function._Tensor) else _backend.get_array_module(t._data).asarray(g)
    if g.shape != t.shape:
        raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {tuple(g.shape)} and "
                           f"output[0] has a shape of {tuple(t.shape)}.")
    _backend.get_array_module(t._data, g)
    return g
