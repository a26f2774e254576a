"""``Linear`` and ``Identity`` (see PyTorch's ``torch.nn.Linear`` and ``torch.nn.Identity``)."""

from nnlite.nn import functional as F
from nnlite.nn import init
from nnlite.nn.modules.module import Module

__all__ = ["Linear", "Identity"]


class Identity(Module):
    """Return the input unchanged; any constructor arguments are ignored (see PyTorch's ``torch.nn.Identity``).

    >>> from nnlite.nn.modules.linear import Identity
    >>> import nnlite
    >>> x = nnlite.ones(2)
    >>> Identity(54, unused="argument")(x) is x
    True
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """``y = x @ weight.T + bias`` over the last dimension of the input.

    ``weight`` is (out_features, in_features), drawn from
    ``kaiming_uniform_(a=sqrt(5))``; ``bias`` from U(±1/sqrt(in_features)).
    See PyTorch's ``torch.nn.Linear``.

    >>> from nnlite.nn.modules.linear import Linear
    >>> import nnlite
    >>> m = Linear(20, 30)
    >>> m
    Linear(in_features=20, out_features=30, bias=True)
    >>> m(nnlite.randn(128, 20)).shape
    nnlite.Size([128, 30])
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        init.affine_parameters(self, (out_features, in_features), out_features if bias else 0, device, dtype)

    def reset_parameters(self):
        """kaiming_uniform_(a=sqrt(5)) for the weight, U(±1/sqrt(fan_in)) for the bias, as PyTorch."""
        init.reset_affine(self.weight, self.bias)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
