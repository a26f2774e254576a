"""``Linear`` and ``Identity`` (see PyTorch's ``torch.nn.Linear`` and ``torch.nn.Identity``)."""
import math

from nnlite import _backend
from nnlite._dtype import as_dtype, get_default_dtype
from nnlite._tensor import empty
from nnlite.nn import functional as F
from nnlite.nn import init
from nnlite.nn.modules.module import Module
from nnlite.nn.parameter import Parameter

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
        dt = get_default_dtype() if dtype is None else as_dtype(dtype)
        dev = _backend.resolve_device(device)
        self.weight = Parameter(empty(out_features, in_features, dtype=dt, device=dev))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dt, device=dev))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """kaiming_uniform_(a=sqrt(5)) for the weight, U(±1/sqrt(fan_in)) for the bias, as PyTorch."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
