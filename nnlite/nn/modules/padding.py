"""1D padding layers (see PyTorch's ``torch.nn.ConstantPad1d``, ``ZeroPad1d``, ``ReflectionPad1d``,
``ReplicationPad1d``, ``CircularPad1d``): ``F.pad`` of the last dimension with a fixed ``(left, right)``.

>>> import nnlite
>>> from nnlite.nn.modules.padding import ReflectionPad1d
>>> ReflectionPad1d(2)(nnlite.tensor([[[1.0, 2.0, 3.0]]])).tolist()
[[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]]
"""
from nnlite.nn import functional as F
from nnlite.nn.modules.module import Module

__all__ = ["ConstantPad1d", "ZeroPad1d", "ReflectionPad1d", "ReplicationPad1d", "CircularPad1d"]


def _pair(padding):
    if isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            raise ValueError(f"padding must be an int or a 2-tuple (left, right), but got {padding}")
        return tuple(int(p) for p in padding)
    return (int(padding), int(padding))


class _PadNd(Module):
    mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _pair(padding)

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class ConstantPad1d(_PadNd):
    """Pad the last dimension with ``value`` (see PyTorch's ``torch.nn.ConstantPad1d``).

    >>> from nnlite.nn.modules.padding import ConstantPad1d
    >>> ConstantPad1d(2, 3.5)
    ConstantPad1d(padding=(2, 2), value=3.5)
    """

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ZeroPad1d(ConstantPad1d):
    """Pad the last dimension with zeros (see PyTorch's ``torch.nn.ZeroPad1d``)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Pad with the reflection of the input, edge excluded (see PyTorch's ``torch.nn.ReflectionPad1d``)."""
    mode = "reflect"


class ReplicationPad1d(_PadNd):
    """Pad by repeating the edge values (see PyTorch's ``torch.nn.ReplicationPad1d``)."""
    mode = "replicate"


class CircularPad1d(_PadNd):
    """Pad by wrapping around (see PyTorch's ``torch.nn.CircularPad1d``)."""
    mode = "circular"
