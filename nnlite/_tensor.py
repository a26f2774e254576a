"""``Tensor``: one numpy (CPU) or CuPy (GPU) array plus its place in the autograd graph.

>>> import nnlite, numpy
>>> a = numpy.arange(3.0)
>>> t = nnlite.from_numpy(a)          # shares memory with a
>>> t.numpy() is a or numpy.shares_memory(t.numpy(), a)
True
>>> x = nnlite.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad.tolist()
[2.0, 4.0, 6.0]

See PyTorch's ``torch.Tensor``.
"""
import numbers

import numpy

from nnlite import _backend, _dtype, _random
from nnlite._backend import device as _device
from nnlite.autograd import engine, function, grad_mode

__all__ = ["Tensor", "Size", "tensor", "from_numpy", "as_tensor", "zeros", "ones", "empty", "full",
           "zeros_like", "ones_like", "empty_like", "full_like", "randn", "rand", "arange", "cat", "stack",
           "where", "is_tensor", "add", "sub", "mul", "div", "randn_like", "rand_like", "linspace"]

_np_ndarray = numpy.ndarray


class Size(tuple):
    """The shape of a tensor: a tuple (see PyTorch's ``torch.Size``).

    >>> import nnlite
    >>> nnlite.zeros(2, 3).shape
    nnlite.Size([2, 3])
    """

    __slots__ = ()

    def __repr__(self):
        return f"nnlite.Size({list(self)})"

    def numel(self):
        """The number of elements of a tensor of this shape."""
        n = 1
        for s in self:
            n *= s
        return n


class Tensor:
    """A multi-dimensional array (numpy or CuPy) that can record gradients.

    Create tensors with :func:`nnlite.tensor`, :func:`nnlite.from_numpy`,
    :func:`nnlite.zeros` and friends rather than with this constructor;
    ``Tensor(array)`` wraps an existing array without copying.
    """

    __slots__ = ("_data", "_requires_grad", "_grad", "_grad_fn", "_out_index", "_hooks", "_vc",
                 "_retains_grad", "__weakref__", "__dict__")

    def __init__(self, data=None, requires_grad=False):
        if data is None:
            data = numpy.empty((0,), _dtype.get_default_dtype())
        elif isinstance(data, Tensor):
            data = data._data
        elif not (isinstance(data, _np_ndarray) or _backend.is_cupy_array(data)):
            data = numpy.asarray(data)
        self._data = data
        self._grad = None
        self._grad_fn = None
        self._out_index = 0
        self._hooks = None
        self._vc = [0]
        self._retains_grad = False
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _wrap(cls, data, vc=None):
        """A Tensor around ``data`` without any checks (nnlite's internal fast path)."""
        t = object.__new__(Tensor)
        t._data = data
        t._requires_grad = False
        t._grad = None
        t._grad_fn = None
        t._out_index = 0
        t._hooks = None
        t._vc = [0] if vc is None else vc
        t._retains_grad = False
        return t

    # -- pickling and copying (Tensor has slots and a dict) --------------------------------------------
    def __getstate__(self):
        if self._grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the "
                               "deepcopy protocol at the moment.")
        data = _backend.to_device(self._data, _backend.CPU)
        return {"data": data, "device": str(self.device), "requires_grad": self._requires_grad,
                "grad": None if self._grad is None else self._grad.__getstate__(),
                "dict": dict(self.__dict__)}

    def __setstate__(self, state):
        data = state["data"]
        if state["device"] != "cpu":
            data = _backend.to_device(data, _device(state["device"]))
        Tensor.__init__(self, data)
        self._requires_grad = state["requires_grad"]
        if state["grad"] is not None:
            g = Tensor._wrap(None)
            g.__setstate__(state["grad"])
            self._grad = g
        self.__dict__.update(state["dict"])

    def __reduce_ex__(self, proto):
        return (_rebuild, (type(self),), self.__getstate__())

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        new = _rebuild(type(self))
        memo[id(self)] = new
        state = self.__getstate__()
        state["data"] = state["data"].copy() if state["device"] == "cpu" else state["data"]
        import copy
        state["dict"] = copy.deepcopy(state["dict"], memo)
        new.__setstate__(state)
        return new

    # -- basic properties ------------------------------------------------------------------------------
    @property
    def shape(self):
        """The size of each dimension, as an :class:`nnlite.Size`."""
        return Size(self._data.shape)

    def size(self, dim=None):
        """``size()`` is the shape; ``size(dim)`` the length of one dimension (negative counts back)."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_norm_dim(dim, self._data.ndim)]

    @property
    def dtype(self):
        """The element type: a numpy dtype, e.g. ``nnlite.float32``."""
        return self._data.dtype

    @property
    def device(self):
        """The :class:`nnlite.device` the array lives on."""
        if type(self._data) is _np_ndarray:
            return _backend.CPU
        return _backend.device_of(self._data)

    @property
    def is_cuda(self):
        """True when the array lives on a GPU."""
        return self.device.type == "cuda"

    @property
    def ndim(self):
        """The number of dimensions."""
        return self._data.ndim

    def dim(self):
        """The number of dimensions."""
        return self._data.ndim

    def numel(self):
        """The number of elements."""
        return int(self._data.size)

    nelement = numel

    def element_size(self):
        """Bytes per element."""
        return self._data.itemsize

    @property
    def nbytes(self):
        """Bytes taken by the elements."""
        return self._data.nbytes

    def is_floating_point(self):
        """True for float16/32/64 tensors."""
        return self._data.dtype.kind == "f"

    def is_contiguous(self):
        """True when the array is C-contiguous."""
        return bool(self._data.flags.c_contiguous)

    @property
    def requires_grad(self):
        """Whether gradients are recorded for operations on this tensor."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"requires_grad must be a bool, but got {type(value).__name__}")
        if self._grad_fn is not None and not value:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to "
                               "use a computed variable in a subgraph that doesn't require differentiation "
                               "use var_no_grad = var.detach().")
        if value and self._data.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        self._requires_grad = value

    def requires_grad_(self, requires_grad=True):
        """Set :attr:`requires_grad` in place and return ``self``."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        """The gradient accumulated by :meth:`backward` (a Tensor), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            if value.dtype != self.dtype:
                raise RuntimeError(f"assigned grad has data of a different type ({value.dtype}) than the "
                                   f"tensor ({self.dtype})")
            if value.device != self.device:
                raise RuntimeError(f"assigned grad has data located on a different device ({value.device}) "
                                   f"than the tensor ({self.device})")
            if value.shape != self.shape:
                raise RuntimeError(f"assigned grad has data of a different size ({list(value.shape)}) than "
                                   f"the tensor ({list(self.shape)})")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def grad_fn(self):
        """The graph node that made this tensor, or None for a leaf."""
        return self._grad_fn

    @property
    def is_leaf(self):
        """True for tensors not made by a recorded operation (user-created, or not requiring grad)."""
        return self._grad_fn is None

    @property
    def data(self):
        """A tensor sharing this one's array, outside the graph (see ``torch.Tensor.data``)."""
        return Tensor._wrap(self._data, self._vc)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, but got {type(value).__name__}")
        self._data = value._data

    @property
    def T(self):
        """All dimensions reversed (a view)."""
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self):
        """The last two dimensions swapped (a view)."""
        return self.transpose(-2, -1)

    # -- conversions ---------------------------------------------------------------------------------
    def numpy(self, force=False):
        """The numpy array itself (no copy) for a CPU tensor that does not require grad.

        ``force=True`` detaches and copies to the CPU when needed.  A GPU tensor
        raises TypeError: call ``.cpu()`` first.
        """
        if force:
            return _backend.to_device(self._data, _backend.CPU)
        if type(self._data) is not _np_ndarray:
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to "
                            "copy the tensor to host memory first.")
        if self._requires_grad and grad_mode._state.enabled:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        if dtype is not None and a.dtype != dtype:
            if copy is False:
                raise ValueError("a copy is needed to change the dtype")
            return a.astype(dtype)
        if copy:
            return a.copy()
        return a

    @property
    def __cuda_array_interface__(self):
        if type(self._data) is _np_ndarray:
            raise AttributeError(f"Can't get __cuda_array_interface__ on non-CUDA tensor type: {self.device}. "
                                 "If CUDA data is required use tensor.cuda() to copy tensor to device memory.")
        if self._requires_grad:
            raise RuntimeError("Can't get __cuda_array_interface__ on Variable that requires grad. If "
                               "gradients aren't required, use var.detach() to get Variable that doesn't "
                               "require grad.")
        return self._data.__cuda_array_interface__

    def __dlpack__(self, *args, **kwargs):
        if self._requires_grad:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists."""
        return self._data.tolist()

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    __hash__ = object.__hash__

    def __repr__(self):
        return _format(self, "tensor(")

    def __format__(self, spec):
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return repr(self) if not spec else object.__format__(self, spec)

    # -- graph ---------------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate the gradient of this tensor into the ``.grad`` of the leaves it depends on.

        ``gradient`` is required unless the tensor has one element.  The graph's
        saved values are freed unless ``retain_graph=True``.
        """
        if create_graph:
            raise NotImplementedError("nnlite does not build graphs of gradients (create_graph=True)")
        g = engine._root_grad(self, gradient)
        engine.run_backward([self], [g], retain_graph=bool(retain_graph))

    def detach(self):
        """A new leaf sharing this tensor's array, outside the graph."""
        return Tensor._wrap(self._data, self._vc)

    def detach_(self):
        """Make this tensor a leaf that does not require grad, in place."""
        self._grad_fn = None
        self._requires_grad = False
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            hooks = self._hooks
        else:
            node = self._grad_fn
            if node._pre_hooks is None:
                node._pre_hooks = {}
            hooks = node._pre_hooks.setdefault(self._out_index, {})
        handle = function.RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def retain_grad(self):
        """Keep the gradient of a non-leaf tensor in its ``.grad`` after backward."""
        if self._grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains_grad:
            return
        self._retains_grad = True

        def keep(g, self=self):
            if self._grad is None:
                self._grad = Tensor._wrap(g._data.copy())
            else:
                self._grad._data += g._data
        self.register_hook(keep)

    @property
    def retains_grad(self):
        """True after :meth:`retain_grad` on a non-leaf tensor."""
        return self._retains_grad

    # -- moving and casting --------------------------------------------------------------------------
    def to(self, *args, **kwargs):
        """Move and/or cast: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)``.

        Returns ``self`` when nothing changes; otherwise a copy that stays in the graph.
        """
        dev, dtype, copy = _parse_to(args, kwargs)
        return self._to(dev, dtype, copy)

    def _to(self, dev, dtype, copy=False):
        if dev is not None:
            dev = _backend.resolve_device(dev)
        same_dev = dev is None or dev == self.device
        same_dtype = dtype is None or dtype == self._data.dtype
        if same_dev and same_dtype and not copy:
            return self
        return _ops.ToCopy.apply(self, dev, dtype)

    def cpu(self):
        """This tensor on the CPU (``self`` when it is already there)."""
        return self._to(_backend.CPU, None)

    def cuda(self, device=None):
        """This tensor on a GPU: ``cuda()``, ``cuda(1)``, ``cuda('cuda:1')``."""
        if device is None:
            device = "cuda"
        elif isinstance(device, int) and not isinstance(device, bool):
            device = _device("cuda", device)
        d = _backend.resolve_device(device)
        if d.type != "cuda":
            raise ValueError(f"Invalid device, must be cuda device, got {d}")
        return self._to(d, None)

    def type(self, dtype=None):
        """With no argument, the type name; with a dtype, this tensor cast to it."""
        if dtype is None:
            return f"nnlite.{self._data.dtype.name}"
        return self._to(None, _dtype.as_dtype(dtype))

    def float(self):
        """This tensor as float32 (``self`` if it already is)."""
        return self._to(None, _dtype.float32)

    def double(self):
        """This tensor as float64 (``self`` if it already is)."""
        return self._to(None, _dtype.float64)

    def half(self):
        """This tensor as float16."""
        return self._to(None, _dtype.float16)

    def long(self):
        """This tensor as int64."""
        return self._to(None, _dtype.int64)

    def int(self):
        """This tensor as int32."""
        return self._to(None, _dtype.int32)

    def bool(self):
        """This tensor as bool."""
        return self._to(None, _dtype.bool_)

    def type_as(self, other):
        """This tensor cast to ``other``'s dtype."""
        return self._to(None, other.dtype)

    def clone(self):
        """A copy of this tensor that stays in the graph."""
        return _ops.Clone.apply(self)

    def contiguous(self):
        """``self`` if C-contiguous, else a C-contiguous copy in the graph."""
        if self._data.flags.c_contiguous:
            return self
        return _ops.Clone.apply(self)

    def new_tensor(self, data, dtype=None, requires_grad=False):
        """A new tensor from ``data`` with this tensor's dtype and device by default."""
        return tensor(data, dtype=dtype or self.dtype, device=self.device, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, requires_grad=False):
        """Zeros with this tensor's dtype and device by default."""
        return zeros(*size, dtype=dtype or self.dtype, device=self.device, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False):
        """Ones with this tensor's dtype and device by default."""
        return ones(*size, dtype=dtype or self.dtype, device=self.device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad=False):
        """A tensor filled with ``fill_value``, with this tensor's dtype and device by default."""
        return full(size, fill_value, dtype=dtype or self.dtype, device=self.device,
                    requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad=False):
        """An uninitialised tensor with this tensor's dtype and device by default."""
        return empty(*size, dtype=dtype or self.dtype, device=self.device, requires_grad=requires_grad)

    # -- arithmetic ----------------------------------------------------------------------------------
    def __add__(self, other):
        """``self + other`` (broadcasting; ``add`` is the same)."""
        return _ops.Add.apply(self, _operand(other, self))

    def __radd__(self, other):
        return _ops.Add.apply(_operand(other, self), self)

    def __sub__(self, other):
        """``self - other`` (broadcasting; ``sub`` is the same)."""
        return _ops.Sub.apply(self, _operand(other, self))

    def __rsub__(self, other):
        return _ops.Sub.apply(_operand(other, self), self)

    def __mul__(self, other):
        """``self * other`` (broadcasting; ``mul`` is the same)."""
        return _ops.Mul.apply(self, _operand(other, self))

    def __rmul__(self, other):
        return _ops.Mul.apply(_operand(other, self), self)

    def __truediv__(self, other):
        """``self / other``; integer tensors divide to the default float dtype (``div`` is the same)."""
        return _ops.Div.apply(self, _operand(other, self))

    def __rtruediv__(self, other):
        return _ops.Div.apply(_operand(other, self), self)

    def __pow__(self, other):
        """``self ** other`` (``pow`` is the same)."""
        return _ops.Pow.apply(self, _operand(other, self))

    def __rpow__(self, other):
        return _ops.Pow.apply(_operand(other, self), self)

    def __matmul__(self, other):
        """Matrix product with numpy's broadcasting rules (``matmul`` is the same)."""
        return _ops.MatMul.apply(self, _operand(other, self, scalar=False))

    def __rmatmul__(self, other):
        return _ops.MatMul.apply(_operand(other, self, scalar=False), self)

    def __neg__(self):
        """``-self`` (``neg`` is the same)."""
        return _ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.Abs.apply(self)

    mul = __mul__
    pow = __pow__
    matmul = __matmul__
    neg = __neg__

    def abs(self):
        """Absolute value; its gradient is ``sign(x)``."""
        return _ops.Abs.apply(self)

    def exp(self):
        """Elementwise e**x."""
        return _ops.Exp.apply(self)

    def log(self):
        """Elementwise natural logarithm."""
        return _ops.Log.apply(self)

    def sqrt(self):
        """Elementwise square root."""
        return _ops.Sqrt.apply(self)

    def tanh(self):
        """Elementwise hyperbolic tangent."""
        return _ops.Tanh.apply(self)

    def sigmoid(self):
        """Elementwise 1 / (1 + exp(-x)), without overflow."""
        return _ops.Sigmoid.apply(self)

    def relu(self):
        """Elementwise max(x, 0)."""
        return _ops.Relu.apply(self)

    def clamp(self, min=None, max=None):
        """Limit the values to ``[min, max]``; the gradient passes where ``min <= x <= max``."""
        if min is None and max is None:
            raise RuntimeError("At least one of 'min' or 'max' must not be None")
        return _ops.Clamp.apply(self, min, max)

    clip = clamp

    def maximum(self, other):
        """Elementwise maximum with ``other``; ties share the gradient equally."""
        return _ops.Maximum.apply(self, _operand(other, self), True)

    def minimum(self, other):
        """Elementwise minimum with ``other``; ties share the gradient equally."""
        return _ops.Maximum.apply(self, _operand(other, self), False)

    # -- reductions ----------------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None):
        """Sum over ``dim`` (an int, a tuple, or None for all)."""
        return _ops.Sum.apply(self, _norm_dims(dim, self._data.ndim), keepdim, dtype)

    def mean(self, dim=None, keepdim=False, dtype=None):
        """Mean over ``dim`` (floating-point tensors only)."""
        if self._data.dtype.kind != "f" and dtype is None:
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating "
                               f"point or complex dtype. Got: {self._data.dtype}")
        return _ops.Mean.apply(self, _norm_dims(dim, self._data.ndim), keepdim, dtype)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """Variance over ``dim`` with Bessel's ``correction`` (1 by default; ``unbiased=False`` is 0)."""
        if isinstance(dim, bool) and unbiased is None:  # var(False) means unbiased=False
            dim, unbiased = None, dim
        if correction is None:
            correction = 1 if unbiased is None or unbiased else 0
        return _ops.Var.apply(self, _norm_dims(dim, self._data.ndim), correction, keepdim)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """Standard deviation: ``var(...).sqrt()``."""
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def max(self, dim=None, keepdim=False):
        """The largest value; with ``dim``, a ``(values, indices)`` pair; with a tensor, the elementwise max."""
        return _minmax(self, dim, keepdim, True)

    def min(self, dim=None, keepdim=False):
        """The smallest value; with ``dim``, a ``(values, indices)`` pair; with a tensor, the elementwise min."""
        return _minmax(self, dim, keepdim, False)

    def argmax(self, dim=None, keepdim=False):
        """Index of the largest value (over the flattened tensor when ``dim`` is None)."""
        return _arg(self, dim, keepdim, "argmax")

    def argmin(self, dim=None, keepdim=False):
        """Index of the smallest value (over the flattened tensor when ``dim`` is None)."""
        return _arg(self, dim, keepdim, "argmin")

    def softmax(self, dim):
        """Softmax along ``dim``."""
        return _ops.Softmax.apply(self, _norm_dim(dim, self._data.ndim), False)

    def log_softmax(self, dim):
        """Log-softmax along ``dim``."""
        return _ops.Softmax.apply(self, _norm_dim(dim, self._data.ndim), True)

    # -- shape ---------------------------------------------------------------------------------------
    def reshape(self, *shape):
        """The same values in a new shape (a view when possible); one size may be -1."""
        return _ops.Reshape.apply(self, _infer_shape(_shape_args(shape), self._data.size), False)

    def view(self, *shape):
        """Like :meth:`reshape`, but always a view; raises when the strides do not allow one."""
        return _ops.Reshape.apply(self, _infer_shape(_shape_args(shape), self._data.size), True)

    def view_as(self, other):
        """A view with ``other``'s shape."""
        return self.view(other.shape)

    def reshape_as(self, other):
        """Reshaped to ``other``'s shape."""
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dimensions ``start_dim..end_dim`` into one."""
        nd = self._data.ndim
        if nd == 0:
            return self.reshape(1)
        s, e = _norm_dim(start_dim, nd), _norm_dim(end_dim, nd)
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        shp = self._data.shape
        n = 1
        for d in shp[s:e + 1]:
            n *= d
        return self.reshape(shp[:s] + (n,) + shp[e + 1:])

    def unflatten(self, dim, sizes):
        """Split dimension ``dim`` into ``sizes``."""
        d = _norm_dim(dim, self._data.ndim)
        shp = self._data.shape
        return self.reshape(shp[:d] + tuple(_infer_shape(tuple(sizes), shp[d])) + shp[d + 1:])

    def transpose(self, dim0, dim1):
        """Swap two dimensions (a view)."""
        nd = self._data.ndim
        order = list(range(nd))
        if nd:
            a, b = _norm_dim(dim0, nd), _norm_dim(dim1, nd)
            order[a], order[b] = order[b], order[a]
        return _ops.Permute.apply(self, tuple(order))

    swapaxes = transpose

    def t(self):
        """Transpose of a tensor of at most 2 dimensions."""
        if self._data.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self._data.ndim}D")
        return self.transpose(0, -1) if self._data.ndim == 2 else self

    def permute(self, *dims):
        """Reorder the dimensions (a view)."""
        dims = _shape_args(dims)
        nd = self._data.ndim
        if len(dims) != nd:
            raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match "
                               f"the length of the desired ordering of dimensions i.e. input.dim() = {nd} is "
                               f"not equal to len(dims) = {len(dims)}")
        order = tuple(_norm_dim(d, nd) for d in dims)
        if len(set(order)) != nd:
            raise RuntimeError("permute(): duplicate dims are not allowed.")
        return _ops.Permute.apply(self, order)

    def squeeze(self, dim=None):
        """Drop dimensions of size 1 (all, or those in ``dim``)."""
        shp = self._data.shape
        if dim is None:
            new = tuple(s for s in shp if s != 1)
        else:
            dims = {_norm_dim(d, len(shp)) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
            new = tuple(s for i, s in enumerate(shp) if not (i in dims and s == 1))
        return _ops.Reshape.apply(self, new, True)

    def unsqueeze(self, dim):
        """Insert a dimension of size 1 at ``dim``."""
        shp = self._data.shape
        d = _norm_dim(dim, len(shp) + 1)
        return _ops.Reshape.apply(self, shp[:d] + (1,) + shp[d:], True)

    def expand(self, *sizes):
        """Broadcast to a larger shape without copying; -1 keeps a dimension."""
        sizes = _shape_args(sizes)
        shp = self._data.shape
        if len(sizes) < len(shp):
            raise RuntimeError(f"expand(nnlite.{self.dtype.name}{{{list(shp)}}}, size={list(sizes)}): the "
                               "number of sizes provided must be greater or equal to the number of dimensions "
                               "in the tensor")
        lead = len(sizes) - len(shp)
        target = []
        for i, s in enumerate(sizes):
            if i < lead:
                if s < 0:
                    raise RuntimeError(f"expand: the expanded size of the tensor (-1) isn't allowed in a "
                                       f"leading, non-existing dimension {i}")
                target.append(s)
                continue
            cur = shp[i - lead]
            if s == -1:
                target.append(cur)
            elif cur == s or cur == 1:
                target.append(s)
            else:
                raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({cur}) "
                                   f"at non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                                   f"{list(shp)}")
        return _ops.Expand.apply(self, tuple(target))

    def expand_as(self, other):
        """Broadcast to ``other``'s shape without copying."""
        return self.expand(other.shape)

    def __getitem__(self, key):
        return _ops.Index.apply(self, _index_key(key))

    def __setitem__(self, key, value):
        key = _index_key(key)
        value = _operand(value, self)
        if self._inplace_needs_graph(value):
            self._rebase(_ops.IndexPut.apply(self.clone(), value, key))
            return
        v = value._data if isinstance(value, Tensor) else value
        self._data[key] = v
        self._vc[0] += 1

    # -- comparisons (no gradient) ------------------------------------------------------------------
    def _compare(self, other, op):
        o = other._data if isinstance(other, Tensor) else other
        if not isinstance(o, numbers.Number):
            _backend.get_array_module(self._data, o)
        return _wrap_result(op(self._data, o))

    def __eq__(self, other):
        return self._compare(other, numpy.equal if type(self._data) is _np_ndarray else _xp_op("equal", self))

    def __ne__(self, other):
        return self._compare(other, numpy.not_equal if type(self._data) is _np_ndarray
                             else _xp_op("not_equal", self))

    def __lt__(self, other):
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._compare(other, lambda a, b: a >= b)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def __invert__(self):
        if self._data.dtype.kind not in "iub":
            raise TypeError("~ (bitwise not) is only defined for integer and bool tensors")
        return _wrap_result(~self._data)

    def __and__(self, other):
        return _wrap_result(self._data & _raw(other))

    def __or__(self, other):
        return _wrap_result(self._data | _raw(other))

    def all(self, dim=None, keepdim=False):
        """True where all elements (along ``dim``) are non-zero (no gradient)."""
        return _wrap_result(self._data.all(axis=_norm_dims(dim, self._data.ndim), keepdims=keepdim))

    def any(self, dim=None, keepdim=False):
        """True where any element (along ``dim``) is non-zero (no gradient)."""
        return _wrap_result(self._data.any(axis=_norm_dims(dim, self._data.ndim), keepdims=keepdim))

    def equal(self, other):
        """True when both tensors have the same shape and values."""
        return self.shape == other.shape and bool((self._data == other._data).all())

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """True when all values are close to ``other``'s (numpy's rule)."""
        xp = _backend.get_array_module(self._data, other._data)
        return bool(xp.allclose(self._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))

    # -- in place ------------------------------------------------------------------------------------
    def _inplace_needs_graph(self, other=None):
        """Check an in-place op is allowed; True when it must be recorded in the graph."""
        if not grad_mode._state.enabled:
            return False
        if self._requires_grad and self._grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        return self._requires_grad or (isinstance(other, Tensor) and other._requires_grad)

    def _rebase(self, new):
        """Make ``self`` hold ``new``'s values and take its place in the graph."""
        self._data[...] = new._data
        self._vc[0] += 1
        self._grad_fn, self._out_index = new._grad_fn, new._out_index
        self._requires_grad = new._requires_grad
        return self

    def _inplace_binary(self, other, op, ufunc):
        other = _operand(other, self)
        if self._inplace_needs_graph(other):
            return self._rebase(op(self.clone(), other))
        o = other._data if isinstance(other, Tensor) else other
        if not isinstance(o, numbers.Number):
            _backend.get_array_module(self._data, o)
        try:
            ufunc(self._data, o, out=self._data)
        except TypeError as exc:  # numpy's UFuncTypeError for an unsafe cast
            raise RuntimeError(f"result type can't be cast to the desired output type {self.dtype}: {exc}") \
                from None
        self._vc[0] += 1
        return self

    def add_(self, other, alpha=1):
        """``self += alpha * other`` in place."""
        if alpha != 1:
            other = other * alpha
        return self._inplace_binary(other, Tensor.__add__, _xp_ufunc(self, "add"))

    def sub_(self, other, alpha=1):
        """``self -= alpha * other`` in place."""
        if alpha != 1:
            other = other * alpha
        return self._inplace_binary(other, Tensor.__sub__, _xp_ufunc(self, "subtract"))

    def mul_(self, other):
        """``self *= other`` in place."""
        return self._inplace_binary(other, Tensor.__mul__, _xp_ufunc(self, "multiply"))

    def div_(self, other):
        """``self /= other`` in place."""
        return self._inplace_binary(other, Tensor.__truediv__, _xp_ufunc(self, "true_divide"))

    def _fill_from(self, values):
        """In place: replace all values with ``values`` (array or scalar); no gradient flows back."""
        if self._inplace_needs_graph():
            self._rebase(_ops.Overwrite.apply(self, values))
            return self
        self._data[...] = values
        self._vc[0] += 1
        return self

    def zero_(self):
        """Fill with zeros in place."""
        return self._fill_from(0)

    def fill_(self, value):
        """Fill with ``value`` in place."""
        if isinstance(value, Tensor):
            if value.numel() != 1:
                raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                                   f"{value.dim()} dimensions.")
            value = value.item()
        return self._fill_from(value)

    def copy_(self, src):
        """Copy ``src``'s values (broadcast, cast, and moved from its device) into this tensor in place."""
        if not isinstance(src, Tensor):
            src = as_tensor(src)
        if grad_mode._state.enabled and (self._requires_grad or src._requires_grad):
            if self._requires_grad and self._grad_fn is None:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
            return self._rebase(_ops.CopyInto.apply(self.clone(), src))
        try:
            numpy.broadcast_shapes(src.shape, self.shape)
        except ValueError:
            raise RuntimeError(f"The size of tensor a ({list(self.shape)}) must match the size of tensor b "
                               f"({list(src.shape)}) for copy_") from None
        data = _backend.to_device(src._data, self.device)
        self._data[...] = data
        self._vc[0] += 1
        return self

    def normal_(self, mean=0.0, std=1.0, generator=None):
        """Fill in place with samples of N(mean, std²) from nnlite's generator."""
        rng = generator or _random.generator_for(_backend.get_array_module(self._data))
        return self._fill_from(_sample(rng, "normal", self._data.shape, self._data.dtype, mean, std))

    def uniform_(self, a=0.0, b=1.0, generator=None):
        """Fill in place with samples of U(a, b) from nnlite's generator."""
        rng = generator or _random.generator_for(_backend.get_array_module(self._data))
        return self._fill_from(_sample(rng, "uniform", self._data.shape, self._data.dtype, a, b))

    # -- PyTorch's other tensor methods that 1D-conv code uses ----------------------------------------
    def add(self, other, *, alpha=1):
        """``self + alpha * other`` (see ``torch.add``)."""
        return add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        """``self - alpha * other`` (see ``torch.sub``)."""
        return sub(self, other, alpha=alpha)

    def div(self, other, *, rounding_mode=None):
        """``self / other``, optionally rounded (``'trunc'`` or ``'floor'``; see ``torch.div``)."""
        return div(self, other, rounding_mode=rounding_mode)

    def _reshape_(self, shape):
        if self._inplace_needs_graph():
            new = _ops.Reshape.apply(self, shape, True)
            self._data, self._grad_fn, self._out_index = new._data, new._grad_fn, new._out_index
            return self
        self._data = self._data.reshape(shape)
        return self

    def unsqueeze_(self, dim):
        """In place: insert a dimension of size 1 at ``dim`` (see ``torch.Tensor.unsqueeze_``)."""
        shp = self._data.shape
        d = _norm_dim(dim, len(shp) + 1)
        return self._reshape_(shp[:d] + (1,) + shp[d:])

    def squeeze_(self, dim=None):
        """In place: drop dimensions of size 1 (all, or those in ``dim``; see ``torch.Tensor.squeeze_``)."""
        return self._reshape_(tuple(self.squeeze(dim)._data.shape))

    def split(self, split_size_or_sections, dim=0):
        """Views of consecutive pieces along ``dim``: of ``split_size`` each (the last may be smaller),
        or of the listed sizes, which must add up to the dimension (see ``torch.split``)."""
        d = _norm_dim(dim, self._data.ndim)
        n = self._data.shape[d]
        if isinstance(split_size_or_sections, (list, tuple)):
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != n or any(s < 0 for s in sizes):
                raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                                   f"at dimension {d}), but got split_sizes={sizes}")
        else:
            step = int(split_size_or_sections)
            if step < 0 or (step == 0 and n):
                raise RuntimeError(f"split expects split_size be non-negative, but got split_size={step}")
            sizes = [min(step, n - lo) for lo in range(0, n, step)] if n else [0]
        out, lo = [], 0
        for size in sizes:
            key = (slice(None),) * d + (slice(lo, lo + size),)
            out.append(self[key])
            lo += size
        return tuple(out)

    def chunk(self, chunks, dim=0):
        """At most ``chunks`` views of equal size along ``dim`` (the last may be smaller; see ``torch.chunk``)."""
        if chunks <= 0:
            raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
        n = self._data.shape[_norm_dim(dim, self._data.ndim)]
        return self.split(max(-(-n // chunks), 1), dim)

    def unbind(self, dim=0):
        """The slices along ``dim``, that dimension removed (see ``torch.unbind``)."""
        d = _norm_dim(dim, self._data.ndim)
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self._data.shape[d]))

    def flip(self, *dims):
        """A copy with the order of the elements along ``dims`` reversed (see ``torch.flip``)."""
        dims = tuple(_norm_dim(d, self._data.ndim) for d in _shape_args(dims))
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"dims has duplicates, original flip dims size={len(dims)}, but unique flip dims "
                               f"size={len(set(dims))}")
        return _ops.Flip.apply(self, dims)

    def roll(self, shifts, dims=None):
        """Shift the elements circularly along ``dims`` (over the flattened tensor when None; see ``torch.roll``)."""
        if dims is None:
            if isinstance(shifts, (tuple, list)) and len(shifts) != 1:
                raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
            s = shifts[0] if isinstance(shifts, (tuple, list)) else shifts
            return _ops.Roll.apply(self.reshape(-1), int(s), 0).reshape(self.shape)
        sh = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
        ds = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
        if len(sh) != len(ds):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:{len(ds)}")
        return _ops.Roll.apply(self, tuple(int(v) for v in sh), tuple(_norm_dim(d, self._data.ndim) for d in ds))

    def repeat(self, *sizes):
        """The tensor tiled ``sizes[i]`` times along each dimension (new leading ones too; see ``torch.repeat``)."""
        reps = _shape_args(sizes)
        if len(reps) < self._data.ndim:
            raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of "
                               "tensor")
        return _ops.Repeat.apply(self, reps)

    def gather(self, dim, index):
        """``out[i][j][k] = self[index[i][j][k]][j][k]`` along ``dim`` (see ``torch.gather``)."""
        d = _norm_dim(dim, self._data.ndim)
        idx = index._data if isinstance(index, Tensor) else numpy.asarray(index)
        if idx.dtype != numpy.int64:
            raise RuntimeError("gather(): Expected dtype int64 for index")
        if idx.ndim != self._data.ndim and not (idx.ndim <= 1 and self._data.ndim <= 1):
            raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
        for i, (a, b) in enumerate(zip(idx.shape, self._data.shape)):
            if i != d and a > b:
                raise RuntimeError(f"Size does not match at dimension {i} expected index {list(idx.shape)} to be no "
                                   f"larger than self {list(self._data.shape)} apart from dimension {d}")
        return _ops.Gather.apply(self, d, idx)

    def sort(self, dim=-1, descending=False, stable=False):
        """``(values, indices)`` sorted along ``dim`` (a stable sort; see ``torch.sort``)."""
        d = _norm_dim(dim, self._data.ndim)
        x = self._data
        xp = _backend.get_array_module(x)
        if x.ndim == 0:
            return return_types_sort(self.clone(), Tensor._wrap(xp.zeros((), numpy.int64)))
        idx = xp.argsort(-x if descending and x.dtype.kind != "b" else x, axis=d, kind="stable")
        if descending and x.dtype.kind == "b":
            idx = xp.flip(xp.argsort(x, axis=d, kind="stable"), axis=d)
        idx = idx.astype(numpy.int64)
        return return_types_sort(_ops.Gather.apply(self, d, idx), Tensor._wrap(idx))

    def argsort(self, dim=-1, descending=False, stable=False):
        """The indices that sort the tensor along ``dim`` (see ``torch.argsort``)."""
        return self.sort(dim, descending, stable)[1]

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim`` (see ``torch.topk``)."""
        d = _norm_dim(dim, self._data.ndim)
        n = self._data.shape[d] if self._data.ndim else 1
        if not 0 <= k <= n:
            raise RuntimeError("selected index k out of range")
        values, idx = self.sort(d, descending=largest)
        key = (slice(None),) * d + (slice(0, k),)
        idx = idx[key]
        return return_types_topk(_ops.Gather.apply(self, d, idx._data), idx)

    def masked_fill(self, mask, value):
        """``value`` where ``mask`` is True, else this tensor's values (see ``torch.Tensor.masked_fill``)."""
        m = mask._data if isinstance(mask, Tensor) else numpy.asarray(mask)
        if m.dtype != numpy.bool_:
            raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {m.dtype}")
        if isinstance(value, Tensor) and value.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        if not isinstance(value, Tensor):
            value = Tensor._wrap(_backend.get_array_module(self._data).asarray(value, dtype=self._data.dtype))
        out = _ops.Where.apply(m, value.to(self.dtype), self)
        if out.shape != self.shape:
            raise RuntimeError(f"The size of the mask ({list(m.shape)}) must broadcast to the tensor's size "
                               f"({list(self.shape)})")
        return out

    def masked_fill_(self, mask, value):
        """In place: :meth:`masked_fill` (see ``torch.Tensor.masked_fill_``)."""
        new = self.masked_fill(mask, value)
        if self._inplace_needs_graph(value):
            return self._rebase(new)
        return self._fill_from(new._data)


def _rebuild(cls):
    t = object.__new__(cls)
    return t


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------
def _raw(x):
    return x._data if isinstance(x, Tensor) else x


def _wrap_result(a):
    """A Tensor around a result that numpy may have turned into a scalar (0-d operands)."""
    return Tensor._wrap(numpy.asarray(a) if isinstance(a, numpy.generic) else a)


def _xp_op(name, t):
    return getattr(_backend.get_array_module(t._data), name)


def _xp_ufunc(t, name):
    return getattr(_backend.get_array_module(t._data), name)


def _operand(other, like, scalar=True):
    """``other`` as an operand of a binary op with ``like``: Tensors and Python numbers pass;
    arrays become constant Tensors; a float number with an integer tensor promotes like PyTorch."""
    if isinstance(other, Tensor):
        return other
    if scalar and isinstance(other, (numbers.Number, numpy.generic)) and not isinstance(other, numpy.ndarray):
        if isinstance(other, numpy.generic):
            other = other.item()
        return other
    if isinstance(other, _np_ndarray) or _backend.is_cupy_array(other):
        return Tensor._wrap(other)
    if isinstance(other, (list, tuple)):
        return tensor(other, dtype=like.dtype if like.dtype.kind == "f" else None, device=like.device)
    raise TypeError(f"unsupported operand type for a Tensor operation: '{type(other).__name__}'")


def _norm_dim(dim, ndim):
    """``dim`` in ``[-ndim, ndim)`` as a non-negative int, else IndexError as PyTorch words it."""
    try:
        d = dim.__index__()
    except AttributeError:
        raise TypeError(f"dim must be an int, but got {type(dim).__name__}") from None
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return d + n if d < 0 else d


def _norm_dims(dim, ndim):
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        if len(dim) == 0:
            return None
        out = tuple(_norm_dim(d, ndim) for d in dim)
        if len(set(out)) != len(out):
            raise RuntimeError(f"dim {out} appears multiple times in the list of dims")
        return out
    return (_norm_dim(dim, ndim),) if ndim else None


def _shape_args(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)):
        args = tuple(args[0])
    out = []
    for a in args:
        if isinstance(a, Tensor):
            a = a.item()
        if isinstance(a, bool) or not isinstance(a, (int, numpy.integer)):
            raise TypeError(f"expected a sequence of integers for the size, but got element of type "
                            f"{type(a).__name__}")
        out.append(int(a))
    return tuple(out)


def _infer_shape(shape, numel):
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _index_key(key):
    """Turn Tensors inside an index into arrays; keep everything else as numpy understands it."""
    if isinstance(key, tuple):
        return tuple(k._data if isinstance(k, Tensor) else k for k in key)
    if isinstance(key, Tensor):
        return key._data
    if isinstance(key, list):
        return numpy.asarray(key)
    return key


def _minmax(t, dim, keepdim, is_max):
    if isinstance(dim, Tensor):
        return _ops.Maximum.apply(t, dim, is_max)
    if dim is None:
        if t._data.size == 0:
            raise RuntimeError(f"{'max' if is_max else 'min'}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' argument.")
        return _ops.MaxMinAll.apply(t, is_max)
    d = _norm_dim(dim, t._data.ndim)
    values, indices = _ops.MaxMinDim.apply(t, d, keepdim, is_max)
    return (return_types_max if is_max else return_types_min)(values, indices)


def _arg(t, dim, keepdim, name):
    xp = _backend.get_array_module(t._data)
    if dim is None:
        out = getattr(xp, name)(t._data.reshape(-1))
        if keepdim:
            out = out.reshape((1,) * t._data.ndim)
        return Tensor._wrap(xp.asarray(out, dtype=numpy.int64))
    d = _norm_dim(dim, t._data.ndim)
    out = getattr(xp, name)(t._data, axis=d, keepdims=keepdim) if t._data.ndim else getattr(xp, name)(t._data)
    return Tensor._wrap(xp.asarray(out, dtype=numpy.int64))


class _ReturnType(tuple):
    _fields = ("values", "indices")

    def __new__(cls, values, indices):
        return tuple.__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]

    def __repr__(self):
        return f"nnlite.return_types.{self._name}(\nvalues={self[0]!r},\nindices={self[1]!r})"


class return_types_max(_ReturnType):
    """``(values, indices)`` returned by ``Tensor.max(dim)``."""
    _name = "max"


class return_types_min(_ReturnType):
    """``(values, indices)`` returned by ``Tensor.min(dim)``."""
    _name = "min"


class return_types_sort(_ReturnType):
    """``(values, indices)`` returned by ``Tensor.sort``."""
    _name = "sort"


class return_types_topk(_ReturnType):
    """``(values, indices)`` returned by ``Tensor.topk``."""
    _name = "topk"


def _parse_to(args, kwargs):
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    other = kwargs.pop("other", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            other = a
        elif isinstance(a, (_device, str, int)) and not isinstance(a, bool):
            dev = a
        elif a is not None:
            dtype = a
    if other is not None:
        dev, dtype = other.device, other.dtype
    if dtype is not None:
        dtype = _dtype.as_dtype(dtype)
    return dev, dtype, copy


def _sample(rng, kind, shape, dtype, a, b):
    if dtype.kind != "f":
        raise RuntimeError(f"{kind}_ expects a floating point tensor, but got {dtype}")
    if kind == "normal":
        if b < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {b}")
        if dtype in (numpy.float32, numpy.float64) and hasattr(rng, "standard_normal"):
            out = rng.standard_normal(shape, dtype=dtype)
        else:
            out = rng.normal(size=shape).astype(dtype)
        if b != 1:
            out *= b
        if a != 0:
            out += a
        return out
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
    out = rng.random(shape, dtype=dtype) if dtype in (numpy.float32, numpy.float64) else rng.random(shape)
    out = out.astype(dtype, copy=False)
    if (b - a) != 1:
        out *= (b - a)
    if a != 0:
        out += a
    return out


def sum_to_shape(g, shape):
    """Sum a broadcast gradient ``g`` down to ``shape`` (the operand's shape before broadcasting)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead < 0:
        return None
    # the bias of a 1D conv net: (N, C, L) reduced to (C, 1) or (1, C, 1)
    if (g.ndim == 3 and type(g) is _np_ndarray and g.dtype.kind == "f" and g.dtype.itemsize >= 4
            and shape[-2:] == (g.shape[1], 1) and all(s == 1 for s in shape[:-2])):
        from nnlite._kernels import _reduce
        from nnlite._threads import threads_for
        out = numpy.empty(g.shape[1], g.dtype)
        _reduce.sum_batch_length(numpy.ascontiguousarray(g), out, threads_for(g.size))
        return out.reshape(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    for i, s in enumerate(shape):
        if s != 1 and g.shape[lead + i] != s:
            return None
    out = g.sum(axis=axes, keepdims=True) if axes else g
    return out.reshape(shape)


def _format(t, prefix):
    a = t._data
    host = _backend.to_device(a, _backend.CPU) if type(a) is not _np_ndarray else a
    extras = []
    default_float = _dtype.get_default_dtype()
    if a.size == 0 and a.ndim != 1:
        body = f"[], size={tuple(a.shape)}"
    else:
        body = numpy.array2string(host, separator=", ", prefix=prefix, threshold=1000, edgeitems=3,
                                  precision=4, floatmode="maxprec_equal" if a.dtype.kind == "f" else "maxprec")
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    if a.dtype not in (default_float, numpy.dtype("int64"), numpy.dtype("bool")):
        extras.append(f"dtype=nnlite.{a.dtype.name}")
    if t._grad_fn is not None:
        extras.append(f"grad_fn=<{t._grad_fn.name()}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"


# ---------------------------------------------------------------------------------------------------
# creation
# ---------------------------------------------------------------------------------------------------
def is_tensor(obj):
    """True for nnlite Tensors (and Parameters)."""
    return isinstance(obj, Tensor)


def _infer_dtype(data):
    """PyTorch's inference: Python floats → default dtype, ints → int64, bools → bool."""
    a = numpy.asarray(data)
    if a.dtype.kind == "f" and not isinstance(data, (numpy.ndarray, numpy.generic)):
        return _dtype.get_default_dtype()
    if a.dtype.kind in "iu" and not isinstance(data, (numpy.ndarray, numpy.generic)):
        return _dtype.int64
    return a.dtype


def _new(array, requires_grad):
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad = True
    return t


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays or a Tensor).

    >>> import nnlite
    >>> nnlite.tensor([[1, 2], [3, 4]]).dtype
    dtype('int64')
    >>> nnlite.tensor([0.5]).dtype
    dtype('float32')

    See PyTorch's ``torch.tensor``.
    """
    if isinstance(data, Tensor):
        data = data.detach()._data
    dev = _backend.resolve_device(device) if device is not None else (
        _backend.device_of(data) if _backend.is_cupy_array(data) else _backend.CPU)
    if _backend.is_cupy_array(data):
        dt = data.dtype if dtype is None else _dtype.as_dtype(dtype)
        arr = _backend.to_device(data.astype(dt, copy=True), dev)
        return _new(arr, requires_grad)
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
        data = _nested_to_host(data)
    _check_numeric(data)
    dt = _infer_dtype(data) if dtype is None else _dtype.as_dtype(dtype)
    arr = numpy.array(data, dtype=dt, copy=True)
    if dev.type != "cpu":
        arr = _backend.to_device(arr, dev)
    return _new(arr, requires_grad)


def _check_numeric(data):
    """PyTorch's TypeError for strings, bytes and object or string arrays, before numpy makes odd arrays of them."""
    if isinstance(data, numpy.ndarray):
        if data.dtype.kind not in "fiubc":
            raise TypeError(_unsupported_array(data))
        return
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], str):
        raise ValueError("too many dimensions 'str'")  # PyTorch reads a leading str as a sequence
    leaves = _flat(data) if isinstance(data, (list, tuple)) else (data,)
    for x in leaves:
        if isinstance(x, (str, bytes)):
            raise TypeError(f"new(): invalid data type '{type(x).__name__}'")
        if isinstance(x, numpy.ndarray):
            _check_numeric(x)
        elif not isinstance(x, (int, float, complex, numpy.generic)) or (
                isinstance(x, numpy.generic) and x.dtype.kind not in "fiubc"):
            raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")


def _flat(seq):
    for x in seq:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def _nested_to_host(seq):
    return [_nested_to_host(x) if isinstance(x, (list, tuple)) else
            (x.item() if isinstance(x, Tensor) else x) for x in seq]


def from_numpy(a):
    """A tensor sharing memory with the numpy array ``a`` (no copy; writes show on both sides).

    >>> import nnlite, numpy
    >>> a = numpy.zeros(2, dtype=numpy.float32); t = nnlite.from_numpy(a); a[0] = 5
    >>> t.tolist()
    [5.0, 0.0]

    See PyTorch's ``torch.from_numpy``.
    """
    if not isinstance(a, numpy.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(a).__name__})")
    if a.dtype.kind not in "fiub":
        raise TypeError(_unsupported_array(a))
    return Tensor._wrap(a)


def _unsupported_array(a):
    return (f"can't convert np.ndarray of type numpy.{a.dtype.type.__name__}. The only supported types are: "
            "float64, float32, float16, int64, int32, int16, int8, uint8, and bool.")


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing memory when its dtype and device already match (see ``torch.as_tensor``).

    A numpy or CuPy array of the right dtype on the right device is wrapped
    without a copy; a Tensor is returned as is.
    """
    dt = None if dtype is None else _dtype.as_dtype(dtype)
    if isinstance(data, Tensor):
        return data._to(device, dt)
    if isinstance(data, numpy.ndarray) or _backend.is_cupy_array(data):
        if isinstance(data, numpy.ndarray):
            _check_numeric(data)
        src_dev = _backend.device_of(data)
        dev = src_dev if device is None else _backend.resolve_device(device)
        arr = data if dt is None or data.dtype == dt else data.astype(dt)
        return Tensor._wrap(_backend.to_device(arr, dev))
    return tensor(data, dtype=dt, device=device)


def _size_and_xp(size, device):
    shape = _shape_args(size)
    dev = _backend.resolve_device(device)
    return shape, _backend.array_module_for(dev), dev


def _make(xp, dev, fn):
    if dev.type == "cpu":
        return fn()
    with xp.cuda.Device(dev.index):
        return fn()


def _float_dtype(dtype):
    return _dtype.get_default_dtype() if dtype is None else _dtype.as_dtype(dtype)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))`` (see ``torch.zeros``)."""
    shape, xp, dev = _size_and_xp(size, device)
    return _new(_make(xp, dev, lambda: xp.zeros(shape, _float_dtype(dtype))), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones (see ``torch.ones``)."""
    shape, xp, dev = _size_and_xp(size, device)
    return _new(_make(xp, dev, lambda: xp.ones(shape, _float_dtype(dtype))), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """A tensor with uninitialised values (see ``torch.empty``)."""
    shape, xp, dev = _size_and_xp(size, device)
    return _new(_make(xp, dev, lambda: xp.empty(shape, _float_dtype(dtype))), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor filled with ``fill_value``; its dtype follows the value as PyTorch's does."""
    shape, xp, dev = _size_and_xp((size,) if isinstance(size, int) else (tuple(size),), device)
    if dtype is None:
        dtype = (_dtype.bool_ if isinstance(fill_value, bool) else
                 _dtype.int64 if isinstance(fill_value, int) else _dtype.get_default_dtype())
    return _new(_make(xp, dev, lambda: xp.full(shape, fill_value, _dtype.as_dtype(dtype))), requires_grad)


def _like(fn, t, dtype, device, requires_grad):
    """``fn(t.shape, ...)`` with ``t``'s dtype and device unless others are given."""
    return fn(t.shape, dtype=t.dtype if dtype is None else dtype, device=t.device if device is None else device,
              requires_grad=requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    """Zeros with ``t``'s shape, dtype and device."""
    return _like(zeros, t, dtype, device, requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    """Ones with ``t``'s shape, dtype and device."""
    return _like(ones, t, dtype, device, requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor with ``t``'s shape, dtype and device."""
    return _like(empty, t, dtype, device, requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor filled with ``fill_value``, with ``t``'s shape, dtype and device."""
    return _like(lambda shape, **kw: full(shape, fill_value, **kw), t, dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Samples of N(0, 1) from nnlite's seeded generator (see ``torch.randn``)."""
    t = empty(*size, dtype=dtype, device=device)
    with grad_mode.no_grad():
        t.normal_(generator=generator)
    return t.requires_grad_(requires_grad) if requires_grad else t


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Samples of U[0, 1) from nnlite's seeded generator (see ``torch.rand``)."""
    t = empty(*size, dtype=dtype, device=device)
    with grad_mode.no_grad():
        t.uniform_(generator=generator)
    return t.requires_grad_(requires_grad) if requires_grad else t


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` to ``end`` (exclusive) by ``step``; integer unless any bound is a float."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = (_dtype.get_default_dtype() if any(isinstance(v, float) for v in (start, end, step))
                 else _dtype.int64)
    dev = _backend.resolve_device(device)
    xp = _backend.array_module_for(dev)
    return _new(_make(xp, dev, lambda: xp.arange(start, end, step, dtype=_dtype.as_dtype(dtype))),
                requires_grad)


def cat(tensors, dim=0):
    """Join tensors along an existing dimension (see ``torch.cat``)."""
    tensors = [as_tensor(t) if not isinstance(t, Tensor) else t for t in tensors]
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    d = _norm_dim(dim, tensors[0].ndim)
    return _ops.Cat.apply(d, *tensors)


def stack(tensors, dim=0):
    """Join tensors along a new dimension (see ``torch.stack``)."""
    tensors = [as_tensor(t) if not isinstance(t, Tensor) else t for t in tensors]
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                               f"and {list(t.shape)} at entry {i}")
    d = _norm_dim(dim, tensors[0].ndim + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other``; gradients flow to both."""
    cond = condition._data if isinstance(condition, Tensor) else condition
    like = input if isinstance(input, Tensor) else other
    return _ops.Where.apply(cond, _operand(input, like), _operand(other, like))


def _check_alpha(x, alpha, name):
    if isinstance(alpha, float) and x.dtype.kind in "iub":
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")


def _into(result, out, name):
    """Write ``result`` into the ``out=`` tensor (resized as PyTorch does) and return it; None: ``result``."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if grad_mode._state.enabled and (result.requires_grad or out.requires_grad):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")
    if not numpy.can_cast(result.dtype, out.dtype, "same_kind"):
        raise RuntimeError(f"result type {result.dtype} can't be cast to the desired output type {out.dtype}")
    if out.shape != result.shape:
        if out.numel():
            import warnings
            warnings.warn(f"An output with one or more elements was resized since it had shape {list(out.shape)}, "
                          f"which does not match the required output shape {list(result.shape)}. This behavior "
                          "is deprecated, and in a future PyTorch release outputs will not be resized unless they "
                          "have zero elements. You can explicitly reuse an out tensor t by resizing it, inplace, "
                          "to zero elements with t.resize_(0).", UserWarning, stacklevel=3)
        out._data = _backend.get_array_module(out._data).empty(result.shape, out.dtype)
    out._data[...] = result._data
    out._vc[0] += 1
    return out


def _as_operand(input):
    return input if isinstance(input, Tensor) else as_tensor(input)


def add(input, other, *, alpha=1, out=None):
    """``input + alpha * other`` with broadcasting, optionally into ``out`` (see ``torch.add``).

    >>> import nnlite
    >>> nnlite.add(nnlite.tensor([1.0, 2.0]), 10, alpha=2).tolist()
    [21.0, 22.0]
    """
    x = _as_operand(input)
    _check_alpha(x, alpha, "add")
    return _into(x + (other * alpha if alpha != 1 else other), out, "add")


def sub(input, other, *, alpha=1, out=None):
    """``input - alpha * other`` with broadcasting, optionally into ``out`` (see ``torch.sub``)."""
    x = _as_operand(input)
    _check_alpha(x, alpha, "sub")
    return _into(x - (other * alpha if alpha != 1 else other), out, "sub")


def mul(input, other, *, out=None):
    """``input * other`` with broadcasting, optionally into ``out`` (see ``torch.mul``)."""
    return _into(_as_operand(input) * other, out, "mul")


def div(input, other, *, rounding_mode=None, out=None):
    """``input / other``; ``rounding_mode='trunc'`` or ``'floor'`` rounds the quotient (and keeps integer
    dtypes, as PyTorch does; the rounded forms carry no gradient).  See ``torch.div``.

    >>> import nnlite
    >>> nnlite.div(nnlite.tensor([7, -7]), 2, rounding_mode='floor').tolist()
    [3, -4]
    """
    x = _as_operand(input)
    if rounding_mode is None:
        return _into(x / other, out, "div")
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"'{rounding_mode}'")
    o = other._data if isinstance(other, Tensor) else other
    a = x._data
    xp = _backend.get_array_module(a, *([o] if not isinstance(o, numbers.Number) else []))
    q = xp.floor_divide(a, o) if rounding_mode == "floor" else xp.trunc(xp.true_divide(a, o))
    if a.dtype.kind in "iu" and (not isinstance(o, float)) and getattr(o, "dtype", a.dtype).kind in "iu":
        q = xp.trunc(xp.true_divide(a, o)).astype(numpy.result_type(a, o)) if rounding_mode == "trunc" else q
    return _into(Tensor._wrap(xp.asarray(q)), out, "div")


def randn_like(input, dtype=None, device=None, requires_grad=False):
    """N(0, 1) samples with ``input``'s shape, dtype and device (see ``torch.randn_like``)."""
    return randn(input.shape, dtype=input.dtype if dtype is None else dtype,
                 device=input.device if device is None else device, requires_grad=requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False):
    """U[0, 1) samples with ``input``'s shape, dtype and device (see ``torch.rand_like``)."""
    return rand(input.shape, dtype=input.dtype if dtype is None else dtype,
                device=input.device if device is None else device, requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (see ``torch.linspace``).

    >>> import nnlite
    >>> nnlite.linspace(0, 1, 5).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise RuntimeError("linspace(): number of steps must be non-negative")
    dev = _backend.resolve_device(device)
    xp = _backend.array_module_for(dev)
    dt = _float_dtype(dtype)
    return _new(_make(xp, dev, lambda: xp.linspace(start, end, int(steps)).astype(dt)), requires_grad)


def _numpy_kwargs(fn, keepdims):
    """``fn`` that also takes numpy's ``axis=`` (and ``keepdims=``) for ``dim=`` (and ``keepdim=``), as PyTorch does."""
    aliases = (("axis", "dim"), ("keepdims", "keepdim")) if keepdims else (("axis", "dim"),)

    def method(self, *args, **kwargs):
        if kwargs:
            for alias, name in aliases:
                if alias in kwargs:
                    if name in kwargs:
                        raise TypeError(f"{fn.__name__}() got multiple values for argument '{name}'")
                    kwargs[name] = kwargs.pop(alias)
        return fn(self, *args, **kwargs)
    method.__name__, method.__qualname__, method.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return method


for _name in ("sum", "mean", "var", "std", "max", "min", "argmax", "argmin", "all", "any"):
    setattr(Tensor, _name, _numpy_kwargs(getattr(Tensor, _name), True))
for _name in ("softmax", "log_softmax", "squeeze", "unsqueeze", "chunk", "split", "sort", "topk", "unbind",
              "gather", "argsort"):
    setattr(Tensor, _name, _numpy_kwargs(getattr(Tensor, _name), False))
cat = _numpy_kwargs(cat, False)
stack = _numpy_kwargs(stack, False)
del _name


from nnlite import _ops  # noqa: E402  (the ops need Tensor defined first)

function._Tensor = Tensor
