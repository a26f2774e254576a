"""Activation layers (see PyTorch's ``torch.nn.ReLU``, ``LeakyReLU``, ``GELU``, ``ELU``, ``Tanh``,
``Sigmoid``, ``Softmax``, ``LogSoftmax``).

``inplace=True`` is accepted and shown in ``repr`` as PyTorch does, but nnlite
computes out of place: the result is a new tensor and the input is unchanged
(the values and gradients are the same).

>>> from nnlite.nn.modules.activation import ReLU, GELU
>>> ReLU(inplace=True), GELU(approximate='tanh')
(ReLU(inplace=True), GELU(approximate='tanh'))
"""
import warnings

from nnlite.nn import functional as F
from nnlite.nn.modules.module import Module

__all__ = ["ReLU", "LeakyReLU", "GELU", "ELU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "PReLU", "SiLU", "Mish",
           "Hardswish", "Softplus", "Hardtanh", "ReLU6"]


def _inplace(inplace):
    return ", inplace=True" if inplace else ""


class ReLU(Module):
    """``max(x, 0)``; see PyTorch's ``torch.nn.ReLU``.

    >>> from nnlite.nn.modules.activation import ReLU
    >>> import nnlite
    >>> ReLU()(nnlite.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """``x`` for ``x > 0``, else ``negative_slope * x``; see PyTorch's ``torch.nn.LeakyReLU``.

    >>> from nnlite.nn.modules.activation import LeakyReLU
    >>> import nnlite
    >>> LeakyReLU(0.5)(nnlite.tensor([-2.0, 2.0])).tolist()
    [-1.0, 2.0]
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}{_inplace(self.inplace)}"


class GELU(Module):
    """``x * Phi(x)`` (``approximate='none'``) or its tanh approximation; see PyTorch's ``torch.nn.GELU``.

    >>> from nnlite.nn.modules.activation import GELU
    >>> import nnlite
    >>> GELU()(nnlite.tensor([0.0])).tolist()
    [0.0]
    """

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class ELU(Module):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``; see PyTorch's ``torch.nn.ELU``.

    >>> from nnlite.nn.modules.activation import ELU
    >>> ELU(alpha=0.5, inplace=True)
    ELU(alpha=0.5, inplace=True)
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}{_inplace(self.inplace)}"


class Tanh(Module):
    """Hyperbolic tangent; see PyTorch's ``torch.nn.Tanh``.

    >>> from nnlite.nn.modules.activation import Tanh
    >>> import nnlite
    >>> Tanh()(nnlite.tensor([0.0])).tolist()
    [0.0]
    """

    def forward(self, input):
        return F.tanh(input)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``; see PyTorch's ``torch.nn.Sigmoid``.

    >>> from nnlite.nn.modules.activation import Sigmoid
    >>> import nnlite
    >>> Sigmoid()(nnlite.tensor([0.0])).tolist()
    [0.5]
    """

    def forward(self, input):
        return F.sigmoid(input)


def _legacy_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  "as an argument.", UserWarning, stacklevel=4)
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """Softmax along ``dim``; ``dim=None`` picks PyTorch's legacy dimension (0 for 0-, 1- and 3-D
    input, else 1) with its deprecation warning.  See PyTorch's ``torch.nn.Softmax``.

    >>> from nnlite.nn.modules.activation import Softmax
    >>> import nnlite
    >>> Softmax(dim=-1)(nnlite.zeros(1, 4)).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _legacy_dim("softmax", input.ndim)
        return F.softmax(input, dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim`` (``dim=None`` as in :class:`Softmax`); see PyTorch's
    ``torch.nn.LogSoftmax``.

    >>> from nnlite.nn.modules.activation import LogSoftmax
    >>> LogSoftmax(dim=1)
    LogSoftmax(dim=1)
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _legacy_dim("log_softmax", input.ndim)
        return F.log_softmax(input, dim)

    def extra_repr(self):
        return f"dim={self.dim}"


# -- the further activations 1D-conv code uses: PReLU, SiLU, Mish, Hardswish, Softplus, Hardtanh, ReLU6 ----------
class PReLU(Module):
    """``x`` for ``x > 0``, else ``a * x`` with a learned ``a`` (one, or one per channel of dimension 1).

    See PyTorch's ``torch.nn.PReLU``.

    >>> from nnlite.nn.modules.activation import PReLU
    >>> import nnlite
    >>> m = PReLU(3); m
    PReLU(num_parameters=3)
    >>> m(nnlite.full((1, 3, 2), -4.0)).tolist()[0][0]
    [-1.0, -1.0]
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        from nnlite._tensor import empty
        from nnlite.nn.parameter import Parameter
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(empty(num_parameters, dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self):
        """Fill the weight with ``init``."""
        from nnlite.nn import init
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class _Simple(Module):
    """An activation without parameters: ``forward`` is ``_fn(input)``; ``inplace`` shown as PyTorch does."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class SiLU(_Simple):
    """``x * sigmoid(x)`` (see PyTorch's ``torch.nn.SiLU``)."""

    def forward(self, input):
        return F.silu(input)


class Mish(_Simple):
    """``x * tanh(softplus(x))`` (see PyTorch's ``torch.nn.Mish``)."""

    def forward(self, input):
        return F.mish(input)


class Hardswish(_Simple):
    """``x * relu6(x + 3) / 6`` (see PyTorch's ``torch.nn.Hardswish``)."""

    def forward(self, input):
        return F.hardswish(input)


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta``, linear above ``threshold`` (see PyTorch's ``torch.nn.Softplus``).

    >>> from nnlite.nn.modules.activation import Softplus
    >>> Softplus()
    Softplus(beta=1.0, threshold=20.0)
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """``clamp(x, min_val, max_val)`` (see PyTorch's ``torch.nn.Hardtanh``).

    >>> from nnlite.nn.modules.activation import Hardtanh
    >>> Hardtanh(-2, 2, True)
    Hardtanh(min_val=-2, max_val=2, inplace=True)
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if min_val > max_val:
            raise ValueError("min_val cannot be greater than max_val")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace(self.inplace)}"


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)`` (see PyTorch's ``torch.nn.ReLU6``).

    >>> from nnlite.nn.modules.activation import ReLU6
    >>> ReLU6(inplace=True)
    ReLU6(inplace=True)
    """

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""
