"""``GroupNorm`` and ``LayerNorm`` (see PyTorch's ``torch.nn.GroupNorm`` and ``torch.nn.LayerNorm``)."""
import numbers

from nnlite import _backend
from nnlite._dtype import as_dtype, get_default_dtype
from nnlite._tensor import empty
from nnlite.nn import functional as F
from nnlite.nn import init
from nnlite.nn.modules.module import Module
from nnlite.nn.parameter import Parameter

__all__ = ["GroupNorm", "LayerNorm"]


def _scale_and_shift(module, shape, affine, bias, device, dtype):
    """Register the elementwise ``weight`` (ones) and ``bias`` (zeros) of a norm layer, or None for each."""
    if affine:
        kw = dict(dtype=get_default_dtype() if dtype is None else as_dtype(dtype),
                  device=_backend.resolve_device(device))
        module.weight = Parameter(empty(*shape, **kw))
        if bias:
            module.bias = Parameter(empty(*shape, **kw))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)
    _reset_scale_and_shift(module)


def _reset_scale_and_shift(module):
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class GroupNorm(Module):
    """Normalise (N, C, *) over groups of ``num_channels / num_groups`` channels and the trailing
    dimensions, then scale and shift per channel.  The keyword-only ``bias`` follows the installed
    PyTorch (2.13).  See PyTorch's ``torch.nn.GroupNorm``.

    >>> from nnlite.nn.modules.normalization import GroupNorm
    >>> GroupNorm(2, 4)
    GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _scale_and_shift(self, (num_channels,), affine, bias, device, dtype)

    def reset_parameters(self):
        """Weight 1, bias 0."""
        _reset_scale_and_shift(self)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LayerNorm(Module):
    """Normalise over the last ``len(normalized_shape)`` dimensions, then scale and shift elementwise.

    See PyTorch's ``torch.nn.LayerNorm``.

    >>> from nnlite.nn.modules.normalization import LayerNorm
    >>> import nnlite
    >>> m = LayerNorm(10)
    >>> m
    LayerNorm((10,), eps=1e-05, elementwise_affine=True, bias=True)
    >>> m(nnlite.randn(4, 10)).shape
    nnlite.Size([4, 10])
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _scale_and_shift(self, self.normalized_shape, elementwise_affine, bias, device, dtype)

    def reset_parameters(self):
        """Weight 1, bias 0."""
        _reset_scale_and_shift(self)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")
