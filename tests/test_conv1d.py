"""Conv1d and F.conv1d: semantics, errors, the gradient-check grid, PyTorch parity, determinism, threads."""
import itertools
import math
import threading

import numpy
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nnlite
import nnlite.nn.functional as F
from nnlite import nn
from nnlite.autograd import gradcheck
from conftest import host, t64


def arr(rng, *shape, dtype=numpy.float64):
    return rng.standard_normal(shape).astype(dtype)


# -- gradient-check grid (the same body runs on "cuda" when a GPU is present) -----------------------------
def _grid():
    cases = []
    for stride, dilation, groups, k, bias in itertools.product((1, 2, 3), (1, 2, 3), (1, 2, "dw"), (1, 2, 3),
                                                               (True, False)):
        cases.append(dict(stride=stride, dilation=dilation, groups=groups, k=k, bias=bias, padding=1,
                          mode="zeros", n=2, length=9))
    for mode, padding, k, dilation in itertools.product(("zeros", "reflect", "replicate", "circular"),
                                                        (2, "same", "valid"), (2, 3), (1, 2)):
        cases.append(dict(stride=1, dilation=dilation, groups=1, k=k, bias=True, padding=padding, mode=mode,
                          n=2, length=8))
    # L just long enough for the dilated kernel, N = 1, unbatched input
    cases.append(dict(stride=1, dilation=3, groups=1, k=3, bias=True, padding=0, mode="zeros", n=1, length=7))
    cases.append(dict(stride=2, dilation=1, groups=2, k=4, bias=False, padding=0, mode="zeros", n=1, length=4))
    cases.append(dict(stride=1, dilation=2, groups=1, k=3, bias=True, padding=1, mode="reflect", n=None,
                      length=6))
    cases.append(dict(stride=2, dilation=1, groups="dw", k=3, bias=True, padding=1, mode="zeros", n=None,
                      length=7))
    return cases


GRID = _grid()


def _case_id(c):
    return "s{stride}-d{dilation}-g{groups}-k{k}-b{bias:d}-p{padding}-{mode}-n{n}-L{length}".format(**c)


@pytest.mark.parametrize("case", GRID, ids=[_case_id(c) for c in GRID])
def test_gradcheck_grid(device, case):
    rng = numpy.random.default_rng(hash(_case_id(case)) % 2 ** 32)
    c_in = 4
    groups = c_in if case["groups"] == "dw" else case["groups"]
    c_out = 4
    shape = (c_in, case["length"]) if case["n"] is None else (case["n"], c_in, case["length"])
    x = t64(arr(rng, *shape), device)
    w = t64(arr(rng, c_out, c_in // groups, case["k"]), device)
    b = t64(arr(rng, c_out), device) if case["bias"] else None
    inputs = [x, w] + ([b] if b is not None else [])

    def fn(x, w, b=None):
        if case["mode"] != "zeros":
            total = case["dilation"] * (case["k"] - 1)
            lr = ((total // 2, total - total // 2) if case["padding"] == "same" else
                  (0, 0) if case["padding"] == "valid" else (case["padding"],) * 2)
            x = F.pad(x, lr, mode=case["mode"])
            return F.conv1d(x, w, b, case["stride"], 0, case["dilation"], groups)
        return F.conv1d(x, w, b, case["stride"], case["padding"], case["dilation"], groups)

    assert gradcheck(fn, inputs)


def test_module_gradcheck_every_padding_mode(device):
    for mode in ("zeros", "reflect", "replicate", "circular"):
        nnlite.manual_seed(0)
        m = nn.Conv1d(2, 3, 4, padding="same", dilation=2, padding_mode=mode, dtype=nnlite.float64).to(device)
        x = t64(numpy.random.default_rng(1).standard_normal((2, 2, 9)), device)
        assert gradcheck(m, [x])
        assert m(x).shape == (2, 3, 9)


# -- parity with PyTorch (hypothesis draws the configurations) ---------------------------------------------
@st.composite
def conv_configs(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3, "dw"]))
    base = draw(st.integers(1, 3))
    if groups == "dw":
        c_in = draw(st.integers(1, 6))
        groups = c_in
        c_out = c_in * draw(st.sampled_from([1, 1, 2]))
    else:
        c_in = groups * base
        c_out = groups * draw(st.integers(1, 3))
    k = draw(st.integers(1, 7))
    dilation = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    padding = draw(st.sampled_from([0, 1, 2, 3, "same", "valid"]))
    if padding == "same":
        stride = 1
    mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    span = dilation * (k - 1) + 1
    pad_total = (dilation * (k - 1) if padding == "same" else 0 if padding == "valid" else 2 * padding)
    min_len = max(1, span - pad_total)
    side = -(-dilation * (k - 1) // 2) if padding == "same" else (0 if padding == "valid" else padding)
    if mode == "reflect":
        min_len = max(min_len, side + 1)   # reflect needs padding < length
    elif mode == "circular":
        min_len = max(min_len, side)       # circular wraps around at most once
    length = draw(st.integers(min_len, min_len + 20))
    n = draw(st.sampled_from([None, 1, 2, 3]))
    bias = draw(st.booleans())
    dtype = draw(st.sampled_from(["float32", "float64"]))
    return dict(c_in=c_in, c_out=c_out, k=k, dilation=dilation, stride=stride, padding=padding, mode=mode,
                length=length, n=n, bias=bias, groups=groups, dtype=dtype)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=conv_configs(), seed=st.integers(0, 2 ** 16))
def test_parity_with_torch(cfg, seed):
    torch = pytest.importorskip("torch")
    rng = numpy.random.default_rng(seed)
    shape = (cfg["c_in"], cfg["length"]) if cfg["n"] is None else (cfg["n"], cfg["c_in"], cfg["length"])
    xa = rng.standard_normal(shape).astype(cfg["dtype"])
    m = nn.Conv1d(cfg["c_in"], cfg["c_out"], cfg["k"], stride=cfg["stride"], padding=cfg["padding"],
                  dilation=cfg["dilation"], groups=cfg["groups"], bias=cfg["bias"], padding_mode=cfg["mode"],
                  dtype=cfg["dtype"])
    tm = torch.nn.Conv1d(cfg["c_in"], cfg["c_out"], cfg["k"], stride=cfg["stride"], padding=cfg["padding"],
                         dilation=cfg["dilation"], groups=cfg["groups"], bias=cfg["bias"],
                         padding_mode=cfg["mode"], dtype=getattr(torch, cfg["dtype"]))
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(m.weight.detach().numpy()))
        if cfg["bias"]:
            tm.bias.copy_(torch.from_numpy(m.bias.detach().numpy()))
    x = nnlite.tensor(xa, requires_grad=True)
    tx = torch.tensor(xa, requires_grad=True)
    y, ty = m(x), tm(tx)
    assert tuple(y.shape) == tuple(ty.shape) and y.dtype == numpy.dtype(cfg["dtype"])
    tol = dict(rtol=1e-10, atol=1e-12) if cfg["dtype"] == "float64" else dict(rtol=1e-4, atol=1e-5)
    numpy.testing.assert_allclose(host(y), ty.detach().numpy(), **tol)
    g = rng.standard_normal(tuple(y.shape)).astype(cfg["dtype"])
    y.backward(nnlite.tensor(g))
    ty.backward(torch.from_numpy(g))
    numpy.testing.assert_allclose(host(x.grad), tx.grad.numpy(), **tol)
    numpy.testing.assert_allclose(host(m.weight.grad), tm.weight.grad.numpy(), **tol)
    if cfg["bias"]:
        numpy.testing.assert_allclose(host(m.bias.grad), tm.bias.grad.numpy(), **tol)


# -- module semantics ---------------------------------------------------------------------------------------
def test_extra_repr_matches_pytorch():
    assert repr(nn.Conv1d(16, 33, 3, stride=2)) == "Conv1d(16, 33, kernel_size=(3,), stride=(2,))"
    assert repr(nn.Conv1d(16, 32, 4, padding="same", dilation=2, groups=4, bias=False,
                          padding_mode="circular")) == (
        "Conv1d(16, 32, kernel_size=(4,), stride=(1,), padding=same, dilation=(2,), groups=4, bias=False, "
        "padding_mode=circular)")
    assert repr(nn.Conv1d(2, 2, (5,), padding=(2,))) == "Conv1d(2, 2, kernel_size=(5,), stride=(1,), padding=(2,))"


def test_parameters_shapes_and_init():
    nnlite.manual_seed(0)
    m = nn.Conv1d(6, 8, 5, groups=2)
    assert m.weight.shape == (8, 3, 5) and m.bias.shape == (8,)
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    bound = 1 / math.sqrt(3 * 5)
    w = m.weight.detach().numpy()
    assert numpy.abs(w).max() <= bound and numpy.abs(w).max() > 0.8 * bound
    assert numpy.abs(m.bias.detach().numpy()).max() <= bound
    assert [k for k, _ in m.named_parameters()] == ["weight", "bias"]
    before = w.copy()
    m.reset_parameters()
    assert not numpy.array_equal(before, m.weight.detach().numpy())
    nnlite.manual_seed(0)
    again = nn.Conv1d(6, 8, 5, groups=2)
    assert numpy.array_equal(again.weight.detach().numpy(), before)  # seeded
    assert nn.Conv1d(2, 3, 1, bias=False).bias is None
    assert nn.Conv1d(2, 3, 3, dtype=nnlite.float64).weight.dtype == nnlite.float64


def test_constructor_errors():
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        nn.Conv1d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv1d(4, 4, 3, groups=3)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv1d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="Invalid padding string 'foo'"):
        nn.Conv1d(4, 4, 3, padding="foo")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv1d(4, 4, 3, padding="same", stride=2)
    with pytest.raises(ValueError, match="padding_mode must be one of .*'zeros'.*but got padding_mode='foo'"):
        nn.Conv1d(4, 4, 3, padding_mode="foo")
    with pytest.raises(ValueError, match="1-element tuple"):
        nn.Conv1d(4, 4, (3, 3))


def test_forward_input_errors_change_nothing():
    m = nn.Conv1d(2, 4, 3)
    w0 = m.weight.detach().numpy().copy()
    cases = [
        (numpy.zeros((2, 3, 10), numpy.float32), "expected input\\[2, 3, 10\\] to have 2 channels, but got 3"),
        (numpy.zeros((2, 2, 2, 2), numpy.float32), "Expected 2D \\(unbatched\\) or 3D \\(batched\\) input"),
        (numpy.zeros((2, 2, 2), numpy.float32), "padded input size per channel: \\(2\\). Kernel size: \\(3\\)"),
        (numpy.zeros((2, 2, 10)), "Input type \\(Double\\) and weight type \\(Float\\)"),
        (numpy.zeros((2, 2, 10), numpy.int64), "floating-point input"),
    ]
    for x, msg in cases:
        with pytest.raises(RuntimeError, match=msg):
            m(x)
    assert numpy.array_equal(m.weight.detach().numpy(), w0)
    x = numpy.zeros((1, 2, 8), numpy.float32)
    with pytest.raises(RuntimeError, match="weight should have exactly three dimensions"):
        F.conv1d(x, nnlite.zeros(4, 2))
    with pytest.raises(RuntimeError, match="expected bias to be 1-dimensional with 4 elements"):
        F.conv1d(x, nnlite.zeros(4, 2, 3), nnlite.zeros(3))
    with pytest.raises(RuntimeError, match="expected weight to be divisible by 3 at dimension 0"):
        F.conv1d(numpy.zeros((1, 6, 8), numpy.float32), nnlite.zeros(4, 2, 3), groups=3)
    with pytest.raises(RuntimeError, match="non-positive stride"):
        F.conv1d(x, nnlite.zeros(4, 2, 3), stride=0)
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided"):
        F.conv1d(x, nnlite.zeros(4, 2, 3), padding="same", stride=2)
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        nn.Conv1d(2, 2, 3, padding=4, padding_mode="reflect")(numpy.zeros((1, 2, 3), numpy.float32))


def test_numpy_input_unbatched_empty_and_noncontiguous():
    nnlite.manual_seed(1)
    m = nn.Conv1d(3, 5, 3, padding=1)
    x = numpy.random.default_rng(0).standard_normal((4, 3, 12)).astype(numpy.float32)
    y = m(x)
    assert isinstance(y, nnlite.Tensor) and y.shape == (4, 5, 12) and y.requires_grad
    assert numpy.allclose(host(m(x[1])), host(y)[1], atol=1e-6)          # unbatched
    assert m(x[:0]).shape == (0, 5, 12)                                 # empty batch
    xt = numpy.ascontiguousarray(x.transpose(0, 2, 1)).transpose(0, 2, 1)  # non-contiguous view
    assert not xt.flags.c_contiguous
    numpy.testing.assert_array_equal(host(m(xt)), host(y))
    empty = nnlite.tensor(x[:0], requires_grad=True)
    m(empty).sum().backward()
    assert empty.grad.shape == (0, 3, 12) and m.weight.grad.abs().sum().item() == 0


def test_same_padding_even_kernel_pads_right():
    w = nnlite.ones(1, 1, 4)
    x = nnlite.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]])
    y = F.conv1d(x, w, padding="same")
    # total padding 3: one on the left, two on the right
    assert y.tolist() == [[[6.0, 10.0, 14.0, 12.0, 9.0]]]


# -- determinism and threads --------------------------------------------------------------------------------
def _fwd_bwd(x, m):
    xt = nnlite.tensor(x, requires_grad=True)
    m.zero_grad()
    y = m(xt)
    y.backward(nnlite.ones_like(y))
    return host(y).copy(), host(xt.grad).copy(), host(m.weight.grad).copy(), host(m.bias.grad).copy()


@pytest.mark.parametrize("cfg", [dict(c=8, o=16, k=5, g=1, s=1), dict(c=16, o=16, k=7, g=16, s=1),
                                 dict(c=1, o=8, k=7, g=1, s=2), dict(c=12, o=6, k=3, g=3, s=3)])
def test_bitwise_equal_across_thread_counts(cfg):
    nnlite.manual_seed(3)
    m = nn.Conv1d(cfg["c"], cfg["o"], cfg["k"], stride=cfg["s"], groups=cfg["g"], padding=2)
    x = numpy.random.default_rng(0).standard_normal((5, cfg["c"], 300)).astype(numpy.float32)
    old = nnlite.get_num_threads()
    try:
        nnlite.set_num_threads(1)
        one = _fwd_bwd(x, m)
        nnlite.set_num_threads(2)
        two = _fwd_bwd(x, m)
        nnlite.set_num_threads(3)
        three = _fwd_bwd(x, m)
    finally:
        nnlite.set_num_threads(old)
    for a, b, c in zip(one, two, three):
        assert a.tobytes() == b.tobytes() == c.tobytes()


def test_thread_count_api_and_threadpoolctl():
    old = nnlite.get_num_threads()
    with pytest.raises(ValueError, match="positive"):
        nnlite.set_num_threads(0)
    nnlite.set_num_threads(1)
    assert nnlite.get_num_threads() == 1
    nnlite.set_num_threads(old)
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert nnlite.get_num_threads() == 1
    assert nnlite.get_num_threads() == old


def test_two_python_threads_get_correct_results():
    nnlite.manual_seed(4)
    m = nn.Conv1d(8, 8, 5, padding=2)
    rng = numpy.random.default_rng(0)
    xs = [rng.standard_normal((4, 8, 2000)).astype(numpy.float32) for _ in range(4)]
    expected = [host(m(x)) for x in xs]
    results = [None] * len(xs)

    def work(i):
        for _ in range(5):
            results[i] = host(m(xs[i]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r, e in zip(results, expected):
        assert r.tobytes() == e.tobytes()


def test_mixed_float64_module_and_float32_input_is_an_error():
    m = nn.Conv1d(1, 1, 3).double()
    assert m.weight.dtype == nnlite.float64
    with pytest.raises(RuntimeError, match="Input type \\(Float\\) and weight type \\(Double\\)"):
        m(numpy.zeros((1, 1, 5), numpy.float32))


def test_weight_replaced_by_a_plain_attribute_is_used():
    """Reparametrisations (weight norm and the like) delete the Parameter and set a computed
    tensor under the same name: forward must read that, not a stale parameter."""
    nnlite.manual_seed(0)
    m = nn.Conv1d(2, 3, 3, bias=False)
    x = numpy.ones((1, 2, 5), numpy.float32)
    w2 = m.weight.detach() * 2
    del m.weight
    m.weight = w2
    assert "weight" not in dict(m.named_parameters())
    numpy.testing.assert_allclose(m(x).numpy(), nnlite.nn.functional.conv1d(x, w2).numpy())
    m.bias = nn.Parameter(nnlite.ones(3))
    numpy.testing.assert_allclose(m(x).detach().numpy(), nnlite.nn.functional.conv1d(x, w2).numpy() + 1)
