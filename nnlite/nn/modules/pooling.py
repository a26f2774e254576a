"""1D pooling layers (see PyTorch's ``torch.nn.MaxPool1d``, ``AvgPool1d``, ``AdaptiveAvgPool1d``,
``AdaptiveMaxPool1d``).

Output length: ``floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
(``ceil`` with ``ceil_mode=True``, dropping a last window that would start in the
right padding); ``padding`` must be at most half the kernel size.

>>> from nnlite.nn.modules.pooling import MaxPool1d, AvgPool1d
>>> import nnlite
>>> MaxPool1d(3, stride=2, ceil_mode=True)(nnlite.zeros(1, 2, 10)).shape
nnlite.Size([1, 2, 5])
>>> AvgPool1d(3)
AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))
"""
from nnlite.nn import functional as F
from nnlite.nn.modules.module import Module

__all__ = ["MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "MaxUnpool1d"]


def _single(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


class MaxPool1d(Module):
    """Max over sliding windows; ``return_indices=True`` also returns the int64 argmax positions
    (ties: the first).  See PyTorch's ``torch.nn.MaxPool1d``.

    >>> from nnlite.nn.modules.pooling import MaxPool1d
    >>> MaxPool1d(3)
    MaxPool1d(kernel_size=3, stride=3, padding=0, dilation=1, ceil_mode=False)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(Module):
    """Mean over sliding windows; ``count_include_pad`` counts the zero padding in the divisor.
    See PyTorch's ``torch.nn.AvgPool1d``.

    >>> from nnlite.nn.modules.pooling import AvgPool1d
    >>> import nnlite
    >>> AvgPool1d(2)(nnlite.tensor([[[1.0, 3.0, 5.0, 7.0]]])).tolist()
    [[[2.0, 6.0]]]
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Mean over ``output_size`` windows ``[floor(i L / out), ceil((i + 1) L / out))``.
    See PyTorch's ``torch.nn.AdaptiveAvgPool1d``.

    >>> from nnlite.nn.modules.pooling import AdaptiveAvgPool1d
    >>> import nnlite
    >>> AdaptiveAvgPool1d(1)(nnlite.tensor([[[1.0, 2.0, 6.0]]])).tolist()
    [[[3.0]]]
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(Module):
    """Max over ``output_size`` adaptive windows (see :class:`AdaptiveAvgPool1d`).
    See PyTorch's ``torch.nn.AdaptiveMaxPool1d``.

    >>> from nnlite.nn.modules.pooling import AdaptiveMaxPool1d
    >>> AdaptiveMaxPool1d(5)
    AdaptiveMaxPool1d(output_size=5)
    """

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class MaxUnpool1d(Module):
    """The inverse of :class:`MaxPool1d` with ``return_indices=True``: ``forward(input, indices, output_size=None)``.

    See PyTorch's ``torch.nn.MaxUnpool1d``.

    >>> from nnlite.nn.modules.pooling import MaxUnpool1d
    >>> MaxUnpool1d(2)
    MaxUnpool1d(kernel_size=(2,), stride=(2,), padding=(0,))
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)

    def forward(self, input, indices, output_size=None):
        return F.max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
