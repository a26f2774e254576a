"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""
import copy
from collections import OrderedDict

import numpy
import pytest

import nnlite
from nnlite import nn


class Add(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x + self.k

    def extra_repr(self):
        return f"k={self.k}"


def adds(*ks):
    return [Add(k) for k in ks]


def keys(m):
    return list(m._modules)


# -- Sequential ---------------------------------------------------------------------------------
def test_sequential_keys_and_forward():
    a, b = adds(1, 10)
    s = nn.Sequential(a, b)
    assert keys(s) == ["0", "1"] and s(nnlite.zeros(1)).tolist() == [11.0]
    d = nn.Sequential(OrderedDict([("x", a), ("y", b)]))
    assert keys(d) == ["x", "y"] and d.x is a and d(numpy.zeros(1)).tolist() == [11.0]
    assert nn.Sequential()(nnlite.ones(1)).tolist() == [1.0]


def test_sequential_indexing():
    mods = adds(0, 1, 2, 3)
    s = nn.Sequential(*mods)
    assert s[0] is mods[0] and s[-1] is mods[3] and s[-4] is mods[0]
    assert s[numpy.int64(2)] is mods[2]
    for bad in (4, -5):
        with pytest.raises(IndexError) as e:
            s[bad]
        assert str(e.value) == f"index {bad} is out of range"
    with pytest.raises(TypeError):
        s["0"]


def test_sequential_slice_keeps_keys():
    a, b, c = adds(1, 2, 3)
    s = nn.Sequential(OrderedDict([("a", a), ("b", b), ("c", c)]))
    sub = s[1:]
    assert type(sub) is nn.Sequential and keys(sub) == ["b", "c"] and sub.b is b
    assert keys(nn.Sequential(a, b, c)[::2]) == ["0", "2"]


def test_sequential_setitem_delitem_renumbers():
    mods = adds(0, 1, 2, 3)
    s = nn.Sequential(*mods)
    new = Add(9)
    s[-1] = new
    assert s[3] is new
    del s[1]
    assert keys(s) == ["0", "1", "2"] and list(s) == [mods[0], mods[2], new]
    del s[0:2]
    assert keys(s) == ["0"] and s[0] is new
    named = nn.Sequential(OrderedDict([("a", mods[0]), ("b", mods[1])]))
    del named[0]
    assert keys(named) == ["0"]  # PyTorch 2.x renumbers after a delete


def test_sequential_len_iter_append_insert_extend_pop():
    a, b, c, d = adds(1, 2, 3, 4)
    s = nn.Sequential(a)
    assert s.append(b) is s and len(s) == 2
    assert s.insert(0, c) is s and list(s) == [c, a, b] and keys(s) == ["0", "1", "2"]
    s.insert(-1, d)
    assert list(s) == [c, a, d, b]
    s.insert(4, Add(5))
    assert len(s) == 5
    with pytest.raises(IndexError, match="^Index out of range: 7$"):
        s.insert(7, a)
    with pytest.raises(AssertionError, match="module should be of type: <class 'nnlite.nn.modules.module.Module'>"):
        s.insert(0, 3)
    assert s.extend([Add(6)]) is s and len(s) == 6
    assert s.pop(1) is a and len(s) == 5 and keys(s) == [str(i) for i in range(5)]
    popped = s.pop(slice(0, 2))
    assert type(popped) is nn.Sequential and list(popped) == [c, d] and len(s) == 3


def test_sequential_arithmetic():
    a, b = adds(1, 2)
    s, t = nn.Sequential(a), nn.Sequential(b)
    u = s + t
    assert list(u) == [a, b] and keys(u) == ["0", "1"] and len(s) == 1
    s += t
    assert list(s) == [a, b]
    m = t * 3
    assert list(m) == [b, b, b] and keys(m) == ["0", "1", "2"]
    assert list(2 * t) == [b, b]
    t *= 2
    assert list(t) == [b, b]
    with pytest.raises(ValueError) as e:
        s + 3
    assert str(e.value) == "add operator supports only objects of Sequential class, but <class 'int'> is given."
    with pytest.raises(ValueError) as e:
        s * 0
    assert str(e.value) == "Non-positive multiplication factor 0 for <class 'nnlite.nn.modules.container.Sequential'>"
    with pytest.raises(TypeError) as e:
        s * 1.5
    assert str(e.value) == ("unsupported operand type(s) for *: <class 'nnlite.nn.modules.container.Sequential'> "
                            "and <class 'float'>")


def test_sequential_dir_hides_digits():
    s = nn.Sequential(Add(1))
    assert "0" not in dir(s) and "append" in dir(s)


# -- ModuleList ---------------------------------------------------------------------------------
def test_modulelist_basics():
    mods = adds(0, 1, 2)
    ml = nn.ModuleList(mods)
    assert len(ml) == 3 and list(ml) == mods and ml[-1] is mods[2]
    with pytest.raises(IndexError, match="^index 3 is out of range$"):
        ml[3]
    sub = ml[1:]
    assert type(sub) is nn.ModuleList and list(sub) == mods[1:] and keys(sub) == ["0", "1"]
    new = Add(7)
    ml[-2] = new
    assert ml[1] is new
    assert nn.ModuleList().extend(mods) is not None and len(nn.ModuleList(None)) == 0
    with pytest.raises(TypeError) as e:
        nn.ModuleList().extend(1)
    assert str(e.value) == "ModuleList.extend should be called with an iterable, but got int"
    with pytest.raises(TypeError, match="^int is not a Module subclass$"):
        nn.ModuleList([1])


def test_modulelist_delete_insert_pop_add():
    mods = adds(0, 1, 2, 3)
    ml = nn.ModuleList(mods)
    del ml[0]
    assert keys(ml) == ["0", "1", "2"] and list(ml) == mods[1:]
    del ml[::2]
    assert list(ml) == [mods[2]] and keys(ml) == ["0"]
    ml.insert(0, mods[0])
    ml.insert(-1, mods[1])
    assert list(ml) == [mods[0], mods[1], mods[2]]
    ml.insert(3, mods[3])
    assert list(ml) == mods and keys(ml) == ["0", "1", "2", "3"]
    with pytest.raises(IndexError, match="^Index out of range: -6$"):
        ml.insert(-6, mods[0])
    with pytest.raises(TypeError, match="^int is not a Module subclass$"):
        ml.insert(0, 1)
    assert ml.pop(-1) is mods[3] and len(ml) == 3
    assert ml.append(mods[3]) is ml
    both = ml + nn.ModuleList(adds(5))
    assert type(both) is nn.ModuleList and len(both) == 5 and keys(both)[-1] == "4"
    ml += [Add(6)]
    assert len(ml) == 5
    assert "0" not in dir(ml)


def test_modulelist_repr_groups_repeats():
    ml = nn.ModuleList([Add(1), Add(1), Add(1), Add(2), nn.Sequential(Add(3)), Add(2)])
    assert repr(ml) == (
        "ModuleList(\n"
        "  (0-2): 3 x Add(k=1)\n"
        "  (3): Add(k=2)\n"
        "  (4): Sequential(\n"
        "    (0): Add(k=3)\n"
        "  )\n"
        "  (5): Add(k=2)\n"
        ")")
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_modulelist_parameters_are_registered():
    class P(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(nnlite.zeros(1))
    ml = nn.ModuleList([P(), P()])
    assert [n for n, _ in ml.named_parameters()] == ["0.w", "1.w"]


# -- ModuleDict ---------------------------------------------------------------------------------
def test_moduledict_protocol():
    a, b, c = adds(1, 2, 3)
    md = nn.ModuleDict({"z": a, "a": b})
    assert list(md) == ["z", "a"] and list(md.keys()) == ["z", "a"]  # insertion order, never sorted
    assert md["z"] is a and "a" in md and "q" not in md and len(md) == 2
    md["c"] = c
    assert list(md.values()) == [a, b, c] and list(md.items())[2] == ("c", c)
    del md["z"]
    assert list(md) == ["a", "c"]
    assert md.pop("a") is b and list(md) == ["c"]
    md.update([("y", a), ("b", b)])
    md.update(OrderedDict([("x", c)]))
    md.update(nn.ModuleDict({"w": a}))
    assert list(md) == ["c", "y", "b", "x", "w"]
    md.clear()
    assert len(md) == 0


def test_moduledict_update_errors():
    md = nn.ModuleDict()
    with pytest.raises(TypeError) as e:
        md.update(3)
    assert str(e.value) == "ModuleDict.update should be called with an iterable of key/value pairs, but got int"
    with pytest.raises(TypeError) as e:
        md.update([("a", Add(1)), 1])
    assert str(e.value) == "ModuleDict update sequence element #1 should be Iterable; is int"
    with pytest.raises(ValueError) as e:
        md.update([("a", Add(1)), (1, 2, 3)])
    assert str(e.value) == "ModuleDict update sequence element #1 has length 3; 2 is required"
    with pytest.raises(TypeError, match="^int is not a Module subclass$"):
        md["x"] = 1
    with pytest.raises(KeyError):
        md["a.b"] = Add(1)


# -- ParameterList ------------------------------------------------------------------------------
def test_parameterlist_wraps_tensors_and_arrays():
    t = nnlite.zeros(3, 4)
    a = numpy.ones(2)
    p = nn.Parameter(nnlite.zeros(1), requires_grad=False)
    pl = nn.ParameterList([t, a, p, 5])
    assert len(pl) == 4 and type(pl[0]) is nn.Parameter and pl[0]._data is t._data and pl[0].requires_grad
    assert type(pl[1]) is nn.Parameter and pl[1]._data is a and pl[2] is p and pl[3] == 5
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    assert list(pl.state_dict()) == ["0", "1", "2"]


def test_parameterlist_list_protocol():
    pl = nn.ParameterList()
    assert pl.append(nnlite.zeros(1)) is pl
    assert pl.extend([nnlite.ones(1), nnlite.full((1,), 2.0)]) is pl
    pl += [nnlite.full((1,), 3.0)]
    assert [p.item() for p in pl] == [0.0, 1.0, 2.0, 3.0]
    assert pl[-1].item() == 3.0
    with pytest.raises(IndexError, match="^index 4 is out of range$"):
        pl[4]
    sub = pl[1:3]
    assert type(sub) is nn.ParameterList and [p.item() for p in sub] == [1.0, 2.0] and sub[0] is pl[1]
    pl[0] = nnlite.full((1,), 9.0)
    assert type(pl[0]) is nn.Parameter and pl[0].item() == 9.0
    with pytest.raises(TypeError, match="^cannot assign 'int' as parameter '0'"):
        pl[0] = 3
    with pytest.raises(TypeError, match="^ParameterList.extend should be called with an iterable, but got int$"):
        pl.extend(3)
    with pytest.raises(TypeError, match="but got Tensor$"):
        pl.extend(nnlite.zeros(2))
    with pytest.raises(RuntimeError, match="^ParameterList should not be called.$"):
        pl(1)
    assert "0" not in dir(pl)


def test_parameterlist_repr():
    pl = nn.ParameterList([nnlite.zeros(3, 4), 5, nnlite.zeros(2, dtype=nnlite.float64)])
    assert repr(pl) == ("ParameterList(\n"
                        "    (0): Parameter containing: [nnlite.float32 of size 3x4]\n"
                        "    (1): Object of type: int\n"
                        "    (2): Parameter containing: [nnlite.float64 of size 2]\n"
                        ")")
    assert repr(nn.ParameterList()) == "ParameterList()"


def test_parameterlist_deepcopy_and_move():
    pl = nn.ParameterList([nnlite.zeros(2)])
    p = pl[0]
    pl.double()
    assert pl[0] is p and p.dtype == nnlite.float64
    c = copy.deepcopy(pl)
    assert len(c) == 1 and c[0] is not p and type(c[0]) is nn.Parameter


# -- ParameterDict ------------------------------------------------------------------------------
def test_parameterdict_dict_protocol():
    pd = nn.ParameterDict({"b": nnlite.zeros(1), "a": numpy.ones(2)})
    assert list(pd) == ["b", "a"] and type(pd["a"]) is nn.Parameter  # insertion order kept
    assert "a" in pd and len(pd) == 2 and list(reversed(pd)) == ["a", "b"]
    assert pd.get("zz") is None and pd.get("zz", 3) == 3 and pd.get("b") is pd["b"]
    d = pd.setdefault("c", nnlite.full((1,), 2.0))
    assert type(d) is nn.Parameter and pd.setdefault("c", None) is d
    assert list(pd.keys()) == ["b", "a", "c"] and [v.shape[0] for v in pd.values()] == [1, 2, 1]
    assert [k for k, _ in pd.items()] == ["b", "a", "c"]
    assert pd.pop("b").shape == (1,) and list(pd) == ["a", "c"]
    k, v = pd.popitem()
    assert k == "c" and v is d and list(pd) == ["a"]
    pd["x"] = 5
    assert pd["x"] == 5 and [n for n, _ in pd.named_parameters()] == ["a"]
    cp = pd.copy()
    assert type(cp) is nn.ParameterDict and cp["a"] is pd["a"] and list(cp) == ["a", "x"]
    fk = pd.fromkeys(["p", "q"], nnlite.zeros(1))
    assert list(fk) == ["p", "q"] and fk["p"]._data is fk["q"]._data  # two Parameters, one array
    pd.clear()
    assert len(pd) == 0 and not list(pd.parameters())
    with pytest.raises(KeyError, match="dictionary is empty"):
        pd.popitem()


def test_parameterdict_update_and_or():
    a = nn.ParameterDict(OrderedDict([("x", nnlite.zeros(1))]))
    b = nn.ParameterDict([("y", nnlite.ones(1)), ("x", nnlite.ones(1))])
    c = a | b
    assert list(c) == ["x", "y"] and c["x"] is b["x"] and a["x"].item() == 0.0
    a |= b
    assert a["x"] is b["x"] and list(a) == ["x", "y"]
    assert list(OrderedDict([("z", nnlite.zeros(1))]) | nn.ParameterDict()) == ["z"]  # dict's own |
    with pytest.raises(TypeError) as e:
        a.update(3)
    assert str(e.value) == "ParametersDict.update should be called with an iterable of key/value pairs, but got int"
    with pytest.raises(TypeError, match="^ParameterDict update sequence element #0 should be Iterable; is int$"):
        a.update([1])
    with pytest.raises(ValueError, match="^ParameterDict update sequence element #0 has length 1; 2 is required$"):
        a.update(["x"])


def test_parameterdict_key_errors():
    pd = nn.ParameterDict()
    with pytest.raises(TypeError) as e:
        pd[3] = nnlite.zeros(1)
    assert str(e.value) == ("Index given to ParameterDict cannot be used as a key as it is not a string (type is "
                            "'int'). Open an issue on github if you need non-string keys.")
    assert len(pd) == 0
    with pytest.raises(KeyError, match="attribute 'keys' already exists"):
        pd["keys"] = nnlite.zeros(1)
    with pytest.raises(RuntimeError, match="^ParameterDict should not be called.$"):
        pd(1)


def test_parameterdict_repr():
    pd = nn.ParameterDict(OrderedDict([("a", nnlite.zeros(3, 4)), ("b", 5)]))
    assert repr(pd) == ("ParameterDict(\n"
                        "    (a): Parameter containing: [nnlite.float32 of size 3x4]\n"
                        "    (b): Object of type: int\n"
                        ")")


def test_containers_in_a_model_state_dict():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleDict({"h": nn.Sequential(Add(1))})
            self.ps = nn.ParameterList([nnlite.zeros(1)])
            self.pd = nn.ParameterDict({"s": nnlite.ones(1)})
    m = Model()
    assert list(m.state_dict()) == ["ps.0", "pd.s"]
    m.load_state_dict({"ps.0": numpy.array([4.0]), "pd.s": numpy.array([5.0])})
    assert m.ps[0].item() == 4.0 and m.pd["s"].item() == 5.0
