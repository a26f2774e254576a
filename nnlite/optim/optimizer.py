"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and ``state_dict`` (PyTorch's format).

Subclasses implement ``step(closure=None)``: they update each parameter's
array (``p._data``) in place with the ufuncs of its own array module, so the
same code runs on numpy and CuPy arrays, and bump the parameter's version
counter so that autograd notices the change.

>>> import nnlite, nnlite.optim
>>> w = nnlite.nn.Parameter(nnlite.ones(2))
>>> opt = nnlite.optim.SGD([w], lr=0.5)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w.tolist()
[0.0, 0.0]
>>> opt.state_dict()['param_groups'][0]['params']
[0]
"""
import warnings
from collections import defaultdict
from copy import deepcopy
from itertools import chain

from nnlite import _backend
from nnlite._tensor import Tensor
from nnlite.autograd.grad_mode import enable_grad

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """The default of an optimizer argument that every parameter group must give (e.g. ``lr``)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj):
    if isinstance(obj, Tensor):
        return "nnlite.Tensor"
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


class Optimizer:
    """Base class of the optimizers.

    ``params`` is an iterable of Tensors (or ``(name, Tensor)`` pairs), or of
    dicts that define parameter groups (``{'params': [...], 'lr': ...}``);
    ``defaults`` gives each group's missing options.  ``state`` maps each
    parameter to its dict of buffers (``exp_avg``, ``momentum_buffer``, ...).

    >>> import nnlite, nnlite.optim
    >>> a, b = nnlite.nn.Parameter(nnlite.zeros(2)), nnlite.nn.Parameter(nnlite.zeros(3))
    >>> opt = nnlite.optim.SGD([{'params': [a]}, {'params': [b], 'lr': 0.1}], lr=0.01)
    >>> [g['lr'] for g in opt.param_groups]
    [0.01, 0.1]

    See PyTorch's ``torch.optim.Optimizer``.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {_typename(params)}")
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        return "\n".join(lines) + "\n)"

    # -- parameter groups ----------------------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters with its own options (the defaults fill in the rest).

        >>> import nnlite, nnlite.optim
        >>> a, b = nnlite.nn.Parameter(nnlite.zeros(1)), nnlite.nn.Parameter(nnlite.zeros(1))
        >>> opt = nnlite.optim.SGD([a], lr=0.1)
        >>> opt.add_param_group({'params': b, 'momentum': 0.9})
        >>> opt.param_groups[1]['lr'], opt.param_groups[1]['momentum']
        (0.1, 0.9)

        See PyTorch's ``torch.optim.Optimizer.add_param_group``.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {_typename(param)}")
            if not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        if len(tensors) != len(set(tensors)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will cause "
                          "an error; see github.com/pytorch/pytorch/issues/40967 for more information", stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if not seen.isdisjoint(tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # -- gradients and steps -------------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of every parameter: to None (default), or to zeros in place.

        See PyTorch's ``torch.optim.Optimizer.zero_grad``.
        """
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g.zero_()

    def step(self, closure=None):
        """Update the parameters once (subclasses implement it); ``closure`` re-evaluates and returns the loss."""
        raise NotImplementedError

    @staticmethod
    def _closure_loss(closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _params_with_grad(self, group):
        """(param, param array, gradient array, array module) for each parameter of ``group`` with a gradient."""
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            x, ga = p._data, g._data
            yield p, x, ga, _backend.get_array_module(x, ga)

    # -- saving and loading --------------------------------------------------------------------------------
    def state_dict(self):
        """The optimizer's state as ``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``.

        Parameters are replaced by their index in the order of the groups; the
        state tensors are returned by reference, as in PyTorch (copy them with
        ``copy.deepcopy`` to keep a snapshot while training goes on).

        See PyTorch's ``torch.optim.Optimizer.state_dict``.
        """
        mapping = {}
        start = 0

        def pack(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            mapping.update({id(p): i for i, p in enumerate(group["params"], start) if id(p) not in mapping})
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack(g) for g in self.param_groups]
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        """Load a :meth:`state_dict`: group count and sizes are checked before anything changes.

        State tensors are copied to each parameter's device, and floating ones
        to its dtype (``step`` keeps its own); the copies never alias the
        given dictionary.

        See PyTorch's ``torch.optim.Optimizer.load_state_dict``.
        """
        state_dict = state_dict.copy()
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param, value, key=None):
            if isinstance(value, Tensor):
                return _cast_tensor(param, value, key)
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        self.__setstate__({"state": state, "param_groups": [update_group(g, n) for g, n in zip(groups, saved_groups)]})


def _cast_tensor(param, value, key):
    """A copy of a state tensor on the parameter's device, with its dtype when floating (not for ``step``)."""
    data = value._data
    if key != "step":
        data = _backend.to_device(data, param.device)
        if param._data.dtype.kind == "f":
            return Tensor(data.astype(param._data.dtype, copy=True))
    return Tensor(data.copy())
