"""The same model trees built with nnlite and with PyTorch: names, keys, repr, errors and gradients agree."""
import re
from collections import OrderedDict

import numpy
import pytest

import nnlite

torch = pytest.importorskip("torch")

RNG = numpy.random.default_rng(0)
VALUES = {name: RNG.standard_normal(shape).astype(numpy.float32) for name, shape in [
    ("w", (3, 3)), ("b", (3,)), ("p0", (3,)), ("p1", (3,)), ("scale", (3,)), ("shift", (3,)), ("gain", (1,)),
    ("x", (2, 3))]}


def normalise(text):
    """PyTorch's text with nnlite's names: its tensor type names, then 'torch' → 'nnlite'."""
    text = re.sub(r"torch\.(Float|Double|Long)Tensor", lambda m: {"Float": "nnlite.float32", "Double":
                  "nnlite.float64", "Long": "nnlite.int64"}[m.group(1)], text)
    return text.replace("torch", "nnlite")


def build(lib):
    """A tree with every container, buffers (one non-persistent), a parameter-less bias and a shared module."""
    nn = lib.nn

    def t(name):
        return lib.tensor(VALUES[name])

    class Affine(nn.Module):
        def __init__(self, bias=True):
            super().__init__()
            self.weight = nn.Parameter(t("w"))
            if bias:
                self.bias = nn.Parameter(t("b"))
            else:
                self.register_parameter("bias", None)
            self.register_buffer("running", lib.zeros(3))
            self.register_buffer("scratch", lib.zeros(1), persistent=False)

        def forward(self, x):
            y = (x @ self.weight).tanh()
            return y + self.bias if self.bias is not None else y

        def extra_repr(self):
            return f"features=3, bias={self.bias is not None}"

    class Tree(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = Affine()
            self.blocks = nn.ModuleList([Affine(), Affine(), Affine(bias=False),
                                         nn.Sequential(Affine(), Affine(bias=False))])
            self.heads = nn.ModuleDict(OrderedDict([("b", Affine()), ("a", nn.Sequential())]))
            self.plist = nn.ParameterList([t("p0"), t("p1")])
            self.pdict = nn.ParameterDict(OrderedDict([("scale", t("scale")), ("shift", t("shift"))]))
            self.gain = nn.Parameter(t("gain"))
            self.again = self.stem  # the same module twice
            self.register_buffer("count", lib.zeros(1, dtype=lib.int64))

        def forward(self, x):
            x = self.stem(x)
            for block in self.blocks:
                x = block(x)
            x = self.heads["a"](self.heads["b"](x))
            x = self.again(x * self.plist[0] + self.plist[1])
            return (x * self.pdict["scale"] + self.pdict["shift"]) * self.gain

    return Tree()


@pytest.fixture(scope="module")
def pair():
    return build(nnlite), build(torch)


def test_named_members_agree(pair):
    ours, theirs = pair
    for method in ("named_parameters", "named_buffers", "named_modules", "named_children"):
        assert [n for n, _ in getattr(ours, method)()] == [n for n, _ in getattr(theirs, method)()], method
    assert [n for n, _ in ours.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in theirs.named_parameters(remove_duplicate=False)]
    assert [n for n, _ in ours.named_modules(remove_duplicate=False)] == \
        [n for n, _ in theirs.named_modules(remove_duplicate=False)]


def test_state_dict_keys_and_values_agree(pair):
    ours, theirs = pair
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert tuple(a[k].shape) == tuple(b[k].shape) and str(a[k].dtype) == str(b[k].dtype).replace("torch.", "")
        numpy.testing.assert_array_equal(a[k].numpy(), b[k].numpy())


def test_repr_agrees(pair):
    ours, theirs = pair
    assert repr(ours) == normalise(repr(theirs))
    for name in ("blocks", "plist", "pdict", "heads"):
        assert repr(getattr(ours, name)) == normalise(repr(getattr(theirs, name))), name


@pytest.mark.parametrize("items", [[], ["a"], ["a", "a"], ["a", "b", "b", "a", "a", "a"], ["s", "s"]])
def test_modulelist_repr_grouping_agrees(items):
    def make(lib):
        class A(lib.nn.Module):
            def extra_repr(self):
                return "x=1\n\ny=2"

        class B(lib.nn.Module):
            pass
        kinds = {"a": A, "b": B, "s": lambda: lib.nn.Sequential(A(), B())}
        return lib.nn.ModuleList([kinds[i]() for i in items])
    assert repr(make(nnlite)) == normalise(repr(make(torch)))


def test_gradients_agree(pair):
    ours, theirs = pair
    for m in pair:
        m.zero_grad()
    out_ours = ours(VALUES["x"])  # a numpy input
    out_theirs = theirs(torch.tensor(VALUES["x"]))
    numpy.testing.assert_allclose(out_ours.detach().numpy(), out_theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    out_ours.sum().backward()
    out_theirs.sum().backward()
    grads_theirs = {n: p.grad for n, p in theirs.named_parameters()}
    for n, p in ours.named_parameters():
        assert (p.grad is None) == (grads_theirs[n] is None), n
        if p.grad is not None:
            numpy.testing.assert_allclose(p.grad.numpy(), grads_theirs[n].numpy(), rtol=1e-4, atol=1e-6,
                                          err_msg=n)


def test_load_state_dict_from_torch_values():
    ours, theirs = build(nnlite), build(torch)
    with torch.no_grad():
        for p in theirs.parameters():
            p.mul_(3.0)
    result = ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert repr(result) == repr(theirs.load_state_dict(theirs.state_dict()))
    for (k, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


# Each case runs the same code against both libraries; the error types and (normalised) messages must agree.
def _early_assign(lib, value):
    class Early(lib.nn.Module):
        def __init__(self):
            self.x = value(lib)
            super().__init__()
    Early()


def _load(lib, sd, strict=True):
    m = lib.nn.Sequential(build(lib).stem)
    return m.load_state_dict({k: lib.zeros(*s) for k, s in sd.items()}, strict=strict)


ERROR_CASES = {
    "assign tensor to parameter": lambda lib, m: setattr(m.stem, "weight", lib.zeros(2)),
    "assign int to child": lambda lib, m: setattr(m, "stem", 3),
    "assign int to buffer": lambda lib, m: setattr(m.stem, "running", 3),
    "missing attribute": lambda lib, m: m.stem.nope,
    "buffer name with dot": lambda lib, m: m.register_buffer("a.b", None),
    "empty buffer name": lambda lib, m: m.register_buffer("", None),
    "existing attribute": lambda lib, m: m.register_buffer("gain", None),
    "buffer of wrong type": lambda lib, m: m.register_buffer("xx", 3),
    "parameter of wrong type": lambda lib, m: m.register_parameter("xx", lib.zeros(1)),
    "add_module of int": lambda lib, m: m.add_module("xx", 3),
    "module name with dot": lambda lib, m: m.add_module("x.x", lib.nn.Sequential()),
    "get_submodule": lambda lib, m: m.get_submodule("blocks.9"),
    "get_submodule of parameter": lambda lib, m: m.get_submodule("gain"),
    "get_parameter": lambda lib, m: m.get_parameter("stem.running"),
    "get_buffer": lambda lib, m: m.get_buffer("stem.weight"),
    "train(1)": lambda lib, m: m.train(1),
    "to(int64)": lambda lib, m: m.to(lib.int64),
    "missing forward": lambda lib, m: lib.nn.Module()(lib.zeros(1)),
    "sequential index": lambda lib, m: lib.nn.Sequential()[5],
    "sequential insert": lambda lib, m: lib.nn.Sequential().insert(3, lib.nn.Sequential()),
    "sequential + int": lambda lib, m: lib.nn.Sequential() + 3,
    "sequential * 0": lambda lib, m: lib.nn.Sequential() * 0,
    "sequential * float": lambda lib, m: lib.nn.Sequential() * 1.5,
    "modulelist index": lambda lib, m: m.blocks[-9],
    "modulelist extend": lambda lib, m: lib.nn.ModuleList().extend(1),
    "moduledict update int": lambda lib, m: lib.nn.ModuleDict().update(3),
    "moduledict element length": lambda lib, m: lib.nn.ModuleDict().update([("a", lib.nn.Sequential()),
                                                                            (1, 2, 3)]),
    "moduledict element type": lambda lib, m: lib.nn.ModuleDict().update([("a", lib.nn.Sequential()), 1]),
    "parameterlist extend": lambda lib, m: lib.nn.ParameterList().extend(3),
    "parameterlist call": lambda lib, m: m.plist(1),
    "parameterdict key": lambda lib, m: m.pdict[3],
    "parameterdict update": lambda lib, m: lib.nn.ParameterDict().update(3),
    "parameter before init": lambda lib, m: _early_assign(lib, lambda lib: lib.nn.Parameter(lib.zeros(1))),
    "module before init": lambda lib, m: _early_assign(lib, lambda lib: lib.nn.Sequential()),
    "load not a dict": lambda lib, m: m.load_state_dict([]),
    "load missing, unexpected, size": lambda lib, m: _load(lib, {"0.weight": (3, 3), "0.bias": (4,), "x": (1,),
                                                                  "0.extra.y": (1,)}),
    "load size non-strict": lambda lib, m: _load(lib, {"0.weight": (2, 3)}, strict=False),
    "load non-tensor": lambda lib, m: lib.nn.Sequential(build(lib).stem).load_state_dict(
        {"0.weight": 3, "0.bias": lib.zeros(3), "0.running": lib.zeros(3)}),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_agree(case):
    fn = ERROR_CASES[case]
    caught = []
    for lib in (nnlite, torch):
        with pytest.raises(Exception) as e:
            fn(lib, build(lib))
        caught.append(e.value)
    ours, theirs = caught
    assert type(ours) is type(theirs)
    expected = normalise(str(theirs))
    expected = expected.replace("'nnlite.float32' as parameter", "'nnlite.Tensor' as parameter")
    expected = expected.replace("'nnlite.float32' object to parameter", "'nnlite.Tensor' object to parameter")
    expected = expected.replace("Iterable; isint", "Iterable; is int")  # nnlite adds the missing space
    assert str(ours) == expected


def test_conv1d_matches_torch():
    Conv1d = getattr(nnlite.nn, "Conv1d", None)
    if Conv1d is None:
        pytest.skip("nnlite.nn.Conv1d is not there yet")

    def make(lib, conv):
        return lib.nn.Sequential(conv(2, 4, 3, padding=1), lib.nn.ModuleList([conv(4, 4, 3, groups=2, bias=False)]))
    ours, theirs = make(nnlite, Conv1d), make(torch, torch.nn.Conv1d)
    assert repr(ours) == normalise(repr(theirs))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = RNG.standard_normal((2, 2, 7)).astype(numpy.float32)
    a = ours[1][0](ours[0](x))
    b = theirs[1][0](theirs[0](torch.tensor(x)))
    numpy.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-5)
    a.sum().backward()
    b.sum().backward()
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        numpy.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=n)
