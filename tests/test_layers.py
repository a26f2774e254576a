"""Linear, Identity, Flatten/Unflatten, activations, Dropout, ConvTranspose1d: gradients, PyTorch parity, errors."""
import itertools

import numpy
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nnlite
import nnlite.nn.functional as F
from nnlite.autograd import gradcheck
from nnlite.nn.modules.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from nnlite.nn.modules.conv_transpose import ConvTranspose1d
from nnlite.nn.modules.dropout import Dropout
from nnlite.nn.modules.flatten import Flatten, Unflatten
from nnlite.nn.modules.linear import Identity, Linear
from conftest import call_with, host, rng_for, t64


def params64(m, device):
    """The module in float64 on ``device``, and its parameters as gradcheck inputs."""
    m = m.double().to(device)
    return m, list(m.parameters())


# -- Linear / Identity / Flatten ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5,), (3, 5), (2, 3, 5), (0, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(device, shape, bias):
    rng = rng_for(f"lin{shape}{bias}")
    m, ps = params64(Linear(5, 4, bias=bias), device)
    x = t64(rng.standard_normal(shape), device)
    assert gradcheck(call_with(m, ps), [x] + ps)
    assert m(x).shape == shape[:-1] + (4,)


def test_linear_parity_and_init():
    torch = pytest.importorskip("torch")
    nnlite.manual_seed(0)
    m = Linear(20, 30)
    bound = 1 / 20 ** 0.5
    assert float(m.weight.abs().max()) <= bound and float(m.bias.abs().max()) <= bound
    assert float(m.weight.abs().max()) > 0.8 * bound  # uniform over the whole range, as PyTorch's init
    t = torch.nn.Linear(20, 30)
    assert repr(m) == repr(t) == "Linear(in_features=20, out_features=30, bias=True)"
    assert repr(Linear(3, 4, bias=False)) == repr(torch.nn.Linear(3, 4, bias=False))
    assert list(m.state_dict()) == list(t.state_dict())
    with torch.no_grad():
        t.weight.copy_(torch.tensor(host(m.weight)))
        t.bias.copy_(torch.tensor(host(m.bias)))
    x = numpy.random.default_rng(0).standard_normal((7, 2, 20)).astype(numpy.float32)
    y, yt = m(x), t(torch.tensor(x))
    assert y.shape == tuple(yt.shape) and y.dtype == nnlite.float32
    numpy.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(14x5 and 20x30\)"):
        m(numpy.zeros((7, 2, 5), numpy.float32))


def test_identity_and_flatten(device):
    x = t64(numpy.arange(24.0).reshape(2, 3, 4), device)
    assert Identity(3, foo=1)(x) is x and repr(Identity(7)) == "Identity()"
    f = Flatten()
    assert repr(f) == "Flatten(start_dim=1, end_dim=-1)"
    assert f(x).shape == (2, 12) and Flatten(0, 1)(x).shape == (6, 4)
    assert gradcheck(lambda a: Flatten(0)(a) * 2, [x])
    u = Unflatten(1, (3, 4))
    assert repr(u) == "Unflatten(dim=1, unflattened_size=(3, 4))"
    y = u(f(x))
    assert y.shape == (2, 3, 4) and numpy.array_equal(host(y), host(x))
    with pytest.raises(RuntimeError, match="flatten\\(\\) has invalid args"):
        Flatten(2, 1)(x)
    with pytest.raises(RuntimeError, match=r"unflatten: Provided sizes \[2, 4\] don't multiply up to the size of "
                                           r"dim 1 \(12\) in the input tensor"):
        Unflatten(1, (2, 4))(f(x))
    with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints, but found type int"):
        Unflatten(1, 5)
    with pytest.raises(TypeError, match="found element of type float at pos 0"):
        Unflatten(1, [2.0, 5])


# -- activations ----------------------------------------------------------------------------------------
ACTIVATIONS = [
    (lambda: ReLU(), "ReLU()"), (lambda: ReLU(inplace=True), "ReLU(inplace=True)"),
    (lambda: LeakyReLU(), "LeakyReLU(negative_slope=0.01)"),
    (lambda: LeakyReLU(0.2, True), "LeakyReLU(negative_slope=0.2, inplace=True)"),
    (lambda: GELU(), "GELU(approximate='none')"), (lambda: GELU("tanh"), "GELU(approximate='tanh')"),
    (lambda: ELU(), "ELU(alpha=1.0)"), (lambda: ELU(0.5, True), "ELU(alpha=0.5, inplace=True)"),
    (lambda: Tanh(), "Tanh()"), (lambda: Sigmoid(), "Sigmoid()"),
    (lambda: Softmax(dim=1), "Softmax(dim=1)"), (lambda: LogSoftmax(dim=-1), "LogSoftmax(dim=-1)"),
]


@pytest.mark.parametrize("make,text", ACTIVATIONS, ids=[t for _, t in ACTIVATIONS])
def test_activation_gradcheck(device, make, text):
    rng = rng_for(text)
    a = rng.standard_normal((2, 3, 5)) * 2
    a[numpy.abs(a) < 1e-3] = 0.5  # keep away from the kinks of ReLU / LeakyReLU / ELU
    x = t64(a, device)
    m = make()
    assert repr(m) == text
    assert gradcheck(m, [x])
    assert host(x).tolist() == a.tolist()  # inplace=True is computed out of place


@pytest.mark.parametrize("make,text", ACTIVATIONS, ids=[t for _, t in ACTIVATIONS])
def test_activation_parity(make, text):
    torch = pytest.importorskip("torch")
    tm = eval("torch.nn." + text.replace("inplace=True", "inplace=False").replace("(, ", "("))
    assert repr(make()) == repr(eval("torch.nn." + text))
    for dt, tol in ((numpy.float32, 1e-6), (numpy.float64, 1e-12)):
        a = rng_for(text).standard_normal((4, 3, 7)).astype(dt) * 3
        x = nnlite.tensor(a, requires_grad=True)
        xt = torch.tensor(a, requires_grad=True)
        y, yt = make()(x), tm(xt)
        assert y.shape == tuple(yt.shape) and y.dtype == a.dtype
        numpy.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=tol, atol=tol)
        g = rng_for("g").standard_normal(y.shape).astype(dt)
        y.backward(nnlite.tensor(g))
        yt.backward(torch.tensor(g))
        numpy.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=10 * tol, atol=10 * tol)


def test_softmax_implicit_dim_warns():
    x = nnlite.zeros(2, 3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax has been deprecated"):
        y = Softmax()(x)
    assert numpy.allclose(host(y).sum(axis=0), 1)  # 3-D input: the legacy choice is dim 0
    with pytest.warns(UserWarning, match="log_softmax"):
        y = LogSoftmax()(nnlite.zeros(2, 3))
    assert numpy.allclose(numpy.exp(host(y)).sum(axis=1), 1)
    assert repr(Softmax()) == "Softmax(dim=None)"


def test_gelu_bad_approximate():
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh."):
        GELU("foo")(nnlite.zeros(2))


# -- Dropout ------------------------------------------------------------------------------------------------
def test_dropout_train_eval_and_seed(device):
    x = nnlite.ones(200, 50, dtype=nnlite.float64, device=device)
    m = Dropout(0.3)
    assert repr(m) == "Dropout(p=0.3, inplace=False)" and repr(Dropout(0.2, True)) == "Dropout(p=0.2, inplace=True)"
    nnlite.manual_seed(1)
    y1 = host(m(x))
    nnlite.manual_seed(1)
    y2 = host(m(x))
    assert numpy.array_equal(y1, y2)  # the mask comes from nnlite's seeded generator
    assert set(numpy.unique(y1).tolist()) == {0.0, 1 / 0.7}
    assert abs((y1 == 0).mean() - 0.3) < 0.02
    m.eval()
    assert m(x) is x
    m.train()
    # the gradient goes through the kept elements with the same scale
    xg = t64(numpy.ones((30, 20)), device)
    nnlite.manual_seed(2)
    y = m(xg)
    y.sum().backward()
    assert numpy.array_equal(host(xg.grad), host(y))
    # gradcheck with the mask fixed by reseeding before every call
    xr = t64(rng_for("drop").standard_normal((4, 6)), device)

    def fn(a):
        nnlite.manual_seed(3)
        return F.dropout(a, 0.4)
    assert gradcheck(fn, [xr])


def test_dropout_edges(device):
    x = t64(numpy.ones((3, 4)), device)
    assert numpy.array_equal(host(F.dropout(x, 1.0)), numpy.zeros((3, 4)))
    assert F.dropout(x, 0.0) is x
    for p in (1.5, -0.1):
        with pytest.raises(ValueError, match=f"dropout probability has to be between 0 and 1, but got {p}"):
            Dropout(p)
        with pytest.raises(ValueError, match="dropout probability"):
            F.dropout(x, p)


# -- ConvTranspose1d ------------------------------------------------------------------------------------
def _ct_grid():
    cases = []
    for s, p, op, d, g in itertools.product((1, 2, 3), (0, 1, 2), (0, 1, 2), (1, 2), (1, 2)):
        if op < s or op < d:
            cases.append((s, p, op, d, g))
    return cases


CT_GRID = _ct_grid()


@pytest.mark.parametrize("s,p,op,d,g", CT_GRID, ids=[f"s{c[0]}p{c[1]}op{c[2]}d{c[3]}g{c[4]}" for c in CT_GRID])
def test_conv_transpose_gradcheck(device, s, p, op, d, g):
    rng = rng_for(f"ct{s}{p}{op}{d}{g}")
    k, length = (3 if d == 1 else 2), 4
    x = t64(rng.standard_normal((2, 2 * g, length)), device)
    w = t64(rng.standard_normal((2 * g, 2, k)), device)
    b = t64(rng.standard_normal(2 * g), device)
    fn = lambda x, w, b: F.conv_transpose1d(x, w, b, s, p, op, g, d)  # noqa: E731
    expect = (length - 1) * s - 2 * p + d * (k - 1) + op + 1
    assert fn(x, w, b).shape == (2, 2 * g, expect)
    assert gradcheck(fn, [x, w, b])


def test_conv_transpose_module(device):
    nnlite.manual_seed(0)
    m = ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dtype=nnlite.float64).to(device)
    assert m.weight.shape == (4, 3, 3) and m.bias.shape == (6,)
    bound = 1 / (3 * 3) ** 0.5
    assert float(m.weight.abs().max()) <= bound and float(m.bias.abs().max()) <= bound
    x = t64(rng_for("ctm").standard_normal((2, 4, 5)), device)
    assert m(x).shape == (2, 6, 10)
    assert m(x[0]).shape == (6, 10)  # unbatched
    assert m(x, output_size=[2, 6, 9]).shape == (2, 6, 9)
    assert gradcheck(call_with(m, list(m.parameters())), [x] + list(m.parameters()))
    with pytest.raises(ValueError, match=r"requested an output size of \[12\], but valid sizes range from \[9\] to "
                                         r"\[10\]"):
        m(x, output_size=[12])
    with pytest.raises(ValueError, match="output_size must have 1 or 3 elements \\(got 2\\)"):
        m(x, output_size=[1, 2])


def test_conv_transpose_errors_and_repr():
    torch = pytest.importorskip("torch")
    for args, kw in [((16, 33, 3), dict(stride=2)), ((4, 6, 3, 2, 1, 1, 2, False, 2), {}),
                     ((4, 6, 3), dict(output_padding=1, stride=2)), ((2, 2, 1), dict(dilation=3))]:
        assert repr(ConvTranspose1d(*args, **kw)) == repr(torch.nn.ConvTranspose1d(*args, **kw))
    assert list(ConvTranspose1d(2, 4, 3).state_dict()) == list(torch.nn.ConvTranspose1d(2, 4, 3).state_dict())
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose1d'):
        ConvTranspose1d(2, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        ConvTranspose1d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        ConvTranspose1d(4, 6, 3, groups=0)
    x = nnlite.zeros(2, 3, 10)
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation, but got "
                                           "output_padding_height: 0 output_padding_width: 1 stride_height: 1 "
                                           "stride_width: 1 dilation_height: 1 dilation_width: 1"):
        F.conv_transpose1d(x, nnlite.zeros(3, 2, 3), output_padding=1)
    assert F.conv_transpose1d(x, nnlite.zeros(3, 2, 3), output_padding=1, dilation=2).shape == (2, 2, 15)
    with pytest.raises(RuntimeError, match=r"Given transposed=1, weight of size \[2, 2, 3\], expected input\[2, 3, 10\] "
                                           r"to have 2 channels, but got 3 channels instead"):
        F.conv_transpose1d(x, nnlite.zeros(2, 2, 3))
    with pytest.raises(RuntimeError, match=r"expected bias to be 1-dimensional with 2 elements, but got bias of size "
                                           r"\[3\] instead"):
        F.conv_transpose1d(x, nnlite.zeros(3, 2, 3), nnlite.zeros(3))
    with pytest.raises(RuntimeError, match="negative padding is not supported"):
        F.conv_transpose1d(x, nnlite.zeros(3, 2, 3), padding=-1)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.conv_transpose1d(nnlite.zeros(2, 3, 4), nnlite.zeros(3, 2, 3), padding=3)
    with pytest.raises(RuntimeError, match="Expected 2D \\(unbatched\\) or 3D \\(batched\\) input to conv_transpose1d"):
        F.conv_transpose1d(nnlite.zeros(2, 3, 4, 5), nnlite.zeros(3, 2, 3))


def test_conv_transpose_empty_batch_and_noncontiguous(device):
    w = t64(rng_for("cte").standard_normal((3, 2, 3)), device)
    assert F.conv_transpose1d(t64(numpy.zeros((0, 3, 4)), device), w).shape == (0, 2, 6)
    a = rng_for("ctnc").standard_normal((2, 5, 3))
    x = t64(a, device).transpose(1, 2)  # (2, 3, 5), not contiguous
    y = F.conv_transpose1d(x, w, stride=2)
    y2 = F.conv_transpose1d(t64(numpy.ascontiguousarray(a.transpose(0, 2, 1)), device), w, stride=2)
    assert numpy.array_equal(host(y), host(y2))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_conv_transpose_parity_hypothesis(data):
    torch = pytest.importorskip("torch")
    s = data.draw(st.integers(1, 3), "stride")
    d = data.draw(st.integers(1, 3), "dilation")
    op = data.draw(st.integers(0, max(s, d) - 1), "output_padding")
    g = data.draw(st.integers(1, 3), "groups")
    k = data.draw(st.integers(1, 4), "kernel")
    length = data.draw(st.integers(1, 9), "length")
    full = (length - 1) * s + d * (k - 1) + 1 + op
    p = data.draw(st.integers(0, max(0, (full - 1) // 2)), "padding")
    cin, cout = g * data.draw(st.integers(1, 2)), g * data.draw(st.integers(1, 2))
    bias = data.draw(st.booleans(), "bias")
    n = data.draw(st.integers(1, 3), "batch")
    rng = numpy.random.default_rng(data.draw(st.integers(0, 2 ** 31)))
    x, w, b = rng.standard_normal((n, cin, length)), rng.standard_normal((cin, cout // g, k)), rng.standard_normal(cout)
    xs = [nnlite.tensor(a, requires_grad=True) for a in (x, w, b)]
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.conv_transpose1d(xs[0], xs[1], xs[2] if bias else None, s, p, op, g, d)
    yt = torch.nn.functional.conv_transpose1d(ts[0], ts[1], ts[2] if bias else None, s, p, op, g, d)
    assert y.shape == tuple(yt.shape) and y.dtype == nnlite.float64
    numpy.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    gy = rng.standard_normal(y.shape)
    y.backward(nnlite.tensor(gy))
    yt.backward(torch.tensor(gy))
    for a, at in zip(xs if bias else xs[:2], ts if bias else ts[:2]):
        numpy.testing.assert_allclose(host(a.grad), at.grad.numpy(), rtol=1e-10, atol=1e-10)
