"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``, ``ParameterDict``.

>>> import nnlite
>>> from collections import OrderedDict
>>> net = nnlite.nn.Sequential(OrderedDict(a=nnlite.nn.Sequential(), b=nnlite.nn.Sequential()))
>>> net
Sequential(
  (a): Sequential()
  (b): Sequential()
)
>>> net[-1] is net.b, list(net[1:]._modules)
(True, ['b'])

See PyTorch's ``torch.nn.modules.container``.
"""
import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from itertools import chain, islice

from nnlite._tensor import Tensor
from nnlite.nn.modules.module import Module, _addindent, _is_array, _typename
from nnlite.nn.parameter import Parameter

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _index(idx, n, insert=False):
    """``idx`` as an index in ``range(n)`` (``range(n + 1)`` to insert), negatives counted from the end.

    The one index check of every list-like container, with PyTorch's IndexError texts.
    """
    idx = operator.index(idx)
    if insert:
        if not -n <= idx <= n:
            raise IndexError(f"Index out of range: {idx}")
    elif not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range")
    return idx + n if idx < 0 else idx


def _renumber(modules):
    """Rename the entries of ``modules`` (a dict, changed in place) to '0', '1', ... keeping their order."""
    values = list(modules.values())
    modules.clear()
    modules.update((str(i), m) for i, m in enumerate(values))


def _insert(modules, index, module):
    """Insert ``module`` at position ``index`` of a dict keyed '0'..'n-1', shifting the rest up."""
    n = len(modules)
    index = _index(index, n, insert=True)
    for i in range(n, index, -1):
        modules[str(i)] = modules[str(i - 1)]
    modules[str(index)] = module


def _check_pair(j, p, who):
    if not isinstance(p, Iterable):
        raise TypeError(f"{who} update sequence element #{j} should be Iterable; is {type(p).__name__}")
    if len(p) != 2:
        raise ValueError(f"{who} update sequence element #{j} has length {len(p)}; 2 is required")


def _entry_repr(k, p):
    """One line of ParameterList/ParameterDict's ``extra_repr``."""
    if isinstance(p, Tensor):
        size = "x".join(str(s) for s in p.shape)
        dev = f" ({p.device})" if p.device.type == "cuda" else ""
        kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
        return f"  ({k}): {kind} containing: [nnlite.{p.dtype.name} of size {size}{dev}]"
    return f"  ({k}): Object of type: {type(p).__name__}"


def _as_parameter(value):
    """Tensors and arrays stored in a ParameterList/ParameterDict become Parameters (sharing memory)."""
    if (isinstance(value, Tensor) and not isinstance(value, Parameter)) or _is_array(value):
        return Parameter(value)
    return value


class Sequential(Module):
    """Modules called in a chain, each on the output of the one before.

    ``Sequential(*modules)`` names them '0', '1', ...; ``Sequential(OrderedDict)``
    uses the dict's keys.  Supports ``len``, iteration, int (negative too) and
    slice indexing (a slice is a Sequential keeping the keys), item assignment and
    deletion (keys renumbered '0'..n-1 afterwards, as PyTorch 2.x),
    ``append``/``insert``/``extend``/``pop``, ``+``, ``+=``, ``*``, ``*=``.

    >>> import nnlite
    >>> class Double(nnlite.nn.Module):
    ...     def forward(self, x):
    ...         return x * 2
    >>> net = nnlite.nn.Sequential(Double(), Double())
    >>> net(nnlite.ones(2)).tolist()
    [4.0, 4.0]
    >>> len(net * 3)
    6

    See PyTorch's ``torch.nn.Sequential``.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def _key(self, idx):
        return next(islice(self._modules, _index(idx, len(self)), None))

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._key(idx)]

    def __setitem__(self, idx, module):
        setattr(self, self._key(idx), module)

    def __delitem__(self, idx):
        if isinstance(idx, slice):
            for key in list(self._modules)[idx]:
                delattr(self, key)
        else:
            delattr(self, self._key(idx))
        _renumber(self._modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        ret = Sequential()
        for layer in chain(self, other):
            ret.append(layer)
        return ret

    def __iadd__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        offset = len(self)
        for i, module in enumerate(other):
            self.add_module(str(i + offset), module)
        return self

    def _check_factor(self, other):
        if not isinstance(other, int):
            raise TypeError(f"unsupported operand type(s) for *: {type(self)} and {type(other)}")
        if other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for {type(self)}")

    def __mul__(self, other):
        self._check_factor(other)
        combined = Sequential()
        for i, module in enumerate(chain.from_iterable([list(self)] * other)):
            combined.add_module(str(i), module)
        return combined

    def __rmul__(self, other):
        return self.__mul__(other)

    def __imul__(self, other):
        self._check_factor(other)
        n = offset = len(self)
        for _ in range(other - 1):
            for i in range(n):
                self.add_module(str(i + offset), self._modules[str(i)])
            offset += n
        return self

    def pop(self, key):
        """Remove and return the module at ``key`` (an int or a slice)."""
        v = self[key]
        del self[key]
        return v

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]

    def forward(self, input):
        for module in self:
            input = module(input)
        return input

    def append(self, module):
        """Add ``module`` at the end; returns ``self``."""
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index, module):
        """Insert ``module`` before position ``index`` (``-len <= index <= len``); returns ``self``."""
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        _insert(self._modules, index, module)
        return self

    def extend(self, sequential):
        """Append every module of ``sequential`` (any iterable of modules); returns ``self``."""
        for layer in sequential:
            self.append(layer)
        return self


class ModuleList(Module):
    """A list of modules, registered as children named '0', '1', ... (no ``forward`` of its own).

    >>> import nnlite
    >>> layers = nnlite.nn.ModuleList([nnlite.nn.Sequential() for _ in range(3)])
    >>> layers
    ModuleList(
      (0-2): 3 x Sequential()
    )
    >>> del layers[0]; list(layers._modules)
    ['0', '1']

    See PyTorch's ``torch.nn.ModuleList``.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self += modules

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self)))]

    def __setitem__(self, idx, module):
        setattr(self, str(_index(idx, len(self))), module)

    def __delitem__(self, idx):
        if isinstance(idx, slice):
            for k in range(len(self._modules))[idx]:
                delattr(self, str(k))
        else:
            delattr(self, str(_index(idx, len(self))))
        _renumber(self._modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        combined = ModuleList()
        for i, module in enumerate(chain(self, other)):
            combined.add_module(str(i), module)
        return combined

    def __repr__(self):
        """PyTorch 2.x's: runs of identical children are shown once, as ``(0-2): 3 x Child(...)``."""
        reprs = [repr(item) for item in self]
        if not reprs:
            return self._get_name() + "()"
        runs = []  # [start, end, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = []
        for start, end, r in runs:
            line = f"({start}): {r}" if start == end else f"({start}-{end}): {end - start + 1} x {r}"
            lines.append(_addindent(line, 2, blank_lines_too=True))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]

    def insert(self, index, module):
        """Insert ``module`` before position ``index`` (``-len <= index <= len``)."""
        if not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        _insert(self._modules, index, module)

    def append(self, module):
        """Add ``module`` at the end; returns ``self``."""
        self.add_module(str(len(self)), module)
        return self

    def pop(self, key):
        """Remove and return the module at ``key`` (an int or a slice)."""
        v = self[key]
        del self[key]
        return v

    def extend(self, modules):
        """Append every module of the iterable ``modules``; returns ``self``."""
        if not isinstance(modules, Iterable):
            raise TypeError("ModuleList.extend should be called with an iterable, but got "
                            + type(modules).__name__)
        offset = len(self)
        for i, module in enumerate(modules):
            self.add_module(str(offset + i), module)
        return self


class ModuleDict(Module):
    """An ordered dict of modules, registered as children under their keys.

    ``update`` (and the constructor) keep the order of a mapping or of an
    iterable of ``(key, module)`` pairs.

    >>> import nnlite
    >>> heads = nnlite.nn.ModuleDict({"b": nnlite.nn.Sequential(), "a": nnlite.nn.Sequential()})
    >>> list(heads), "a" in heads, len(heads)
    (['b', 'a'], True, 2)

    See PyTorch's ``torch.nn.ModuleDict``.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        """Remove every entry."""
        self._modules.clear()

    def pop(self, key):
        """Remove and return the module under ``key``."""
        v = self[key]
        del self[key]
        return v

    def keys(self):
        """The keys, in order."""
        return self._modules.keys()

    def items(self):
        """The ``(key, module)`` pairs, in order."""
        return self._modules.items()

    def values(self):
        """The modules, in order."""
        return self._modules.values()

    def update(self, modules):
        """Add or replace entries from a mapping or an iterable of ``(key, module)`` pairs, in their order."""
        if not isinstance(modules, Iterable):
            raise TypeError("ModuleDict.update should be called with an iterable of key/value pairs, but got "
                            + type(modules).__name__)
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
        else:
            for j, m in enumerate(modules):
                _check_pair(j, m, "ModuleDict")
                self[m[0]] = m[1]


class ParameterList(Module):
    """A list of parameters, registered under '0', '1', ...; tensors and arrays put in it become Parameters.

    Other objects are stored as they are (and shown as ``Object of type: ...``).

    >>> import nnlite
    >>> pl = nnlite.nn.ParameterList([nnlite.zeros(3, 4), nnlite.zeros(2)])
    >>> pl
    ParameterList(
        (0): Parameter containing: [nnlite.float32 of size 3x4]
        (1): Parameter containing: [nnlite.float32 of size 2]
    )
    >>> [name for name, _ in pl.named_parameters()]
    ['0', '1']

    See PyTorch's ``torch.nn.ParameterList``.
    """

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        if values is not None:
            self += values

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            out = self.__class__()
            for i in range(*idx.indices(len(self))):
                out.append(self[i])
            return out
        return getattr(self, str(_index(idx, len(self))))

    def __setitem__(self, idx, param):
        setattr(self, str(_index(idx, len(self))), _as_parameter(param))

    def __len__(self):
        return self._size

    def __iter__(self):
        return iter(self[i] for i in range(len(self)))

    def __iadd__(self, parameters):
        return self.extend(parameters)

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]

    def append(self, value):
        """Add ``value`` at the end (a tensor or array becomes a Parameter); returns ``self``."""
        new_idx = len(self)
        self._size += 1
        self[new_idx] = value
        return self

    def extend(self, values):
        """Append every item of the iterable ``values`` (not a single tensor or array); returns ``self``."""
        if not isinstance(values, Iterable) or isinstance(values, Tensor) or _is_array(values):
            raise TypeError("ParameterList.extend should be called with an iterable, but got "
                            + type(values).__name__)
        for value in values:
            self.append(value)
        return self

    def extra_repr(self):
        return "\n".join(_entry_repr(k, p) for k, p in enumerate(self))

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterList should not be called.")


class ParameterDict(Module):
    """An ordered dict of parameters under string keys; tensors and arrays put in it become Parameters.

    Dict protocol: ``[]``, ``get``, ``setdefault``, ``pop``, ``popitem``,
    ``fromkeys``, ``copy``, ``update``, ``|``, ``|=``, ``keys``/``values``/``items``,
    ``in``, ``len``, ``clear``, ``reversed``.  Insertion order is kept, also when
    updating from a plain dict (PyTorch sorts a plain dict's keys there).

    >>> import nnlite
    >>> pd = nnlite.nn.ParameterDict({"scale": nnlite.ones(2), "shift": nnlite.zeros(2)})
    >>> list(pd), type(pd["scale"]).__name__
    (['scale', 'shift'], 'Parameter')

    See PyTorch's ``torch.nn.ParameterDict``.
    """

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = {}
        if parameters is not None:
            self.update(parameters)

    def _key_to_attr(self, key):
        if not isinstance(key, str):
            raise TypeError("Index given to ParameterDict cannot be used as a key as it is not a string (type is "
                            f"'{type(key).__name__}'). Open an issue on github if you need non-string keys.")
        return key

    def __getitem__(self, key):
        return getattr(self, self._key_to_attr(key))

    def __setitem__(self, key, value):
        attr = self._key_to_attr(key)
        setattr(self, attr, _as_parameter(value))
        self._keys[key] = None

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, self._key_to_attr(key))

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def copy(self):
        """A new ParameterDict holding the same Parameter objects."""
        return ParameterDict(OrderedDict((k, self[k]) for k in self._keys))

    def setdefault(self, key, default=None):
        """``self[key]``, after setting it to ``default`` when absent."""
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self):
        """Remove every entry."""
        for k in list(self._keys):
            del self[k]

    def pop(self, key):
        """Remove ``key`` and return its value."""
        v = self[key]
        del self[key]
        return v

    def popitem(self):
        """Remove and return the last ``(key, value)`` pair."""
        if not self._keys:
            raise KeyError("popitem(): dictionary is empty")
        k = next(reversed(self._keys))
        return k, self.pop(k)

    def get(self, key, default=None):
        """``self[key]`` if present, else ``default``."""
        return self[key] if key in self else default

    def fromkeys(self, keys, default=None):
        """A new ParameterDict with ``keys`` all mapped to ``default``."""
        return ParameterDict((k, default) for k in keys)

    def keys(self):
        """The keys, in order."""
        return self._keys.keys()

    def items(self):
        """The ``(key, value)`` pairs, in order."""
        return ((k, self[k]) for k in self._keys)

    def values(self):
        """The values, in order."""
        return (self[k] for k in self._keys)

    def update(self, parameters):
        """Add or replace entries from a mapping or an iterable of ``(key, value)`` pairs, in their order."""
        if not isinstance(parameters, Iterable):
            raise TypeError("ParametersDict.update should be called with an iterable of key/value pairs, but got "
                            + type(parameters).__name__)
        if isinstance(parameters, (Mapping, ParameterDict)):
            for key, parameter in parameters.items():
                self[key] = parameter
        else:
            for j, p in enumerate(parameters):
                _check_pair(j, p, "ParameterDict")
                self[p[0]] = p[1]

    def extra_repr(self):
        return "\n".join(_entry_repr(k, p) for k, p in self.items())

    def __call__(self, input):
        raise RuntimeError("ParameterDict should not be called.")

    def __or__(self, other):
        copy = self.copy()
        copy.update(other)
        return copy

    def __ror__(self, other):
        copy = other.copy()
        copy.update(self)
        return copy

    def __ior__(self, other):
        self.update(other)
        return self
