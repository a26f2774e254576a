"""The tensor ops, layers and functional forms added for PyTorch ports: gradients (float64) and PyTorch parity."""
import warnings

import numpy
import pytest
from hypothesis import given, settings, strategies as st

import nnlite
import nnlite.nn.functional as F
from nnlite.autograd import Variable, gradcheck
from conftest import host, rng_for

torch = pytest.importorskip("torch")


def both(a, grad=True):
    return (nnlite.tensor(a, requires_grad=grad and a.dtype.kind == "f"),
            torch.tensor(a, requires_grad=grad and a.dtype.kind == "f"))


def same(ours, theirs, rtol=1e-6, atol=1e-6):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    numpy.testing.assert_allclose(host(ours), theirs.detach().numpy(), rtol=rtol, atol=atol)


def check_op(f, g, a, rtol=1e-6):
    """f on nnlite, g on torch: values, then gradients of a random weighting, then gradcheck in float64."""
    x, xt = both(a)
    y, yt = f(x), g(xt)
    same(y, yt, rtol)
    w = numpy.random.default_rng(0).standard_normal(tuple(yt.shape)).astype(a.dtype)
    (y * nnlite.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    same(x.grad, xt.grad, rtol=1e-5, atol=1e-5)
    x64 = nnlite.tensor(a.astype(numpy.float64), requires_grad=True)
    assert gradcheck(f, (x64,))


X = numpy.random.default_rng(1).standard_normal((2, 3, 5)).astype(numpy.float32)


@pytest.mark.parametrize("name, f, g", [
    ("flip", lambda t: t.flip(0, 2), lambda t: t.flip(0, 2)),
    ("roll", lambda t: t.roll((1, -2), (1, 2)), lambda t: t.roll((1, -2), (1, 2))),
    ("roll-flat", lambda t: t.roll(4), lambda t: t.roll(4)),
    ("repeat", lambda t: t.repeat(2, 1, 1, 3), lambda t: t.repeat(2, 1, 1, 3)),
    ("chunk", lambda t: t.chunk(2, dim=-1)[1], lambda t: t.chunk(2, dim=-1)[1]),
    ("split", lambda t: t.split([1, 4], 2)[1] * 2, lambda t: t.split([1, 4], 2)[1] * 2),
    ("split-int", lambda t: t.split(2, -1)[2], lambda t: t.split(2, -1)[2]),
    ("unbind", lambda t: t.unbind(1)[2], lambda t: t.unbind(1)[2]),
    ("gather", lambda t: t.gather(2, nnlite.tensor([[[4, 0], [1, 1], [2, 3]]] * 2)),
     lambda t: t.gather(2, torch.tensor([[[4, 0], [1, 1], [2, 3]]] * 2))),
    ("sort", lambda t: t.sort(dim=1, descending=True).values, lambda t: t.sort(dim=1, descending=True).values),
    ("topk", lambda t: t.topk(2, dim=-1).values, lambda t: t.topk(2, dim=-1).values),
    ("topk-small", lambda t: t.topk(3, 2, largest=False)[0], lambda t: t.topk(3, 2, largest=False)[0]),
    ("masked_fill", lambda t: t.masked_fill(t > 0.3, -1.0), lambda t: t.masked_fill(t > 0.3, -1.0)),
    ("silu", F.silu, torch.nn.functional.silu), ("mish", F.mish, torch.nn.functional.mish),
    ("hardswish", F.hardswish, torch.nn.functional.hardswish),
    ("softplus", lambda t: F.softplus(t, 2.0, 1.0), lambda t: torch.nn.functional.softplus(t, 2.0, 1.0)),
    ("hardtanh", lambda t: F.hardtanh(t, -0.5, 0.7), lambda t: torch.nn.functional.hardtanh(t, -0.5, 0.7)),
    ("relu6", lambda t: F.relu6(t * 8), lambda t: torch.nn.functional.relu6(t * 8)),
    ("add-alpha", lambda t: nnlite.add(t, t * t, alpha=0.5), lambda t: torch.add(t, t * t, alpha=0.5)),
    ("sub-alpha", lambda t: nnlite.sub(t, 2.0, alpha=3), lambda t: torch.sub(t, 2.0, alpha=3)),
    ("mul-div", lambda t: nnlite.div(nnlite.mul(t, 3.0), t * t + 1), lambda t: torch.div(torch.mul(t, 3.0), t * t + 1)),
    ("axis", lambda t: t.sum(axis=2, keepdims=True) + t.mean(axis=(0, 1)),
     lambda t: t.sum(axis=2, keepdims=True) + t.mean(axis=(0, 1))),
    ("axis-std", lambda t: t.std(axis=-1) * t.max(axis=1).values.sum(), lambda t: t.std(axis=-1) * t.max(axis=1).values.sum()),
    ("cat-axis", lambda t: nnlite.cat([t, t * 2], axis=1), lambda t: torch.cat([t, t * 2], axis=1)),
])
def test_ops_match_torch_and_gradcheck(name, f, g):
    check_op(f, g, X)


def test_indices_and_integer_forms_match_torch():
    x, xt = both(X, grad=False)
    for ours, theirs in [(x.sort(1).indices, xt.sort(1).indices), (x.topk(2).indices, xt.topk(2).indices),
                         (x.argsort(dim=-1, descending=True), xt.argsort(dim=-1, descending=True))]:
        same(ours, theirs)
    a, at = both(numpy.array([7, -7, 5, -3]), grad=False)
    for mode in ("trunc", "floor"):
        same(nnlite.div(a, 2, rounding_mode=mode), torch.div(at, 2, rounding_mode=mode))
        same(nnlite.div(x, 0.3, rounding_mode=mode), torch.div(xt, 0.3, rounding_mode=mode), rtol=1e-5)
    same(F.one_hot(nnlite.tensor([3, 1, 0, 3])), torch.nn.functional.one_hot(torch.tensor([3, 1, 0, 3])))
    same(F.one_hot(nnlite.tensor([[0], [2]]), 5), torch.nn.functional.one_hot(torch.tensor([[0], [2]]), 5))
    same(nnlite.linspace(-1, 2, 7), torch.linspace(-1, 2, 7))
    same(x.masked_fill(x > 0, nnlite.tensor(2.0)), xt.masked_fill(xt > 0, torch.tensor(2.0)))
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
        F.one_hot(nnlite.tensor([3]), 3)
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor of type LongTensor."):
        F.one_hot(nnlite.tensor([1.0]))
    with pytest.raises(RuntimeError, match="div expected rounding_mode to be one of None, 'trunc', or 'floor'"):
        nnlite.div(x, 2, rounding_mode="round")
    with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum exactly to 5"):
        x.split([1, 1], 2)
    with pytest.raises(RuntimeError, match="Number of dimensions of repeat dims can not be smaller"):
        x.repeat(2)
    with pytest.raises(RuntimeError, match="For integral input tensors, argument alpha must not be a floating point"):
        nnlite.add(a, a, alpha=0.5)
    with pytest.raises(TypeError, match="got multiple values for argument 'dim'"):
        x.sum(dim=1, axis=1)


def test_out_and_in_place_shape_changes():
    out = nnlite.empty(0)
    r = nnlite.add(nnlite.ones(3), 1, out=out)
    assert r is out and out.tolist() == [2.0, 2.0, 2.0]
    with pytest.warns(UserWarning, match="An output with one or more elements was resized"):
        nnlite.mul(nnlite.ones(2), 3, out=out)
    assert out.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        nnlite.add(nnlite.ones(2, requires_grad=True), 1, out=out)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        nnlite.div(nnlite.ones(2), 2, out=nnlite.zeros(2, dtype=nnlite.int64))
    t = nnlite.arange(6.0).reshape(2, 3)
    assert t.unsqueeze_(1).shape == (2, 1, 3) and t.squeeze_().shape == (2, 3)
    leaf = nnlite.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        leaf.unsqueeze_(0)
    y = leaf * 2
    y.unsqueeze_(0)
    assert y.shape == (1, 3) and y.grad_fn is not None
    y.sum().backward()
    assert leaf.grad.tolist() == [2.0, 2.0, 2.0]
    m = nnlite.zeros(3)
    m.masked_fill_(nnlite.tensor([True, False, True]), 5.0)
    assert m.tolist() == [5.0, 0.0, 5.0]


def test_like_creators_inference_mode_and_variable():
    x = nnlite.zeros(2, 3, dtype=nnlite.float64)
    for f in (nnlite.randn_like, nnlite.rand_like):
        r = f(x)
        assert r.shape == (2, 3) and r.dtype == nnlite.float64 and not r.requires_grad
    assert 0 <= float(nnlite.rand_like(x).min()) and float(nnlite.rand_like(x).max()) < 1
    w = nnlite.ones(2, requires_grad=True)
    with nnlite.inference_mode():
        assert not (w * 2).requires_grad and nnlite.is_inference_mode_enabled()
    assert (w * 2).requires_grad and not nnlite.is_inference_mode_enabled()
    with nnlite.inference_mode(False):
        assert (w * 2).requires_grad

    @nnlite.inference_mode()
    def run():
        return (w * 2).requires_grad
    assert run() is False
    t = nnlite.ones(2)
    v = Variable(t, requires_grad=True)
    assert v.requires_grad and v.is_leaf and v is not t and isinstance(t, Variable)
    assert not isinstance(numpy.ones(2), Variable)
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got ndarray"):
        Variable(numpy.ones(2))


# -- layers --------------------------------------------------------------------------------------------------
def _copy_params(m, t):
    t.load_state_dict({k: torch.tensor(host(v)) for k, v in m.state_dict().items()})


@pytest.mark.parametrize("make", [
    lambda nn: nn.ConstantPad1d((2, 1), 3.5), lambda nn: nn.ZeroPad1d((1, 2)), lambda nn: nn.ReflectionPad1d(2),
    lambda nn: nn.ReplicationPad1d((3, 1)), lambda nn: nn.CircularPad1d(2), lambda nn: nn.PReLU(),
    lambda nn: nn.PReLU(3, init=0.1), lambda nn: nn.SiLU(), lambda nn: nn.Mish(), lambda nn: nn.Hardswish(),
    lambda nn: nn.Softplus(), lambda nn: nn.Hardtanh(-2, 2), lambda nn: nn.ReLU6(),
    lambda nn: nn.InstanceNorm1d(3), lambda nn: nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
    lambda nn: nn.Upsample(scale_factor=2), lambda nn: nn.Upsample(size=8, mode="linear", align_corners=True),
    lambda nn: nn.Upsample(scale_factor=1.7, mode="linear"), lambda nn: nn.Upsample(size=3, mode="linear"),
    lambda nn: nn.Upsample(size=12, mode="nearest-exact"), lambda nn: nn.Dropout1d(0.4),
])
def test_layers_match_torch(make):
    m, t = make(nnlite.nn), make(torch.nn)
    assert repr(m) == repr(t)
    assert list(m.state_dict()) == list(t.state_dict())
    for (k, a), b in zip(m.state_dict().items(), t.state_dict().values()):
        numpy.testing.assert_allclose(host(a), b.numpy(), err_msg=k)
    if isinstance(t, torch.nn.Dropout1d):
        m.eval(); t.eval()
    x, xt = both(X)
    y, yt = m(x), t(xt)
    same(y, yt, rtol=1e-5, atol=1e-6)
    w = numpy.random.default_rng(0).standard_normal(tuple(yt.shape)).astype(numpy.float32)
    (y * nnlite.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    same(x.grad, xt.grad, rtol=1e-4, atol=1e-5)
    for (k, p), q in zip(m.named_parameters(), t.parameters()):
        numpy.testing.assert_allclose(host(p.grad), q.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)
    for (k, a), b in zip(m.state_dict().items(), t.state_dict().values()):
        numpy.testing.assert_allclose(host(a), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)  # running stats
    m.eval(); t.eval()
    same(m(x), t(xt), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: nnlite.nn.PReLU(3), lambda: nnlite.nn.InstanceNorm1d(3, affine=True), lambda: nnlite.nn.PReLU(),
    lambda: nnlite.nn.Upsample(size=7, mode="linear"), lambda: nnlite.nn.Upsample(scale_factor=2, mode="linear",
                                                                                  align_corners=True),
])
def test_layers_gradcheck(make):
    m = make().double()
    ps = list(m.parameters())
    names = [n for n, _ in m.named_parameters()]
    x = nnlite.tensor(rng_for("lg").standard_normal((2, 3, 5)), requires_grad=True)

    def f(x, *p):
        for n, v in zip(names, p):
            m._parameters[n] = v
        return m(x)
    assert gradcheck(f, [x] + ps)


@settings(max_examples=30, deadline=None)
@given(length=st.integers(1, 9), out=st.integers(1, 20), mode=st.sampled_from(["nearest", "linear", "nearest-exact"]),
       align=st.booleans(), use_scale=st.booleans())
def test_interpolate_matches_torch(length, out, mode, align, use_scale):
    a = numpy.random.default_rng(length * 31 + out).standard_normal((1, 2, length)).astype(numpy.float32)
    kw = {"scale_factor": out / length} if use_scale else {"size": out}
    if mode == "linear":
        kw["align_corners"] = align
    y = F.interpolate(nnlite.tensor(a), mode=mode, **kw)
    yt = torch.nn.functional.interpolate(torch.tensor(a), mode=mode, **kw)
    same(y, yt, rtol=1e-5, atol=1e-6)


def test_max_unpool_matches_torch_and_gradcheck():
    x, xt = both(X)
    y, idx = F.max_pool1d(x, 2, return_indices=True)
    yt, it = torch.nn.functional.max_pool1d(xt, 2, return_indices=True)
    u, ut = nnlite.nn.MaxUnpool1d(2)(y, idx), torch.nn.MaxUnpool1d(2)(yt, it)
    same(u, ut)
    same(F.max_unpool1d(y, idx, 2, output_size=[5]), torch.nn.functional.max_unpool1d(yt, it, 2, output_size=[5]))
    assert repr(nnlite.nn.MaxUnpool1d(3, 2, 1)) == repr(torch.nn.MaxUnpool1d(3, 2, 1))
    i64 = idx
    assert gradcheck(lambda v: F.max_unpool1d(v, i64, 2), (nnlite.tensor(host(y).astype(numpy.float64),
                                                                         requires_grad=True),))


def test_dropout1d_zeroes_whole_channels_and_errors():
    nnlite.manual_seed(0)
    x = nnlite.ones(50, 4, 6, requires_grad=True)
    y = F.dropout1d(x, 0.5)
    rows = host(y).reshape(200, 6)
    assert set(numpy.unique(rows)) <= {0.0, 2.0} and all(len(set(r)) == 1 for r in rows)
    assert 60 < int((rows[:, 0] == 0).sum()) < 140
    y.sum().backward()
    numpy.testing.assert_array_equal(host(x.grad), host(y))
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D input"):
        F.dropout1d(nnlite.ones(1, 1, 1, 1))
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel size"):
        F.prelu(nnlite.ones(2, 4, 3), nnlite.ones(3))
    with pytest.raises(ValueError, match="align_corners option can only be set with the interpolating modes"):
        F.interpolate(nnlite.ones(1, 1, 3), size=4, align_corners=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nnlite.nn.InstanceNorm1d(3)(nnlite.randn(2, 3, 4))
