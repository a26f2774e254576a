"""``Module``: the base class of layers and models, with PyTorch's semantics.

>>> import nnlite
>>> class Scale(nnlite.nn.Module):
...     def __init__(self, n):
...         super().__init__()
...         self.weight = nnlite.nn.Parameter(nnlite.ones(n))
...         self.register_buffer("calls", nnlite.zeros(1))
...     def forward(self, x):
...         return x * self.weight
>>> m = Scale(3)
>>> [name for name, _ in m.named_parameters()], list(m.state_dict())
(['weight'], ['weight', 'calls'])
>>> m(nnlite.ones(3)).tolist()
[1.0, 1.0, 1.0]

See PyTorch's ``torch.nn.Module``.
"""
import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy

from nnlite import _backend, _dtype
from nnlite._tensor import Tensor, _parse_to
from nnlite.autograd.function import RemovableHandle
from nnlite.autograd.grad_mode import no_grad
from nnlite.nn.parameter import Buffer, Parameter

__all__ = ["Module"]

_np_ndarray = numpy.ndarray
_PENDING = "_nnlite_pending_loads"  # local_metadata key: load_state_dict's list of deferred writes


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys the module expected but did not get, and the reverse."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class _Handle(RemovableHandle):
    """A hook handle that also forgets the hook's flags (``with_kwargs``) when removed."""

    def __init__(self, hooks, flags):
        super().__init__(hooks)
        self._flags = flags

    def remove(self):
        super().remove()
        self._flags.pop(self.id, None)


def _addindent(s, num_spaces, blank_lines_too=False):
    """Indent every line but the first (PyTorch's ``_addindent``; module.py's skips blank lines)."""
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    pad = " " * num_spaces
    rest = [pad + line if blank_lines_too or line.strip() else "" for line in lines[1:]]
    return lines[0] + "\n" + "\n".join(rest)


def _typename(obj):
    """``torch.typename``'s wording for error messages; every nnlite tensor type is ``nnlite.Tensor``."""
    if isinstance(obj, Tensor):
        return "nnlite.Tensor"
    module = getattr(obj, "__module__", "") or ""
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if qualname is None:
        module, qualname = type(obj).__module__ or "", type(obj).__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def _is_array(x):
    return isinstance(x, _np_ndarray) or _backend.is_cupy_array(x)


def _wrap_arrays(args):
    """Positional arguments with numpy/CuPy arrays wrapped as constant Tensors (no copy)."""
    return tuple([Tensor._wrap(a) if _is_array(a) else a for a in args])


def _float_only(fn):
    return lambda t: fn(t) if t._data.dtype.kind in "fc" else t


class Module:
    """Base class of every layer and model; subclass it and define ``forward``.

    Assigning a :class:`~nnlite.nn.Parameter`, a Module or (to a registered name)
    a buffer as an attribute registers it, so that ``parameters()``,
    ``state_dict()``, ``.to()`` and ``repr`` see it.  Calling the module runs the
    forward pre-hooks, ``forward`` and the forward hooks; numpy or CuPy arrays
    given as positional arguments become constant Tensors (no copy).

    Device and dtype moves (``to``, ``cuda``, ``cpu``, ``float``, ``double``,
    ``half``, ``type``) change the array inside each Parameter, so the Parameter
    objects keep their identity: an optimizer made before ``model.cuda()`` still
    holds the model's parameters (PyTorch's documentation asks you to move the
    model first; with nnlite either order works).

    >>> import nnlite
    >>> class Net(nnlite.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.seq = nnlite.nn.Sequential(Affine(), Affine())
    ...     def forward(self, x):
    ...         return self.seq(x)
    >>> class Affine(nnlite.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.a = nnlite.nn.Parameter(nnlite.ones(1))
    ...     def forward(self, x):
    ...         return x * self.a
    >>> net = Net()
    >>> print(net)
    Net(
      (seq): Sequential(
        (0): Affine()
        (1): Affine()
      )
    )
    >>> [n for n, _ in net.named_parameters()]
    ['seq.0.a', 'seq.1.a']

    See PyTorch's ``torch.nn.Module``.
    """

    training: bool
    _version = 1

    def __init__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                            f"'{next(iter(kwargs))}'")
        if args:
            raise TypeError(f"{type(self).__name__}.__init__() takes 1 positional argument but "
                            f"{len(args) + 1} were given")
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", {})
        setattr_(self, "_buffers", {})
        setattr_(self, "_non_persistent_buffers_set", set())
        setattr_(self, "_forward_hooks", OrderedDict())
        setattr_(self, "_forward_hooks_with_kwargs", OrderedDict())
        setattr_(self, "_forward_pre_hooks", OrderedDict())
        setattr_(self, "_forward_pre_hooks_with_kwargs", OrderedDict())
        setattr_(self, "_modules", {})

    # -- forward and hooks -----------------------------------------------------------------------------
    def forward(self, *input):
        """The computation of the module; subclasses override it (call the module, not ``forward``)."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks or self._forward_hooks:
            return self._call_with_hooks(args, kwargs)
        if len(args) == 1 and type(args[0]) is _np_ndarray:   # the common numpy call, cheaply
            return self.forward(Tensor._wrap(args[0]), **kwargs)
        for a in args:
            if not isinstance(a, Tensor) and _is_array(a):
                args = _wrap_arrays(args)
                break
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args, kwargs):
        args = _wrap_arrays(args)
        for hook_id, hook in list(self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                out = hook(self, args, kwargs)
                if out is not None:
                    if not (isinstance(out, tuple) and len(out) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of (new_args, "
                                           f"new_kwargs), but got {out}.")
                    args, kwargs = _wrap_arrays(out[0]), out[1]
            else:
                out = hook(self, args)
                if out is not None:
                    args = _wrap_arrays(out if isinstance(out, tuple) else (out,))
        result = self.forward(*args, **kwargs)
        for hook_id, hook in list(self._forward_hooks.items()):
            if hook_id in self._forward_hooks_with_kwargs:
                out = hook(self, args, kwargs, result)
            else:
                out = hook(self, args, result)
            if out is not None:
                result = out
        return result

    def _register_hook(self, hooks, flags, hook, prepend, with_kwargs):
        handle = _Handle(hooks, flags)
        hooks[handle.id] = hook
        if with_kwargs:
            flags[handle.id] = True
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before each forward; a returned value replaces ``args``.

        A returned non-tuple is wrapped in a tuple.  With ``with_kwargs=True`` the
        hook is ``hook(module, args, kwargs)`` and may return ``(args, kwargs)``.
        Returns a handle: ``handle.remove()``, or use it as a context manager.

        >>> import nnlite
        >>> m = nnlite.nn.Sequential()
        >>> with m.register_forward_pre_hook(lambda mod, args: args[0] * 2):
        ...     m(nnlite.ones(1)).tolist()
        [2.0]
        >>> m(nnlite.ones(1)).tolist()
        [1.0]

        See PyTorch's ``torch.nn.Module.register_forward_pre_hook``.
        """
        return self._register_hook(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs, hook, prepend,
                                   with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args, output)`` after each forward; a returned value replaces the output.

        With ``with_kwargs=True`` the hook is ``hook(module, args, kwargs, output)``.
        Returns a handle: ``handle.remove()``, or use it as a context manager.

        >>> import nnlite
        >>> m = nnlite.nn.Sequential()
        >>> h = m.register_forward_hook(lambda mod, args, out: out + 1)
        >>> m(nnlite.zeros(1)).tolist()
        [1.0]
        >>> h.remove()

        See PyTorch's ``torch.nn.Module.register_forward_hook``.
        """
        return self._register_hook(self._forward_hooks, self._forward_hooks_with_kwargs, hook, prepend,
                                   with_kwargs)

    # -- registration --------------------------------------------------------------------------------
    def register_buffer(self, name, tensor, persistent=True):
        """Add a buffer: state that is not a parameter (moved by ``.to()``, saved unless not ``persistent``).

        >>> import nnlite
        >>> m = nnlite.nn.Module()
        >>> m.register_buffer("running_mean", nnlite.zeros(3))
        >>> m.running_mean.tolist()
        [0.0, 0.0, 0.0]

        See PyTorch's ``torch.nn.Module.register_buffer``.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"buffer name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError('buffer name can\'t contain "."')
        if name == "":
            raise KeyError('buffer name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(nnlite Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name, param):
        """Add a parameter (a :class:`~nnlite.nn.Parameter`, or None for an absent one such as ``bias``).

        >>> import nnlite
        >>> m = nnlite.nn.Module()
        >>> m.register_parameter("bias", None)
        >>> m.bias is None, list(m.state_dict())
        (True, [])

        See PyTorch's ``torch.nn.Module.register_parameter``.
        """
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"parameter name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError('parameter name can\'t contain "."')
        if name == "":
            raise KeyError('parameter name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(nnlite.nn.Parameter or None required)")
        if param is not None and param._grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                             f"created explicitly. To express '{name}' as a function of another Tensor, compute "
                             "the value in the forward() method.")
        self._parameters[name] = param

    def add_module(self, name, module):
        """Add a child module (or None), reachable as an attribute named ``name``.

        >>> import nnlite
        >>> m = nnlite.nn.Module()
        >>> m.add_module("body", nnlite.nn.Sequential())
        >>> m
        Module(
          (body): Sequential()
        )

        See PyTorch's ``torch.nn.Module.add_module``.
        """
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._modules[name] = module

    def register_module(self, name, module):
        """Alias of :meth:`add_module`."""
        self.add_module(name, module)

    # -- attributes ------------------------------------------------------------------------------------
    def __getattr__(self, name):
        d = self.__dict__
        for kind in ("_parameters", "_buffers", "_modules"):
            members = d.get(kind)
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            _remove(name, d, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(nnlite.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            modules = d.get("_modules")
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            _remove(name, d, self._parameters, self._buffers, self._non_persistent_buffers_set)
            modules[name] = value
        elif name in d.get("_modules", ()):
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                "(nnlite.nn.Module or None expected)")
            self._modules[name] = value
        elif isinstance(value, Buffer) or name in d.get("_buffers", ()):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                "(nnlite.nn.Buffer, nnlite.Tensor or None expected)")
            if isinstance(value, Buffer):
                persistent = value.persistent
            else:
                persistent = name not in self._non_persistent_buffers_set
            self.register_buffer(name, value, persistent)
        else:
            object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        keys = (dir(type(self)) + list(self.__dict__) + list(self._parameters) + list(self._modules)
                + list(self._buffers))
        return sorted(k for k in keys if not k[0].isdigit())

    def __setstate__(self, state):
        self.__dict__.update(state)
        # modules pickled by an older nnlite may lack newer attributes
        for name in ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_pre_hooks",
                     "_forward_pre_hooks_with_kwargs"):
            self.__dict__.setdefault(name, OrderedDict())
        self.__dict__.setdefault("_non_persistent_buffers_set", set())

    # -- lookup by dotted name -----------------------------------------------------------------------
    def _get_name(self):
        return type(self).__name__

    def get_submodule(self, target):
        """The submodule at a dotted path such as ``"features.0"`` (``""`` is the module itself).

        >>> import nnlite
        >>> net = nnlite.nn.Sequential(nnlite.nn.Sequential())
        >>> net.get_submodule("0")
        Sequential()

        See PyTorch's ``torch.nn.Module.get_submodule``.
        """
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(mod._get_name() + " has no attribute `" + item + "`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
        return mod

    def get_parameter(self, target):
        """The Parameter at a dotted path such as ``"0.weight"`` (see PyTorch's ``get_parameter``)."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError("`" + name + "` is not an nn.Parameter")
        return param

    def get_buffer(self, target):
        """The buffer at a dotted path such as ``"0.running_mean"`` (see PyTorch's ``get_buffer``)."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        buffer = getattr(mod, name)
        if name not in mod._buffers:
            raise AttributeError("`" + name + "` is not a buffer")
        return buffer

    # -- traversal -----------------------------------------------------------------------------------
    def _named_members(self, get_members, prefix="", recurse=True, remove_duplicate=True):
        """``(dotted name, member)`` for the members ``get_members(module)`` of each module; shared ones once."""
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or id(v) in memo:
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield module_prefix + ("." if module_prefix else "") + k, v

    def parameters(self, recurse=True):
        """The parameters of this module and (``recurse=True``) its descendants; a shared one once.

        >>> import nnlite
        >>> conv = nnlite.nn.Module(); conv.w = nnlite.nn.Parameter(nnlite.zeros(2))
        >>> tied = nnlite.nn.Sequential(conv, conv)
        >>> len(list(tied.parameters()))
        1

        See PyTorch's ``torch.nn.Module.parameters``.
        """
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """``(name, Parameter)`` pairs in registration order, depth first (see ``parameters``)."""
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        """The buffers of this module and (``recurse=True``) its descendants."""
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """``(name, buffer)`` pairs in registration order, depth first."""
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def children(self):
        """The immediate child modules (a shared child once)."""
        for _, module in self.named_children():
            yield module

    def named_children(self):
        """``(name, module)`` for the immediate children (a shared child once)."""
        memo = set()
        for name, module in self._modules.items():
            if module is not None and module not in memo:
                memo.add(module)
                yield name, module

    def modules(self, remove_duplicate=True):
        """This module and all its descendants, depth first (a shared module once)."""
        for _, module in self.named_modules(remove_duplicate=remove_duplicate):
            yield module

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """``(dotted name, module)`` for this module (named ``prefix``) and all its descendants.

        >>> import nnlite
        >>> net = nnlite.nn.Sequential(nnlite.nn.Sequential())
        >>> [name for name, _ in net.named_modules()]
        ['', '0']

        See PyTorch's ``torch.nn.Module.named_modules``.
        """
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    # -- state dict ----------------------------------------------------------------------------------
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        """Put this module's own parameters and persistent buffers (not its children's) in ``destination``."""
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An OrderedDict of every parameter and persistent buffer, by dotted name.

        The values are detached tensors sharing memory with the module
        (``keep_vars=True`` gives the Parameters themselves).  Order: each
        module's parameters, then its buffers, then its children, depth first.

        >>> import nnlite
        >>> m = nnlite.nn.Sequential(nnlite.nn.Module())
        >>> m[0].w = nnlite.nn.Parameter(nnlite.zeros(2))
        >>> sd = m.state_dict()
        >>> list(sd), sd["0.w"].requires_grad
        (['0.w'], False)

        See PyTorch's ``torch.nn.Module.state_dict``.
        """
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = {"version": self._version}
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        """Check ``state_dict``'s entries for this module's own parameters and buffers and plan their copies.

        Problems go to ``missing_keys``, ``unexpected_keys`` and ``error_msgs``.
        Inside :meth:`load_state_dict` the copies are queued in
        ``local_metadata`` and run only when nothing anywhere failed; called
        directly, they run at once.  Subclasses override this to adapt old
        checkpoints, then call ``super()._load_from_state_dict(...)``.
        """
        pending = local_metadata.get(_PENDING)
        assign = local_metadata.get("assign_to_params_buffers", False)
        local_state = {k: v for k, v in itertools.chain(
            self._parameters.items(),
            ((k, v) for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set))
            if v is not None}
        writes = []
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            if _is_array(value):
                value = Tensor._wrap(value)
            if not isinstance(value, Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected nnlite.Tensor or '
                                  f"Tensor-like object from checkpoint but received {type(value)}")
                continue
            if param.ndim == 0 and value.shape == (1,):  # PyTorch's allowance for checkpoints before 0.4
                value = value.reshape(())
            if value.shape != param.shape:
                error_msgs.append(f"size mismatch for {key}: copying a param with shape {value.shape} from "
                                  f"checkpoint, the shape in current model is {param.shape}.")
                continue
            writes.append((name, param, value))
        if strict:
            for key in state_dict:
                if key.startswith(prefix):
                    head = key[len(prefix):].split(".", 1)
                    if (head[0] not in self._modules) if len(head) > 1 else (head[0] not in local_state):
                        unexpected_keys.append(key)

        def write():
            with no_grad():
                for name, param, value in writes:
                    if not assign:
                        param.copy_(value)
                    elif isinstance(param, Parameter):
                        new = value if isinstance(value, Parameter) else Parameter(value)
                        new.requires_grad_(param.requires_grad)
                        setattr(self, name, new)
                    else:
                        setattr(self, name, value)

        if pending is None:
            write()
        else:
            pending.append(write)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy parameters and buffers from ``state_dict`` (values: Tensors or numpy/CuPy arrays).

        Returns ``_IncompatibleKeys(missing_keys, unexpected_keys)``.  With
        ``strict=True`` any missing or unexpected key is an error; a size mismatch
        is always one.  All errors are reported together in one RuntimeError and,
        unlike PyTorch, nothing is changed when it is raised.  Values are copied
        in place (cast to the parameter's dtype and moved to its device); with
        ``assign=True`` the given tensors replace them (Parameters keep their
        ``requires_grad``).

        >>> import nnlite, numpy
        >>> m = nnlite.nn.Sequential(nnlite.nn.Module())
        >>> m[0].w = nnlite.nn.Parameter(nnlite.zeros(2))
        >>> m.load_state_dict({"0.w": numpy.array([1.0, 2.0])})
        <All keys matched successfully>
        >>> m[0].w.tolist()
        [1.0, 2.0]

        See PyTorch's ``torch.nn.Module.load_state_dict``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys, unexpected_keys, error_msgs, pending = [], [], [], []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)

        def load(module, local_state_dict, prefix=""):
            local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            if assign:
                local_metadata["assign_to_params_buffers"] = True
            local_metadata[_PENDING] = pending
            module._load_from_state_dict(local_state_dict, prefix, local_metadata, True, missing_keys,
                                         unexpected_keys, error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local_state_dict.items() if k.startswith(child_prefix)},
                         child_prefix)

        load(self, state_dict)
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected_keys)))
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing_keys)))
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(error_msgs)))
        for write in pending:
            write()
        return _IncompatibleKeys(missing_keys, unexpected_keys)

    # -- modes and gradients -------------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (``mode=True``) or evaluation mode on this module and its descendants."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` on every parameter (e.g. ``False`` to freeze); returns ``self``."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset every parameter's ``.grad``: to None (default), or zero it in place (``set_to_none=False``)."""
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    p.grad.zero_()

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant (children first) and then on ``self``; returns ``self``.

        >>> import nnlite
        >>> seen = []
        >>> _ = nnlite.nn.Sequential(nnlite.nn.Sequential()).apply(lambda m: seen.append(len(m)))
        >>> seen
        [0, 1]

        See PyTorch's ``torch.nn.Module.apply``.
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- device and dtype ------------------------------------------------------------------------------
    def _apply(self, fn, recurse=True):
        """Convert every parameter (and its ``.grad``) and buffer with ``fn(tensor) -> tensor``.

        The converted array is put inside the existing Parameter (and grad), so
        their identity survives; buffers are replaced by ``fn``'s result.  Every
        conversion runs before anything is changed, so a failure (no GPU, out of
        memory) leaves the module as it was.
        """
        modules = list(self.modules()) if recurse else [self]
        new = {}
        with no_grad():
            for m in modules:
                for t in itertools.chain(m._parameters.values(), m._buffers.values()):
                    if t is not None and id(t) not in new:
                        new[id(t)] = fn(t)
                        if isinstance(t, Parameter) and t._grad is not None and id(t._grad) not in new:
                            new[id(t._grad)] = fn(t._grad)
        for m in modules:
            for p in m._parameters.values():
                if p is not None:
                    p._data = new[id(p)]._data
                    if p._grad is not None:
                        p._grad._data = new[id(p._grad)]._data
            for name, b in m._buffers.items():
                if b is not None:
                    m._buffers[name] = new[id(b)]
        return self

    def to(self, *args, **kwargs):
        """Move and/or cast the parameters and buffers: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``,
        ``to(tensor)``, or keywords ``device=``, ``dtype=``, ``non_blocking=``.

        Only floating-point tensors are cast.  Parameters keep their identity.

        >>> import nnlite
        >>> m = nnlite.nn.Module(); m.w = nnlite.nn.Parameter(nnlite.zeros(2))
        >>> w = m.w
        >>> m.to(nnlite.float64).w is w, w.dtype
        (True, dtype('float64'))

        See PyTorch's ``torch.nn.Module.to``.
        """
        dev, dtype, _ = _parse_to(args, kwargs)
        if dtype is not None and dtype.kind not in "fc":
            raise TypeError("nn.Module.to only accepts floating point or complex dtypes, but got desired "
                            f"dtype=nnlite.{dtype.name}")
        if dev is not None:
            dev = _backend.resolve_device(dev)  # fails here, before anything changes, without a GPU
        return self._apply(lambda t: t._to(dev, dtype if t._data.dtype.kind in "fc" else None))

    def cuda(self, device=None):
        """Move every parameter and buffer to a GPU (``cuda()``, ``cuda(1)``, ``cuda('cuda:1')``).

        Raises nnlite's RuntimeError naming the missing piece (CuPy, a GPU)
        before changing anything.  Parameters keep their identity.
        """
        if isinstance(device, int) and not isinstance(device, bool):
            device = _backend.device("cuda", device)
        dev = _backend.resolve_device("cuda" if device is None else device)
        if dev.type != "cuda":
            raise ValueError(f"Invalid device, must be cuda device, got {dev}")
        return self._apply(lambda t: t._to(dev, None))

    def cpu(self):
        """Move every parameter and buffer to the CPU."""
        return self._apply(lambda t: t._to(_backend.CPU, None))

    def type(self, dst_type):
        """Cast every parameter and buffer (floating or not) to ``dst_type``."""
        dst_type = _dtype.as_dtype(dst_type)
        return self._apply(lambda t: t._to(None, dst_type))

    def float(self):
        """Cast floating-point parameters and buffers to float32."""
        return self._apply(_float_only(lambda t: t._to(None, _dtype.float32)))

    def double(self):
        """Cast floating-point parameters and buffers to float64."""
        return self._apply(_float_only(lambda t: t._to(None, _dtype.float64)))

    def half(self):
        """Cast floating-point parameters and buffers to float16."""
        return self._apply(_float_only(lambda t: t._to(None, _dtype.float16)))

    # -- repr ----------------------------------------------------------------------------------------
    def extra_repr(self):
        """The text inside this module's parentheses in ``repr``; layers override it."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = ["(" + key + "): " + _addindent(repr(module), 2) for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def _remove(name, *dicts_or_sets):
    for d in dicts_or_sets:
        if name in d:
            if isinstance(d, dict):
                del d[name]
            else:
                d.discard(name)
