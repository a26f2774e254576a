"""Weight normalisation, the hook form: ``weight_norm`` and ``remove_weight_norm``.

``weight_norm(module)`` replaces ``module.weight`` by ``weight_g`` (magnitude)
and ``weight_v`` (direction) and recomputes ``weight = g * v / ||v||`` before
every forward.  The parametrization form is :func:`nnlite.nn.utils.parametrizations.weight_norm`.

>>> import warnings, nnlite
>>> from nnlite.nn.utils import weight_norm
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     m = weight_norm(nnlite.nn.Conv1d(2, 4, 3))
>>> m.weight_g.shape, m.weight_v.shape
(nnlite.Size([4, 1, 1]), nnlite.Size([4, 2, 3]))

See PyTorch's ``torch.nn.utils.weight_norm``.
"""
import warnings

from nnlite.autograd.grad_mode import no_grad
from nnlite.nn.parameter import Parameter

__all__ = ["weight_norm", "remove_weight_norm", "norm_except_dim"]


def norm_except_dim(v, pow=2, dim=0):
    """The ``pow``-norm of ``v`` over every dimension but ``dim``, kept with ``v``'s number of dimensions
    (``dim=-1``: one norm over all of ``v``, as PyTorch's ``norm_except_dim``).  Differentiable."""
    a = v.abs() if pow % 2 else v
    if dim == -1:
        return (a ** pow).sum() ** (1.0 / pow)
    d = dim if dim >= 0 else dim + v.ndim
    others = tuple(i for i in range(v.ndim) if i != d)
    return (a ** pow).sum(others, keepdim=True) ** (1.0 / pow) if others else a.abs()


def _weight_norm(v, g, dim):
    """``v * (g / ||v||)`` with the norm over every dimension but ``dim`` (PyTorch's ``_weight_norm``)."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_g`` and ``<name>_v``."""

    def __init__(self, name, dim):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        return _weight_norm(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"), self.dim)

    @staticmethod
    def apply(module, name, dim):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        with no_grad():
            g = norm_except_dim(weight, 2, fn.dim)
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(g.detach().clone()))
        module.register_parameter(name + "_v", Parameter(weight.data))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        with no_grad():
            weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.data))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Split ``module.<name>`` into ``<name>_g`` (the norm over every dimension but ``dim``; ``dim=None``:
    one norm) and ``<name>_v`` (the direction), recomputing ``<name>`` before each forward.

    Deprecated in PyTorch in favour of :func:`nnlite.nn.utils.parametrizations.weight_norm`
    (the same FutureWarning is raised).  See PyTorch's ``torch.nn.utils.weight_norm``.
    """
    warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                  "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo :func:`weight_norm`: ``<name>`` becomes one Parameter again (see ``torch.nn.utils.remove_weight_norm``)."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
