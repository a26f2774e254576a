"""``parameters_to_vector`` and ``vector_to_parameters``: all parameters as one flat vector and back.

>>> import nnlite
>>> from nnlite.nn.utils import parameters_to_vector, vector_to_parameters
>>> m = nnlite.nn.Linear(2, 1)
>>> v = parameters_to_vector(m.parameters()); v.shape
nnlite.Size([3])
>>> vector_to_parameters(nnlite.zeros(3), m.parameters()); m.bias.tolist()
[0.0]

See PyTorch's ``torch.nn.utils.parameters_to_vector``.
"""
from nnlite._tensor import Tensor, cat

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_same_device(param, old):
    if old is not None and param.device != old:
        raise TypeError("Found two parameters on different devices, this is currently not supported.")
    return param.device


def parameters_to_vector(parameters):
    """One vector of every parameter's values, flattened and concatenated in order (differentiable).

    See PyTorch's ``torch.nn.utils.parameters_to_vector``.
    """
    dev, flat = None, []
    for p in parameters:
        dev = _check_same_device(p, dev)
        flat.append(p.reshape(-1))
    return cat(flat)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of ``vec`` into the parameters (each takes its own number of elements).

    Each parameter's ``data`` becomes a view of ``vec``, as in PyTorch.  See
    PyTorch's ``torch.nn.utils.vector_to_parameters``.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    need = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != need:
        raise RuntimeError(f"shape '[{need}]' is invalid for input of size {vec.numel()}")
    dev, start = None, 0
    for p in params:
        dev = _check_same_device(p, dev)
        n = p.numel()
        p.data = vec[start:start + n].view_as(p).data
        start += n
