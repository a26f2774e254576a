"""``Conv1d``: a 1D convolution layer with every option of PyTorch's."""

from nnlite.nn import functional as F
from nnlite.nn import init
from nnlite.nn import _conv
from nnlite.nn._conv import same_padding, single
from nnlite.nn.modules.module import Module

__all__ = ["Conv1d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class Conv1d(Module):
    """Apply a 1D convolution over an input of shape (N, C_in, L) or (C_in, L).

    Arguments, defaults, initialisation, ``extra_repr`` and errors follow
    PyTorch's ``torch.nn.Conv1d``.  ``padding`` is an int, a 1-tuple, ``'valid'``
    or ``'same'``; ``padding_mode`` is ``'zeros'``, ``'reflect'``, ``'replicate'``
    or ``'circular'`` (the non-zero modes pad with ``F.pad`` first).  Numpy
    arrays are accepted as input and the output is a Tensor.

    >>> import nnlite, numpy
    >>> m = nnlite.nn.Conv1d(16, 33, 3, stride=2)
    >>> m
    Conv1d(16, 33, kernel_size=(3,), stride=(2,))
    >>> m(numpy.zeros((20, 16, 50), dtype=numpy.float32)).shape
    nnlite.Size([20, 33, 24])
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        kernel_size = single(kernel_size, "kernel_size")
        stride = single(stride, "stride")
        dilation = single(dilation, "dilation")
        check_groups(in_channels, out_channels, groups)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
            if padding == "same" and stride[0] != 1:
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = single(padding, "padding")
            if padding[0] < 0:
                raise ValueError(f"padding must be non-negative, but got {padding[0]}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {{'zeros', 'reflect', 'circular', 'replicate'}}, but "
                             f"got padding_mode='{padding_mode}'")
        if kernel_size[0] <= 0 or stride[0] <= 0 or dilation[0] <= 0:
            raise ValueError(f"kernel_size, stride and dilation must be positive, but got kernel_size="
                             f"{kernel_size}, stride={stride}, dilation={dilation}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = False
        self.output_padding = (0,)
        self.groups = groups
        self.padding_mode = padding_mode
        if padding == "valid":
            lr = (0, 0)
        elif padding == "same":
            lr = same_padding(kernel_size[0], dilation[0])
        else:
            lr = (padding[0], padding[0])
        self._reversed_padding_repeated_twice = list(lr)
        init.affine_parameters(self, (out_channels, in_channels // groups, kernel_size[0]),
                               out_channels if bias else 0, device, dtype)

    def reset_parameters(self):
        """Draw the weight from kaiming_uniform_(a=sqrt(5)) and the bias from U(±1/sqrt(fan_in))."""
        init.reset_affine(self.weight, self.bias)

    def forward(self, input):
        # the constructor validated the arguments: go straight to the tensor checks.  A name in
        # _parameters is never also a plain attribute (Module keeps them apart), so reading the
        # dict is self.weight / self.bias without the failed attribute lookup behind __getattr__
        p = self._parameters
        w = p["weight"] if "weight" in p else self.weight
        b = p["bias"] if "bias" in p else self.bias
        return self._conv_forward(input, w, b)

    def _conv_forward(self, input, w, b):
        """This layer's convolution (stride, padding, dilation, groups) with weight ``w`` and bias ``b``."""
        if self.padding_mode != "zeros":
            x = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return _conv.apply(x, w, b, self.stride[0], (0, 0), self.dilation[0], self.groups)
        lr = self._reversed_padding_repeated_twice
        return _conv.apply(input, w, b, self.stride[0], (lr[0], lr[1]), self.dilation[0], self.groups)

    def extra_repr(self):
        return conv_extra_repr(self)


def conv_extra_repr(m):
    """PyTorch's ``_ConvNd.extra_repr``: the options that differ from their defaults (Conv1d, ConvTranspose1d)."""
    s = f"{m.in_channels}, {m.out_channels}, kernel_size={m.kernel_size}, stride={m.stride}"
    if m.padding != (0,) * len(m.padding):
        s += f", padding={m.padding}"
    if m.dilation != (1,):
        s += f", dilation={m.dilation}"
    if m.output_padding != (0,):
        s += f", output_padding={m.output_padding}"
    if m.groups != 1:
        s += f", groups={m.groups}"
    if m.bias is None:
        s += ", bias=False"
    if m.padding_mode != "zeros":
        s += f", padding_mode={m.padding_mode}"
    return s


def check_groups(in_channels, out_channels, groups):
    """PyTorch's constructor errors for ``groups`` (Conv1d, ConvTranspose1d)."""
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
        raise ValueError("groups must be a positive integer")
    if in_channels % groups != 0:
        raise ValueError("in_channels must be divisible by groups")
    if out_channels % groups != 0:
        raise ValueError("out_channels must be divisible by groups")
