"""``weight_norm`` in the parametrization form (PyTorch's ``torch.nn.utils.parametrizations``).

The magnitude and direction are ``parametrizations.weight.original0`` and
``original1``; ``module.weight`` is recomputed on every access.

>>> import nnlite
>>> from nnlite.nn.utils.parametrizations import weight_norm
>>> m = weight_norm(nnlite.nn.Conv1d(2, 4, 3))
>>> sorted(m.state_dict())
['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
"""
from nnlite.nn.modules.module import Module
from nnlite.nn.utils import parametrize
from nnlite.nn.utils.weight_norm import _weight_norm, norm_except_dim

__all__ = ["weight_norm"]


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Weight normalisation as a parametrization: ``weight = g * v / ||v||`` with ``g``, ``v`` the
    originals (norm over every dimension but ``dim``; ``dim=None``: one norm).  Returns ``module``.

    See PyTorch's ``torch.nn.utils.parametrizations.weight_norm``.
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module
