"""``ConvTranspose1d`` (see PyTorch's ``torch.nn.ConvTranspose1d``)."""

from nnlite.nn import functional as F
from nnlite.nn import init
from nnlite.nn._conv import single
from nnlite.nn.modules.conv import check_groups, conv_extra_repr
from nnlite.nn.modules.module import Module

__all__ = ["ConvTranspose1d"]


class ConvTranspose1d(Module):
    """A 1D transposed convolution (the gradient of Conv1d with respect to its input).

    ``weight`` is (in_channels, out_channels // groups, kernel_size); the output
    length is ``(L - 1) * stride - 2 * padding + dilation * (kernel_size - 1) +
    output_padding + 1``.  ``forward(input, output_size=None)``: ``output_size``
    picks the output_padding that gives that length.  Only ``padding_mode='zeros'``
    exists, as in PyTorch.  See PyTorch's ``torch.nn.ConvTranspose1d``.

    >>> from nnlite.nn.modules.conv_transpose import ConvTranspose1d
    >>> import nnlite
    >>> m = ConvTranspose1d(16, 33, 3, stride=2)
    >>> m
    ConvTranspose1d(16, 33, kernel_size=(3,), stride=(2,))
    >>> m(nnlite.randn(20, 16, 50)).shape
    nnlite.Size([20, 33, 101])
    >>> m(nnlite.randn(20, 16, 50), output_size=[102]).shape
    nnlite.Size([20, 33, 102])
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        check_groups(in_channels, out_channels, groups)
        if padding_mode != "zeros":
            raise ValueError('Only "zeros" padding mode is supported for ConvTranspose1d')
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose1d does not support string padding, but got padding={padding!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = single(kernel_size, "kernel_size")
        self.stride = single(stride, "stride")
        self.padding = single(padding, "padding")
        self.dilation = single(dilation, "dilation")
        self.transposed = True
        self.output_padding = single(output_padding, "output_padding")
        self.groups = groups
        self.padding_mode = padding_mode
        init.affine_parameters(self, (in_channels, out_channels // groups, self.kernel_size[0]),
                               out_channels if bias else 0, device, dtype)

    def reset_parameters(self):
        """kaiming_uniform_(a=sqrt(5)) with fan_in = weight.shape[1] * K; bias U(±1/sqrt(fan_in)), as PyTorch."""
        init.reset_affine(self.weight, self.bias)

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding[0]
        output_size = list(output_size)
        non_spatial = 2 if input.dim() == 3 else 1
        if len(output_size) == non_spatial + 1:
            output_size = output_size[non_spatial:]
        if len(output_size) != 1:
            raise ValueError(f"ConvTranspose1D: for {input.dim()}D input, output_size must have 1 or "
                             f"{non_spatial + 1} elements (got {len(output_size)})")
        k, s, p, d = self.kernel_size[0], self.stride[0], self.padding[0], self.dilation[0]
        lo = (input.shape[-1] - 1) * s - 2 * p + d * (k - 1) + 1
        hi = lo + s - 1
        if not lo <= output_size[0] <= hi:
            raise ValueError(f"requested an output size of {output_size}, but valid sizes range from [{lo}] to "
                             f"[{hi}] (for an input of nnlite.Size([{input.shape[-1]}]))")
        return output_size[0] - lo

    def forward(self, input, output_size=None):
        if self.padding_mode != "zeros":
            raise ValueError("Only `zeros` padding mode is supported for ConvTranspose1d")
        op = self._output_padding(input, output_size)
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                  self.dilation)

    def extra_repr(self):
        return conv_extra_repr(self)
