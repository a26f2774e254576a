"""BatchNorm1d, GroupNorm, LayerNorm and the 1D pools: gradients, train/eval, running stats, PyTorch parity."""
import itertools

import numpy
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nnlite
import nnlite.nn.functional as F
from nnlite.autograd import gradcheck
from nnlite.nn._pool import pool_output_length
from nnlite.nn.modules.batchnorm import BatchNorm1d
from nnlite.nn.modules.normalization import GroupNorm, LayerNorm
from nnlite.nn.modules.pooling import AdaptiveAvgPool1d, AdaptiveMaxPool1d, AvgPool1d, MaxPool1d
from conftest import call_with, host, rng_for, t64


# -- BatchNorm1d ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 7), (2, 3, 1), (3, 3, 5)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_gradcheck(device, shape, training, affine):
    rng = rng_for(f"bn{shape}{training}{affine}")
    m = BatchNorm1d(3, affine=affine).double().to(device)
    with nnlite.no_grad():
        m.running_mean.copy_(nnlite.tensor(rng.standard_normal(3)))
        m.running_var.copy_(nnlite.tensor(rng.random(3) + 0.5))
        if affine:
            m.weight.copy_(nnlite.tensor(rng.standard_normal(3)))
            m.bias.copy_(nnlite.tensor(rng.standard_normal(3)))
    m.train(training)
    x = t64(rng.standard_normal(shape) * 2 + 1, device)
    ps = list(m.parameters())
    assert gradcheck(call_with(m, ps), [x] + ps)


def test_batchnorm_noncontiguous_and_track_false(device):
    a = rng_for("bnnc").standard_normal((5, 4, 3))
    x = t64(a, device).transpose(1, 2)  # (4... ) -> (5, 3, 4) not contiguous
    m = BatchNorm1d(3, track_running_stats=False).double().to(device)
    assert m.running_mean is None and list(m.state_dict()) == ["weight", "bias"]
    assert gradcheck(call_with(m, list(m.parameters())), [x] + list(m.parameters()))
    m.eval()  # no running stats: eval still uses the batch statistics
    y = host(m(x))
    assert numpy.allclose(y.mean(axis=(0, 2)), 0, atol=1e-12)


def test_batchnorm_parity_training_steps():
    torch = pytest.importorskip("torch")
    for momentum, dt in ((0.1, numpy.float64), (None, numpy.float64), (0.3, numpy.float32)):
        nnlite.manual_seed(0)
        m = BatchNorm1d(4, momentum=momentum, dtype=dt)
        t = torch.nn.BatchNorm1d(4, momentum=momentum, dtype=torch.float64 if dt == numpy.float64 else torch.float32)
        assert repr(m) == repr(t)
        assert list(m.state_dict()) == list(t.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                                                "num_batches_tracked"]
        rng = rng_for(f"bnsteps{momentum}{dt}")
        tol = 1e-10 if dt == numpy.float64 else 1e-4
        for step, shape in enumerate([(8, 4, 5), (6, 4), (3, 4, 9), (8, 4, 5)]):
            a = (rng.standard_normal(shape) * 3 + step).astype(dt)
            x = nnlite.tensor(a, requires_grad=True)
            xt = torch.tensor(a, requires_grad=True)
            y, yt = m(x), t(xt)
            assert y.shape == tuple(yt.shape) and y.dtype == dt
            numpy.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=tol, atol=tol)
            g = rng.standard_normal(shape).astype(dt)
            y.backward(nnlite.tensor(g))
            yt.backward(torch.tensor(g))
            numpy.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=tol, atol=tol)
            numpy.testing.assert_allclose(host(m.weight.grad), t.weight.grad.numpy(), rtol=tol, atol=tol)
            numpy.testing.assert_allclose(host(m.bias.grad), t.bias.grad.numpy(), rtol=tol, atol=tol)
        sd, tsd = m.state_dict(), t.state_dict()
        for k in tsd:
            numpy.testing.assert_allclose(host(sd[k]), tsd[k].numpy(), rtol=tol, atol=tol)
        assert sd["num_batches_tracked"].dtype == nnlite.int64 and int(sd["num_batches_tracked"]) == 4
        m.eval(), t.eval()
        a = rng.standard_normal((5, 4, 3)).astype(dt)
        numpy.testing.assert_allclose(host(m(a)), t(torch.tensor(a)).detach().numpy(), rtol=tol, atol=tol)
        assert int(m.num_batches_tracked) == 4  # eval does not count


def test_batchnorm_repr_errors_and_resets():
    torch = pytest.importorskip("torch")
    for kw in (dict(), dict(momentum=None, affine=False, track_running_stats=False), dict(eps=1e-3, bias=False)):
        assert repr(BatchNorm1d(3, **kw)) == repr(torch.nn.BatchNorm1d(3, **kw))
        assert list(BatchNorm1d(3, **kw).state_dict()) == list(torch.nn.BatchNorm1d(3, **kw).state_dict())
    m = BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        m(nnlite.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size "
                                         r"nnlite.Size\(\[1, 3\]\)"):
        m(nnlite.zeros(1, 3))
    with pytest.raises(RuntimeError, match="running_mean should contain 4 elements not 3"):
        m(nnlite.zeros(2, 4, 5))
    with pytest.raises(RuntimeError, match="running_mean must be defined in evaluation mode"):
        F.batch_norm(nnlite.zeros(2, 3), None, None, training=False)
    m = BatchNorm1d(3)
    m(nnlite.randn(4, 3, 2) * 5)
    assert int(m.num_batches_tracked) == 1 and float(m.running_var.sum()) != 3
    m.reset_running_stats()
    assert host(m.running_mean).tolist() == [0, 0, 0] and host(m.running_var).tolist() == [1, 1, 1]
    assert int(m.num_batches_tracked) == 0
    y = m(nnlite.zeros(0, 3, 5))  # the empty batch: an empty output, running stats untouched
    assert y.shape == (0, 3, 5) and host(m.running_var).tolist() == [1, 1, 1]


def test_batchnorm_old_checkpoint_without_num_batches_tracked():
    m = BatchNorm1d(3)
    sd = {k: v for k, v in m.state_dict().items() if k != "num_batches_tracked"}
    sd["running_mean"] = nnlite.ones(3)
    m.load_state_dict(sd)  # version-less checkpoint: num_batches_tracked defaults, as PyTorch
    assert host(m.running_mean).tolist() == [1, 1, 1]


def test_batchnorm_kernels_deterministic_across_threads():
    from nnlite._kernels import _norm1d
    x = rng_for("bnthreads").standard_normal((16, 5, 301)).astype(numpy.float32)
    outs = []
    for nt in (1, 2, 3):
        mean, var = numpy.empty(5, numpy.float32), numpy.empty(5, numpy.float32)
        _norm1d.stats(x, mean, var, nt)
        s1, s2 = numpy.empty(5, numpy.float32), numpy.empty(5, numpy.float32)
        _norm1d.backward_reduce(x, x, mean, s1, s2, nt)
        outs.append(numpy.concatenate([mean, var, s1, s2]))
    assert all(numpy.array_equal(outs[0], o) for o in outs)
    numpy.testing.assert_allclose(outs[0][:5], x.mean(axis=(0, 2)), rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(outs[0][5:10], x.var(axis=(0, 2)), rtol=1e-5)


# -- GroupNorm / LayerNorm ----------------------------------------------------------------------------------
@pytest.mark.parametrize("groups", [1, 2, 4])
@pytest.mark.parametrize("shape", [(2, 4, 5), (3, 4), (2, 4, 1)])
def test_groupnorm_gradcheck(device, groups, shape):
    rng = rng_for(f"gn{groups}{shape}")
    m = GroupNorm(groups, 4).double().to(device)
    with nnlite.no_grad():
        m.weight.copy_(nnlite.tensor(rng.standard_normal(4)))
        m.bias.copy_(nnlite.tensor(rng.standard_normal(4)))
    x = t64(rng.standard_normal(shape) * 2 + 1, device)
    if shape[-1] * 4 // groups * (1 if len(shape) == 3 else 1) == 1:
        pytest.skip("a group of one element has zero variance")
    ps = list(m.parameters())
    assert gradcheck(call_with(m, ps), [x] + ps)


@pytest.mark.parametrize("ns", [(5,), (3, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_gradcheck(device, ns, bias):
    rng = rng_for(f"ln{ns}{bias}")
    m = LayerNorm(ns, bias=bias).double().to(device)
    with nnlite.no_grad():
        for p in m.parameters():
            p.copy_(nnlite.tensor(rng.standard_normal(p.shape)))
    x = t64(rng.standard_normal((2, 3, 5)), device)
    ps = list(m.parameters())
    assert gradcheck(call_with(m, ps), [x] + ps)


def test_group_layer_norm_parity():
    torch = pytest.importorskip("torch")
    rng = rng_for("glparity")
    for m, t in [(GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)), (GroupNorm(4, 4, affine=False),
                                                                torch.nn.GroupNorm(4, 4, affine=False)),
                 (LayerNorm(7), torch.nn.LayerNorm(7)), (LayerNorm([4, 7], elementwise_affine=False),
                                                         torch.nn.LayerNorm([4, 7], elementwise_affine=False)),
                 (LayerNorm(7, bias=False), torch.nn.LayerNorm(7, bias=False))]:
        assert repr(m) == repr(t) and list(m.state_dict()) == list(t.state_dict())
        with torch.no_grad(), nnlite.no_grad():
            for p, pt in zip(m.parameters(), t.parameters()):
                v = rng.standard_normal(p.shape).astype(numpy.float32)
                p.copy_(nnlite.tensor(v))
                pt.copy_(torch.tensor(v))
        a = (rng.standard_normal((3, 4, 7)) * 4 + 2).astype(numpy.float32)
        x, xt = nnlite.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        y, yt = m(x), t(xt)
        assert y.shape == tuple(yt.shape) and y.dtype == nnlite.float32
        numpy.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
        g = rng.standard_normal(a.shape).astype(numpy.float32)
        y.backward(nnlite.tensor(g))
        yt.backward(torch.tensor(g))
        numpy.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-3, atol=1e-4)
        for p, pt in zip(m.parameters(), t.parameters()):
            numpy.testing.assert_allclose(host(p.grad), pt.grad.numpy(), rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match=r"num_channels \(4\) must be divisible by num_groups \(3\)"):
        GroupNorm(3, 4)
    with pytest.raises(RuntimeError, match="Expected number of channels in input to be divisible by num_groups, but "
                                           r"got input of shape \[2, 3, 10\] and num_groups=2"):
        F.group_norm(nnlite.zeros(2, 3, 10), 2)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], but "
                                           r"got input of size\[2, 3, 10\]"):
        F.layer_norm(nnlite.zeros(2, 3, 10), [4])


# -- pooling: gradcheck grid --------------------------------------------------------------------------------
def _pool_grid():
    cases = []
    for length, k, s, p, d, ceil in itertools.product((5, 8), (1, 2, 3), (1, 2, 3), (0, 1), (1, 2), (False, True)):
        if p > k // 2 or pool_output_length(length, k, s, p, d, ceil) <= 0:
            continue
        cases.append((length, k, s, p, d, ceil))
    return cases


POOL_GRID = _pool_grid()


def _distinct(rng, shape):
    """Values with distinct neighbours, so max pooling has no ties for finite differences to straddle."""
    return rng.permutation(numpy.prod(shape)).reshape(shape) * 0.1 + rng.standard_normal(shape) * 0.01


@pytest.mark.parametrize("length,k,s,p,d,ceil", POOL_GRID, ids=[f"L{c[0]}k{c[1]}s{c[2]}p{c[3]}d{c[4]}c{c[5]:d}"
                                                                for c in POOL_GRID])
def test_pool_gradcheck(device, length, k, s, p, d, ceil):
    rng = rng_for(f"pool{length}{k}{s}{p}{d}{ceil}")
    x = t64(_distinct(rng, (2, 2, length)), device)
    out = pool_output_length(length, k, s, p, d, ceil)
    y = F.max_pool1d(x, k, s, p, d, ceil)
    assert y.shape == (2, 2, out)
    # windows with no tap inside the input would produce -inf (PyTorch does too): not differentiable
    if numpy.isfinite(host(y)).all():
        assert gradcheck(lambda a: F.max_pool1d(a, k, s, p, d, ceil), [x])
    if d == 1:
        for cip in (True, False):
            assert gradcheck(lambda a: F.avg_pool1d(a, k, s, p, ceil, cip), [x])


@pytest.mark.parametrize("length,out", [(7, 3), (8, 4), (5, 5), (3, 5), (9, 1)])
def test_adaptive_pool_gradcheck(device, length, out):
    x = t64(_distinct(rng_for(f"ad{length}{out}"), (2, 3, length)), device)
    assert gradcheck(lambda a: F.adaptive_avg_pool1d(a, out), [x])
    assert gradcheck(lambda a: F.adaptive_max_pool1d(a, out), [x])
    assert F.adaptive_max_pool1d(x[0], out, return_indices=True)[1].shape == (3, out)  # unbatched


def test_pool_modules_unbatched_noncontiguous_empty(device):
    a = _distinct(rng_for("pm"), (3, 9, 2))
    x = t64(a, device).transpose(1, 2)  # (3, 2, 9) not contiguous
    xc = t64(numpy.ascontiguousarray(a.transpose(0, 2, 1)), device)
    for m in (MaxPool1d(3, 2, 1), AvgPool1d(3, 2, 1, True, False), AdaptiveAvgPool1d(4), AdaptiveMaxPool1d(4)):
        assert numpy.array_equal(host(m(x)), host(m(xc)))
        assert numpy.array_equal(host(m(xc[0])), host(m(xc))[0])
        assert m(t64(numpy.zeros((0, 2, 9)), device)).shape[0] == 0
    y, idx = MaxPool1d(2, return_indices=True)(x)
    assert idx.dtype == nnlite.int64
    assert numpy.array_equal(numpy.take_along_axis(host(x), host(idx), 2), host(y))


def test_max_pool_ties_and_nan():
    y, idx = F.max_pool1d(nnlite.tensor([[[2.0, 2.0, 1.0, 5.0, 5.0, 5.0]]]), 3, return_indices=True)
    assert idx.tolist() == [[[0, 3]]]  # ties: the first index
    x = nnlite.tensor([[[1.0, 2.0, 2.0, 1.0]]], requires_grad=True)
    F.max_pool1d(x, 2, 1).sum().backward()
    assert x.grad.tolist() == [[[0.0, 2.0, 1.0, 0.0]]]
    nan = float("nan")
    y, idx = F.max_pool1d(nnlite.tensor([[[1.0, nan, 3.0, nan]]]), 4, return_indices=True)
    assert numpy.isnan(y.item()) and idx.item() == 3  # NaN wins, the last one, as PyTorch's kernel scans
    y, idx = F.adaptive_max_pool1d(nnlite.tensor([[[2.0, 2.0, 1.0, nan, 5.0]]]), 2, return_indices=True)
    assert idx.tolist() == [[[0, 3]]]


def _max_pool_reference(row, lout, kernel, stride, padding, dilation):
    """Window by window in plain Python: a tap replaces the maximum when greater or NaN."""
    ys, idx = [], []
    for j in range(lout):
        taps = [j * stride - padding + t * dilation for t in range(kernel)]
        inside = [p for p in taps if 0 <= p < len(row)]
        # no tap inside: -inf at the first tap not left of 0 (PyTorch's kernel)
        m, best = -numpy.inf, (inside or [p for p in taps if p >= 0])[0]
        for p in inside:
            if row[p] > m or row[p] != row[p]:
                m, best = row[p], p
        ys.append(m)
        idx.append(best)
    return ys, idx


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(length=st.integers(1, 40), kernel=st.integers(1, 5), stride=st.integers(1, 3),
       dilation=st.integers(1, 3), pad=st.integers(0, 2), seed=st.integers(0, 2**31 - 1),
       dtype=st.sampled_from([numpy.float32, numpy.float64]))
def test_max_forward_kernel_against_reference(length, kernel, stride, dilation, pad, seed, dtype):
    """The branch-free inner windows and the edge windows: values and indices equal the
    reference (ties, NaN, -inf), and the values-only call (indices None) the same values."""
    from nnlite._kernels import _pool1d
    padding = min(pad, kernel // 2)
    lout = pool_output_length(length, kernel, stride, padding, dilation, False)
    if lout <= 0:
        return
    rng = numpy.random.default_rng(seed)
    x = rng.integers(-3, 3, (3, length)).astype(dtype)       # small integers: many ties
    x[rng.random(x.shape) < 0.1] = numpy.nan
    x[rng.random(x.shape) < 0.1] = -numpy.inf
    y, i = numpy.empty((3, lout), dtype), numpy.empty((3, lout), numpy.int64)
    _pool1d.max_forward(x, y, i, kernel, stride, padding, dilation, 2)
    v = numpy.empty((3, lout), dtype)
    _pool1d.max_forward(x, v, None, kernel, stride, padding, dilation, 2)
    for r in range(3):
        ys, idx = _max_pool_reference(list(x[r]), lout, kernel, stride, padding, dilation)
        numpy.testing.assert_array_equal(y[r], numpy.array(ys, dtype))
        assert i[r].tolist() == idx
    numpy.testing.assert_array_equal(v, y)


def test_max_pool_values_only_without_grad():
    """Without return_indices and without a gradient, the same values (the kernel skips the
    indices); with return_indices under no_grad the indices are still there."""
    x = nnlite.tensor(rng_for("mpv").standard_normal((2, 3, 50)).astype(numpy.float32))
    with nnlite.no_grad():
        a = F.max_pool1d(x, 3, 1, 1)
        b, idx = F.max_pool1d(x, 3, 1, 1, return_indices=True)
        c = F.max_pool1d(x[0], 3, 1, 1)
    assert numpy.array_equal(host(a), host(b)) and numpy.array_equal(host(c), host(b)[0])
    assert numpy.array_equal(numpy.take_along_axis(host(x), host(idx), 2), host(b))


def test_pool_kernels_deterministic_across_threads():
    from nnlite._kernels import _pool1d
    x = rng_for("pth").standard_normal((40, 101)).astype(numpy.float32)
    g = rng_for("pthg").standard_normal((40, 51)).astype(numpy.float32)
    res = []
    for nt in (1, 2, 3):
        y, i = numpy.empty((40, 51), numpy.float32), numpy.empty((40, 51), numpy.int64)
        _pool1d.max_forward(x, y, i, 3, 2, 1, 1, nt)
        gx, ga = numpy.empty_like(x), numpy.empty_like(x)
        _pool1d.max_backward(g, i, gx, nt)
        _pool1d.avg_backward(g, ga, 3, 2, 1, True, nt)
        res.append(numpy.concatenate([y.ravel(), gx.ravel(), ga.ravel()]))
    assert all(numpy.array_equal(res[0], r) for r in res)


# -- pooling: PyTorch parity ------------------------------------------------------------------------------
def test_pool_repr_and_errors():
    torch = pytest.importorskip("torch")
    for ours, theirs in [(MaxPool1d(3), torch.nn.MaxPool1d(3)),
                         (MaxPool1d(3, 2, 1, 2, True, True), torch.nn.MaxPool1d(3, 2, 1, 2, True, True)),
                         (AvgPool1d(3), torch.nn.AvgPool1d(3)), (AvgPool1d(3, 2, 1, True, False),
                                                                 torch.nn.AvgPool1d(3, 2, 1, True, False)),
                         (AdaptiveAvgPool1d(5), torch.nn.AdaptiveAvgPool1d(5)),
                         (AdaptiveMaxPool1d(5, True), torch.nn.AdaptiveMaxPool1d(5, True))]:
        assert repr(ours) == repr(theirs)
    x, xt = nnlite.zeros(2, 3, 10), torch.zeros(2, 3, 10)
    cases = [
        lambda f: f.max_pool1d(x if f is F else xt, 3, 1, 2),
        lambda f: f.max_pool1d(x if f is F else xt, 0),
        lambda f: f.max_pool1d(x if f is F else xt, 3, 0),
        lambda f: f.max_pool1d(x if f is F else xt, 3, 1, -1),
        lambda f: f.max_pool1d(x if f is F else xt, 3, 1, 1, 0),
        lambda f: f.max_pool1d(x if f is F else xt, 20),
        lambda f: f.max_pool1d(x if f is F else xt, (3, 2)),
        lambda f: f.max_pool1d((x if f is F else xt)[0, 0], 2),
        lambda f: f.avg_pool1d(x if f is F else xt, 3, 1, 2),
        lambda f: f.avg_pool1d(x if f is F else xt, 20),
        lambda f: f.avg_pool1d(x if f is F else xt, 3, 0),
        lambda f: f.avg_pool1d(x if f is F else xt, 3, 1, -1),
        lambda f: f.avg_pool1d(x if f is F else xt, (3, 2)),
        lambda f: f.avg_pool1d((x if f is F else xt)[0, 0], 2),
        lambda f: f.adaptive_avg_pool1d((x if f is F else xt)[0, 0], 2),
        lambda f: f.adaptive_max_pool1d(x if f is F else xt, (2, 3)),
        lambda f: f.adaptive_max_pool1d((x if f is F else xt)[:, :, :0], 2),
    ]
    for case in cases:
        with pytest.raises(RuntimeError) as theirs:
            case(torch.nn.functional)
        with pytest.raises(RuntimeError) as ours:
            case(F)
        assert str(ours.value) == str(theirs.value).replace("torch", "nnlite")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_pool_parity_hypothesis(data):
    torch = pytest.importorskip("torch")
    kind = data.draw(st.sampled_from(["max", "avg", "adaptive_avg", "adaptive_max"]), "kind")
    length = data.draw(st.integers(1, 17), "length")
    k = data.draw(st.integers(1, 5), "kernel")
    s = data.draw(st.integers(1, 4), "stride")
    p = data.draw(st.integers(0, k // 2), "padding")
    d = data.draw(st.integers(1, 3), "dilation") if kind == "max" else 1
    ceil = data.draw(st.booleans(), "ceil_mode")
    cip = data.draw(st.booleans(), "count_include_pad")
    out = data.draw(st.integers(1, 8), "output_size")
    dt = data.draw(st.sampled_from([numpy.float32, numpy.float64]), "dtype")
    seed = data.draw(st.integers(0, 2 ** 31))
    rng = numpy.random.default_rng(seed)
    a = rng.standard_normal((2, 3, length)).astype(dt)
    if data.draw(st.booleans(), "ties"):
        a = numpy.round(a).astype(dt)  # many ties: the first index must win, as in PyTorch
    if kind in ("max", "avg"):
        n_out = pool_output_length(length, k, s, p, d, ceil)
        if n_out <= 0:
            return
        # a window with no tap inside the input: PyTorch sends its gradient to the next row (out of bounds)
        starts = numpy.arange(n_out) * s - p
        taps = starts[:, None] + numpy.arange(k)[None] * d
        if not ((taps >= 0) & (taps < length)).any(axis=1).all():
            return
    x, xt = nnlite.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    tf = torch.nn.functional
    if kind == "max":
        (y, i), (yt, it) = F.max_pool1d(x, k, s, p, d, ceil, True), tf.max_pool1d(xt, k, s, p, d, ceil, True)
    elif kind == "avg":
        (y, i), (yt, it) = (F.avg_pool1d(x, k, s, p, ceil, cip), None), (tf.avg_pool1d(xt, k, s, p, ceil, cip), None)
    elif kind == "adaptive_avg":
        (y, i), (yt, it) = (F.adaptive_avg_pool1d(x, out), None), (tf.adaptive_avg_pool1d(xt, out), None)
    else:
        (y, i), (yt, it) = F.adaptive_max_pool1d(x, out, True), tf.adaptive_max_pool1d(xt, out, True)
    assert y.shape == tuple(yt.shape) and y.dtype == dt
    tol = 1e-6 if dt == numpy.float32 else 1e-12
    numpy.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=tol, atol=tol)
    if i is not None:
        assert i.dtype == nnlite.int64 and numpy.array_equal(host(i), it.numpy())
    g = rng.standard_normal(y.shape).astype(dt)
    y.backward(nnlite.tensor(g))
    yt.backward(torch.tensor(g))
    numpy.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=10 * tol, atol=10 * tol)
