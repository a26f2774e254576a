"""``Dropout`` (see PyTorch's ``torch.nn.Dropout``)."""
from nnlite.nn import functional as F
from nnlite.nn.modules.module import Module

__all__ = ["Dropout", "Dropout1d"]


class Dropout(Module):
    """In training, zero each element with probability ``p`` and scale the others by ``1 / (1 - p)``;
    in eval mode, return the input unchanged.

    The mask comes from nnlite's seeded generator (``nnlite.manual_seed``).
    ``inplace=True`` is accepted and shown in ``repr`` but computed out of place.
    See PyTorch's ``torch.nn.Dropout``.

    >>> from nnlite.nn.modules.dropout import Dropout
    >>> import nnlite
    >>> m = Dropout(p=0.2)
    >>> m
    Dropout(p=0.2, inplace=False)
    >>> x = nnlite.ones(4)
    >>> m.eval()(x) is x
    True
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    """In training, zero whole channels of (N, C, L) or (C, L) input with probability ``p`` (scaling the
    rest by ``1 / (1 - p)``); in eval mode, the identity.  See PyTorch's ``torch.nn.Dropout1d``.

    >>> from nnlite.nn.modules.dropout import Dropout1d
    >>> Dropout1d(0.3)
    Dropout1d(p=0.3, inplace=False)
    """

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, self.inplace)
