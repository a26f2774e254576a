"""``Variable``: PyTorch's legacy name for a tensor that records gradients.

``Variable(t, requires_grad=True)`` returns a new leaf tensor sharing ``t``'s
values; ``isinstance(x, Variable)`` is True for every tensor, as in PyTorch
since 0.4.

>>> import nnlite
>>> from nnlite.autograd import Variable
>>> v = Variable(nnlite.ones(2), requires_grad=True)
>>> v.requires_grad, isinstance(nnlite.zeros(1), Variable)
(True, True)

See PyTorch's ``torch.autograd.Variable``.
"""
__all__ = ["Variable"]


class _VariableMeta(type):
    def __instancecheck__(cls, other):
        from nnlite._tensor import Tensor
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """The legacy wrapper: calling it gives a Tensor (see the module docstring)."""

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        from nnlite._tensor import Tensor, tensor
        if data is None:
            data = tensor([])
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        out = data.detach()
        if requires_grad:
            out.requires_grad_(True)
        return out
