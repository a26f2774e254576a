"""``Parameter`` (a Tensor that a Module registers as a learnable weight) and ``Buffer``.

>>> import nnlite
>>> p = nnlite.nn.Parameter(nnlite.zeros(2))
>>> p
Parameter containing:
tensor([0., 0.], requires_grad=True)
>>> isinstance(p, nnlite.Tensor)
True

See PyTorch's ``torch.nn.Parameter`` and ``torch.nn.Buffer``.
"""
import numpy

from nnlite import _backend, _dtype
from nnlite._tensor import Tensor

__all__ = ["Parameter", "Buffer"]


def _shared_array(data, who):
    """The array behind ``data`` (a Tensor, a numpy or CuPy array, or None), never copied."""
    if data is None:
        return numpy.empty((0,), _dtype.get_default_dtype())
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, numpy.ndarray) or _backend.is_cupy_array(data):
        return data
    raise TypeError(f"{who}(): argument 'data' must be a Tensor or an array, not {type(data).__name__}")


class Parameter(Tensor):
    """A Tensor that, assigned as a Module attribute, is registered as one of the module's parameters.

    ``Parameter(data=None, requires_grad=True)``: ``data`` (a Tensor or a numpy/CuPy
    array) is shared, not copied; ``None`` gives an empty tensor of the default
    dtype.  ``requires_grad`` is kept as given, even inside ``nnlite.no_grad()``.
    ``copy.deepcopy`` and pickle give back a Parameter with the same ``requires_grad``.

    >>> import nnlite, numpy
    >>> a = numpy.ones(3, dtype=numpy.float32)
    >>> p = nnlite.nn.Parameter(a)
    >>> p.requires_grad, p.numpy(force=True) is a
    (True, True)

    See PyTorch's ``torch.nn.Parameter``.
    """

    def __init__(self, data=None, requires_grad=True):
        Tensor.__init__(self, _shared_array(data, "Parameter"))
        if isinstance(data, Tensor):
            self._vc = data._vc  # same array, same version counter (in-place changes show on both)
        if requires_grad:
            self.requires_grad = True

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self)


class Buffer(Tensor):
    """A Tensor that, assigned as a Module attribute, is registered as a buffer (state that is not learnt).

    ``Buffer(data=None, *, persistent=True)`` shares ``data``'s array; a
    non-persistent buffer is left out of ``state_dict``.

    >>> import nnlite
    >>> class M(nnlite.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.count = nnlite.nn.Buffer(nnlite.zeros(1))
    ...         self.cache = nnlite.nn.Buffer(nnlite.zeros(1), persistent=False)
    >>> list(M().state_dict())
    ['count']

    See PyTorch's ``torch.nn.Buffer``.
    """

    def __init__(self, data=None, *, persistent=True):
        Tensor.__init__(self, _shared_array(data, "Buffer"))
        if isinstance(data, Tensor):
            self._vc = data._vc
            self._requires_grad = data._requires_grad  # a detached leaf, as PyTorch's Buffer
        self.persistent = persistent
