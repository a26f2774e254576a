"""``Flatten`` and ``Unflatten`` (see PyTorch's ``torch.nn.Flatten`` and ``torch.nn.Unflatten``)."""
from nnlite.nn.modules.module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Merge dimensions ``start_dim..end_dim`` into one (by default all but the batch dimension).

    >>> from nnlite.nn.modules.flatten import Flatten
    >>> import nnlite
    >>> Flatten()(nnlite.zeros(32, 4, 5)).shape
    nnlite.Size([32, 20])
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size`` (a tuple or list of ints; one may be -1).

    Named dimensions are not supported (nnlite has no named tensors).

    >>> from nnlite.nn.modules.flatten import Unflatten
    >>> import nnlite
    >>> Unflatten(1, (2, 5))(nnlite.zeros(3, 10)).shape
    nnlite.Size([3, 2, 5])
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError("invalid argument type for dim parameter")
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for i, s in enumerate(unflattened_size):
            if isinstance(s, bool) or not isinstance(s, int):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element of type "
                                f"{type(s).__name__} at pos {i}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        size = input.shape[self.dim]
        known = 1
        for s in self.unflattened_size:
            if s != -1:
                known *= s
        if (-1 not in self.unflattened_size and known != size) or (-1 in self.unflattened_size and
                                                                     (known == 0 or size % known)):
            raise RuntimeError(f"unflatten: Provided sizes {list(self.unflattened_size)} don't multiply up to the "
                               f"size of dim {self.dim} ({size}) in the input tensor")
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
