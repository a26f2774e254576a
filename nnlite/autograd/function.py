"""``Function``: the one way an nnlite op defines its forward and its gradient.

A subclass writes ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)``
as static methods and is called through ``apply``.  ``ctx`` is the graph node
(``grad_fn``) of the outputs: ``ctx.save_for_backward(...)`` keeps what the
backward needs, ``ctx.needs_input_grad`` says which inputs want a gradient.

>>> import nnlite
>>> class Cube(nnlite.autograd.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x ** 3
...     @staticmethod
...     def backward(ctx, g):
...         x, = ctx.saved_tensors
...         return 3 * x ** 2 * g
>>> x = nnlite.tensor([2.0], requires_grad=True)
>>> Cube.apply(x).backward()
>>> x.grad.tolist()
[12.0]

See PyTorch's ``torch.autograd.Function``.
"""
import itertools

import numpy

from nnlite.autograd import grad_mode

__all__ = ["Function", "BackwardNode", "RemovableHandle"]

_sequence = itertools.count()
_Tensor = None  # nnlite.Tensor, set by nnlite._tensor at import (avoids an import cycle)
# Set only while nnlite.onnx records a forward: called as _tracer(cls, args, outputs) after each op.
_tracer = None


class RemovableHandle:
    """Returned by ``register_*hook``: ``remove()`` (or leaving its ``with`` block) unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks_dict):
        self._hooks = hooks_dict
        self.id = next(RemovableHandle._ids)

    def remove(self):
        """Unregister the hook (doing it twice is harmless)."""
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class BackwardNode:
    """A node of the autograd graph, and the ``ctx`` of the Function that made it.

    ``next_functions`` lists, per input, ``(node, output_index)`` for a
    non-leaf, ``(tensor, 0)`` for a leaf that accumulates into ``.grad``, or
    ``(None, 0)`` where no gradient flows.
    """

    _function = None  # the Function subclass (set on each generated subclass)

    def __init__(self):
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._saved = ()
        self._freed = False
        self._non_differentiable = ()
        self._pre_hooks = None  # {output index: {handle id: hook}} for non-leaf tensor hooks

    # -- what a forward keeps for its backward -------------------------------------------------
    def save_for_backward(self, *tensors):
        """Keep tensors (or None) for the backward; an in-place change before then is an error."""
        self._saved = tuple((t, t._vc[0]) if isinstance(t, _Tensor) else (t, None) for t in tensors)

    def _check_saved(self):
        if self._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors "
                "after they have already been freed). Saved intermediate values of the graph are freed "
                "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
                "backward through the graph a second time or if you need to access saved tensors after "
                "calling backward.")
        for t, version in self._saved:
            if version is not None and t._vc[0] != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{t.dtype} {list(t.shape)}] is at version {t._vc[0]}; "
                    f"expected version {version} instead.")

    @property
    def saved_tensors(self):
        """The tensors given to :meth:`save_for_backward`, as Tensors."""
        self._check_saved()
        return tuple(t if t is None or isinstance(t, _Tensor) else _Tensor._wrap(t)
                     for t, _ in self._saved)

    @property
    def saved_arrays(self):
        """The saved values as raw numpy/cupy arrays (nnlite's own ops use this)."""
        self._check_saved()
        return tuple(t._data if isinstance(t, _Tensor) else t for t, _ in self._saved)

    def mark_non_differentiable(self, *tensors):
        """Declare outputs (e.g. indices) that get no gradient."""
        self._non_differentiable = tuple(id(t) for t in tensors)

    def set_materialize_grads(self, value):
        """Whether missing output gradients reach ``backward`` as zeros (True) or None."""
        self.materialize_grads = bool(value)

    def _release(self):
        self._saved = ()
        self._freed = True

    # -- introspection ------------------------------------------------------------------------------
    def name(self):
        """The node's name, e.g. ``'MulBackward'``."""
        return type(self).__name__

    @property
    def next_functions(self):
        """Per input: ``(node, output index)``, ``(leaf tensor, 0)`` or ``(None, 0)``."""
        return tuple((e[0], e[1]) if e is not None else (None, 0) for e in self._edges)

    def register_prehook(self, hook):
        """Not supported: register gradient hooks with ``Tensor.register_hook``."""
        raise NotImplementedError("register Tensor hooks with Tensor.register_hook")

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._node_class = type(name + "Backward", (BackwardNode,), {"_function": cls})


class Function(metaclass=_FunctionMeta):
    """Base class of differentiable operations; see the module docstring."""

    # nnlite's own ops set this: their backward receives raw arrays instead of Tensors.
    _array_backward = False

    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__} is used through {type(self).__name__}.apply(...), "
                           "not by creating an instance")

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    @classmethod
    def apply(cls, *args):
        # This runs once per op: it is written for speed (plain loops, no generators).
        Tensor = _Tensor
        ctx = cls._node_class()
        state = grad_mode._state
        prev = state.enabled
        if prev:
            needs = tuple([isinstance(a, Tensor) and a._requires_grad for a in args])
            record = True in needs
        else:
            needs = (False,) * len(args)
            record = False
        ctx.needs_input_grad = needs
        state.enabled = False
        try:
            raw = cls.forward(ctx, *args)
        finally:
            state.enabled = prev
        single = type(raw) is not tuple
        outs = (raw,) if single else raw
        wrapped = []
        nondiff = ctx._non_differentiable
        for o in outs:
            nd = nondiff and id(o) in nondiff
            if isinstance(o, Tensor):
                for a in args:
                    if o is a:  # returning an input: give the output its own identity
                        o = Tensor._wrap(o._data, o._vc)
                        break
            elif o is not None:
                if isinstance(o, numpy.generic):  # numpy turns 0-d results into scalars: keep arrays
                    o = numpy.asarray(o)
                o = Tensor._wrap(o)
            wrapped.append(o)
            if nd:
                nondiff = nondiff + (id(o),)
        if record:
            ctx._edges = tuple([((a._grad_fn, a._out_index) if a._grad_fn is not None else (a, 0)) if need
                                else None for a, need in zip(args, needs)])
            ctx._in_meta = tuple([(a._data.shape, a._data.dtype) if need else None
                                  for a, need in zip(args, needs)])
            ctx._seq = next(_sequence)
            out_meta = ctx._out_meta = []
            for i, o in enumerate(wrapped):
                if o is None:
                    out_meta.append(None)
                    continue
                data = o._data
                out_meta.append((data.shape, data.dtype))
                if data.dtype.kind == "f" and not (nondiff and id(o) in nondiff):
                    o._grad_fn = ctx
                    o._out_index = i
                    o._requires_grad = True
        if _tracer is not None:
            _tracer(cls, args, wrapped)
        return wrapped[0] if single else tuple(wrapped)
