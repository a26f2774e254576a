"""Loss functions and loss modules: gradients (float64 gradcheck), values against PyTorch, errors, reprs."""
import warnings

import numpy
import pytest
from hypothesis import given, settings, strategies as st

import nnlite
from nnlite.autograd import gradcheck
from nnlite.nn import _loss_functional as LF

from conftest import host

RNG = numpy.random.default_rng(0)
REDUCTIONS = ["none", "mean", "sum"]


def t64(a, device, requires_grad=False):
    return nnlite.tensor(numpy.asarray(a, dtype=numpy.float64), device=device, requires_grad=requires_grad)


def idx(a, device):
    return nnlite.tensor(numpy.asarray(a, dtype=numpy.int64), device=device)


def _torch():
    return pytest.importorskip("torch")


def check_against_torch(ours, theirs, rtol=1e-6, atol=1e-7):
    """Shape and dtype first, then values (tinygrad's helper_test_op order)."""
    ours = host(ours)
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    numpy.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True)


# -- gradcheck (float64, every option, each device) ---------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn", ["mse", "l1", "smooth_l1", "huber"])
def test_regression_losses_gradcheck(device, fn, reduction):
    x = t64(RNG.standard_normal((3, 4)), device, True)
    y = t64(RNG.standard_normal((3, 4)) * 2, device, True)
    f = {"mse": lambda a, b: LF.mse_loss(a, b, reduction=reduction),
         "l1": lambda a, b: LF.l1_loss(a, b, reduction=reduction),
         "smooth_l1": lambda a, b: LF.smooth_l1_loss(a, b, reduction=reduction, beta=0.7),
         "huber": lambda a, b: LF.huber_loss(a, b, reduction=reduction, delta=0.7)}[fn]
    assert gradcheck(f, (x, y))


@pytest.mark.parametrize("fn", ["mse", "l1", "huber"])
def test_weighted_regression_losses_gradcheck(device, fn):
    x = t64(RNG.standard_normal((2, 3)), device, True)
    y = t64(RNG.standard_normal((2, 3)), device)
    w = t64(RNG.uniform(0.5, 2.0, (2, 3)), device, True)
    f = {"mse": LF.mse_loss, "l1": LF.l1_loss, "huber": LF.huber_loss}[fn]
    for reduction in REDUCTIONS:
        assert gradcheck(lambda a, ww: f(a, y, reduction=reduction, weight=ww), (x, w))


def test_broadcast_target_gradient_is_summed(device):
    x = t64(RNG.standard_normal((3, 4)), device, True)
    y = t64(RNG.standard_normal(4), device, True)
    with pytest.warns(UserWarning, match="different to the input size"):
        assert gradcheck(lambda a, b: LF.smooth_l1_loss(a, b), (x, y))


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_index_gradcheck(device, reduction, weighted, smoothing):
    x = t64(RNG.standard_normal((4, 3, 2)), device, True)
    target = idx([[0, 2], [1, 1], [2, -100], [0, 1]], device)
    w = t64([0.5, 2.0, 1.5], device) if weighted else None
    assert gradcheck(lambda a: LF.cross_entropy(a, target, weight=w, reduction=reduction,
                                                label_smoothing=smoothing), (x,))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_gradcheck(device, reduction, weighted, smoothing):
    x = t64(RNG.standard_normal((3, 4)), device, True)
    p = t64(RNG.dirichlet(numpy.ones(4), 3), device, True)
    w = t64([0.5, 2.0, 1.5, 1.0], device) if weighted else None
    assert gradcheck(lambda a, b: LF.cross_entropy(a, b, weight=w, reduction=reduction,
                                                   label_smoothing=smoothing), (x, p))


def test_cross_entropy_unbatched_gradcheck(device):
    x = t64(RNG.standard_normal(5), device, True)
    assert gradcheck(lambda a: LF.cross_entropy(a, idx(3, device), label_smoothing=0.1), (x,))
    assert gradcheck(lambda a: LF.cross_entropy(a, idx(3, device), reduction="none"), (x,))
    p = t64(RNG.dirichlet(numpy.ones(5)), device)
    assert gradcheck(lambda a: LF.cross_entropy(a, p), (x,))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_gradcheck(device, reduction, weighted):
    x = t64(RNG.standard_normal((5, 3)), device, True)
    target = idx([0, 2, 1, 7, 2], device)
    w = t64([0.5, 2.0, 1.5], device) if weighted else None
    assert gradcheck(lambda a: LF.nll_loss(a, target, weight=w, reduction=reduction, ignore_index=7), (x,))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_gradcheck(device, reduction, weighted):
    x = t64(RNG.uniform(0.05, 0.95, (3, 4)), device, True)
    y = t64(RNG.uniform(0, 1, (3, 4)), device, True)
    w = t64(RNG.uniform(0.5, 2, 4), device) if weighted else None
    assert gradcheck(lambda a, b: LF.binary_cross_entropy(a, b, weight=w, reduction=reduction), (x, y))


@pytest.mark.parametrize("pos_weight", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradcheck(device, reduction, weighted, pos_weight):
    x = t64(RNG.standard_normal((3, 4)) * 3, device, True)
    y = t64(RNG.uniform(0, 1, (3, 4)), device, True)
    w = t64(RNG.uniform(0.5, 2, (3, 1)), device) if weighted else None
    pw = t64(RNG.uniform(0.5, 3, 4), device) if pos_weight else None
    assert gradcheck(lambda a, b: LF.binary_cross_entropy_with_logits(a, b, weight=w, reduction=reduction,
                                                                      pos_weight=pw), (x, y))


# -- values and gradients against PyTorch ------------------------------------------------------------------
def _pair(a, dtype=numpy.float32, requires_grad=True):
    """The same values as an nnlite leaf and a torch leaf."""
    torch = _torch()
    a = numpy.asarray(a, dtype=dtype)
    ours = nnlite.tensor(a, requires_grad=requires_grad)
    theirs = torch.tensor(a, requires_grad=requires_grad)
    return ours, theirs


def _compare(f_ours, f_theirs, ours_in, theirs_in, rtol=1e-6, atol=1e-7):
    out, ref = f_ours(*ours_in), f_theirs(*theirs_in)
    check_against_torch(out, ref, rtol, atol)
    if ref.requires_grad:
        seed = numpy.random.default_rng(1).standard_normal(ref.shape).astype(host(out).dtype)
        out.backward(nnlite.tensor(seed))
        ref.backward(_torch().tensor(seed))
        for a, b in zip(ours_in, theirs_in):
            if getattr(b, "requires_grad", False):
                check_against_torch(a.grad, b.grad, rtol, atol)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kw", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
                                     ("smooth_l1_loss", {"beta": 0.0}), ("huber_loss", {"delta": 1.5})])
def test_regression_losses_match_torch(name, kw, reduction, dtype):
    torch = _torch()
    x = RNG.standard_normal((4, 5)) * 2
    y = RNG.standard_normal((4, 5))
    y[0, 0] = x[0, 0]  # a zero difference: the gradient of |d| there is 0 in both
    (a, ta), (b, tb) = _pair(x, dtype), _pair(y, dtype)
    _compare(lambda p, q: getattr(LF, name)(p, q, reduction=reduction, **kw),
             lambda p, q: getattr(torch.nn.functional, name)(p, q, reduction=reduction, **kw), (a, b), (ta, tb))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_weighted_regression_losses_match_torch(name, reduction):
    torch = _torch()
    (a, ta), (b, tb) = _pair(RNG.standard_normal((3, 4))), _pair(RNG.standard_normal((3, 4)))
    (w, tw) = _pair(RNG.uniform(0.1, 2, (3, 4)))
    _compare(lambda p, q, r: getattr(LF, name)(p, q, reduction=reduction, weight=r),
             lambda p, q, r: getattr(torch.nn.functional, name)(p, q, reduction=reduction, weight=r),
             (a, b, w), (ta, tb, tw))


CE_CASES = [
    dict(shape=(6, 4), target=[0, 3, 1, 2, 2, -100]),
    dict(shape=(6, 4), target=[0, 3, 1, 2, 2, 1], weight=[0.2, 1.0, 3.0, 0.7]),
    dict(shape=(6, 4), target=[0, 3, 1, 2, 2, -100], weight=[0.2, 1.0, 3.0, 0.7], label_smoothing=0.25),
    dict(shape=(6, 4), target=[0, 3, 1, 2, 2, 1], ignore_index=2, label_smoothing=0.1),
    dict(shape=(2, 3, 5), target=[[0, 1, 2, 1, 0], [2, 2, -100, 1, 0]], weight=[1.0, 2.0, 0.5]),
    dict(shape=(2, 3, 2, 2), target=[[[0, 1], [2, 1]], [[2, 2], [-100, 0]]], label_smoothing=0.3),
    dict(shape=(2, 3, 1, 2, 2), target=[[[[0, 1], [2, 1]]], [[[2, 2], [1, 0]]]]),
    dict(shape=(5,), target=3, label_smoothing=0.2),
    dict(shape=(5,), target=2, weight=[1.0, 2.0, 3.0, 4.0, 5.0]),
    dict(shape=(0, 4), target=numpy.zeros(0, numpy.int64)),
    dict(shape=(3, 4), target=[-100, -100, -100]),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", range(len(CE_CASES)))
def test_cross_entropy_and_nll_match_torch(case, reduction):
    torch = _torch()
    c = dict(CE_CASES[case])
    x = RNG.standard_normal(c.pop("shape")) * 3
    target = numpy.asarray(c.pop("target"), dtype=numpy.int64)
    kw = {k: v for k, v in c.items() if k != "weight"}
    for dtype in (numpy.float32, numpy.float64):
        a, ta = _pair(x, dtype)
        w = c.get("weight")
        (ww, tw) = _pair(w, dtype, False) if w is not None else (None, None)
        _compare(lambda p: LF.cross_entropy(p, nnlite.tensor(target), weight=ww, reduction=reduction, **kw),
                 lambda p: torch.nn.functional.cross_entropy(p, torch.tensor(target), weight=tw,
                                                              reduction=reduction, **kw), (a,), (ta,),
                 rtol=1e-5 if dtype == numpy.float32 else 1e-12, atol=1e-6 if dtype == numpy.float32 else 1e-12)
        if "label_smoothing" in kw:
            continue
        a, ta = _pair(x, dtype)
        _compare(lambda p: LF.nll_loss(p, nnlite.tensor(target), weight=ww, reduction=reduction, **kw),
                 lambda p: torch.nn.functional.nll_loss(p, torch.tensor(target), weight=tw, reduction=reduction,
                                                        **kw), (a,), (ta,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,weighted,smoothing", [((4, 3), False, 0.0), ((4, 3), True, 0.2),
                                                      ((2, 3, 4), True, 0.0), ((3,), False, 0.1)])
def test_cross_entropy_probabilities_match_torch(shape, weighted, smoothing, reduction):
    torch = _torch()
    x = RNG.standard_normal(shape)
    p = RNG.dirichlet(numpy.ones(shape[1] if len(shape) > 1 else shape[0]), int(numpy.prod(shape)) //
                      (shape[1] if len(shape) > 1 else shape[0]))
    p = numpy.moveaxis(p.reshape((shape[0],) + shape[2:] + (shape[1],)), -1, 1) if len(shape) > 1 else p[0]
    (a, ta), (b, tb) = _pair(x), _pair(p)
    n_classes = shape[1] if len(shape) > 1 else shape[0]
    w, tw = _pair(RNG.uniform(0.5, 2, n_classes), requires_grad=False) if weighted else (None, None)
    _compare(lambda q, r: LF.cross_entropy(q, r, weight=w, reduction=reduction, label_smoothing=smoothing),
             lambda q, r: torch.nn.functional.cross_entropy(q, r, weight=tw, reduction=reduction,
                                                            label_smoothing=smoothing), (a, b), (ta, tb))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 4), c=st.integers(1, 5), spatial=st.lists(st.integers(1, 3), max_size=2),
       reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(), smoothing=st.sampled_from([0.0, 0.15]),
       ignore=st.booleans(), seed=st.integers(0, 2**16))
def test_cross_entropy_hypothesis_shapes(n, c, spatial, reduction, weighted, smoothing, ignore, seed):
    torch = _torch()
    rng = numpy.random.default_rng(seed)
    shape = (n, c) + tuple(spatial)
    x = rng.standard_normal(shape).astype(numpy.float64)
    target = rng.integers(0, c, (n,) + tuple(spatial))
    if ignore and target.size:
        target.flat[rng.integers(0, target.size)] = -100
    w = rng.uniform(0.2, 2, c) if weighted else None
    a, ta = _pair(x, numpy.float64)
    _compare(lambda p: LF.cross_entropy(p, nnlite.tensor(target), weight=None if w is None else nnlite.tensor(w),
                                        reduction=reduction, label_smoothing=smoothing),
             lambda p: torch.nn.functional.cross_entropy(p, torch.tensor(target),
                                                          weight=None if w is None else torch.tensor(w),
                                                          reduction=reduction, label_smoothing=smoothing),
             (a,), (ta,), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(weighted, reduction):
    torch = _torch()
    x = RNG.uniform(0, 1, (3, 4))
    x[0, :2] = [0.0, 1.0]  # the clamped logs and the 1e-12 floor of the gradient
    (a, ta), (b, tb) = _pair(x), _pair(RNG.uniform(0, 1, (3, 4)))
    w, tw = _pair(RNG.uniform(0.5, 2, 4), requires_grad=False) if weighted else (None, None)
    out = LF.binary_cross_entropy(a, b.detach(), weight=w, reduction=reduction)
    ref = torch.nn.functional.binary_cross_entropy(ta, tb.detach(), weight=tw, reduction=reduction)
    check_against_torch(out, ref)
    out.sum().backward()
    ref.sum().backward()
    check_against_torch(a.grad, ta.grad, rtol=1e-5)
    # the target's gradient (infinite where the input is 0 or 1, as in PyTorch)
    (a, ta), (b, tb) = _pair(x, requires_grad=False), _pair(RNG.uniform(0, 1, (3, 4)))
    out = LF.binary_cross_entropy(a, b, weight=w, reduction=reduction)
    ref = torch.nn.functional.binary_cross_entropy(ta, tb, weight=tw, reduction=reduction)
    out.sum().backward()
    ref.sum().backward()
    check_against_torch(b.grad, tb.grad, rtol=1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted,pos_weight", [(False, False), (True, False), (False, True), (True, True)])
def test_bce_with_logits_matches_torch(weighted, pos_weight, reduction):
    torch = _torch()
    x = RNG.standard_normal((3, 4)) * 4
    x[0, :2] = [80.0, -80.0]  # saturated logits stay finite
    (a, ta), (b, tb) = _pair(x), _pair(RNG.uniform(0, 1, (3, 4)))
    w, tw = _pair(RNG.uniform(0.5, 2, (3, 1)), requires_grad=False) if weighted else (None, None)
    pw, tpw = _pair(RNG.uniform(0.5, 3, 4), requires_grad=False) if pos_weight else (None, None)
    _compare(lambda p, q: LF.binary_cross_entropy_with_logits(p, q, weight=w, reduction=reduction, pos_weight=pw),
             lambda p, q: torch.nn.functional.binary_cross_entropy_with_logits(p, q, weight=tw, reduction=reduction,
                                                                               pos_weight=tpw),
             (a, b), (ta, tb), rtol=1e-5, atol=1e-6)


def test_cross_entropy_is_stable_for_huge_logits():
    x = nnlite.tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    loss = LF.cross_entropy(x, nnlite.tensor([2]))
    assert loss.item() == pytest.approx(2000.0)
    loss.backward()
    numpy.testing.assert_allclose(host(x.grad), [[1.0, 0.0, -1.0]], atol=1e-6)


def test_mean_of_nothing_is_nan_and_sum_is_zero():
    x = nnlite.zeros(0, 3, requires_grad=True)
    t = nnlite.zeros(0, dtype=nnlite.int64)
    assert numpy.isnan(LF.cross_entropy(x, t).item())
    assert LF.cross_entropy(x, t, reduction="sum").item() == 0.0
    assert numpy.isnan(LF.nll_loss(nnlite.zeros(2, 3), nnlite.tensor([-100, -100])).item())


def test_uint8_targets_are_accepted():
    x = nnlite.tensor(RNG.standard_normal((3, 4)).astype(numpy.float32))
    a = LF.cross_entropy(x, nnlite.tensor(numpy.array([0, 3, 1], numpy.uint8)))
    b = LF.cross_entropy(x, nnlite.tensor([0, 3, 1]))
    assert a.item() == b.item()


def test_numpy_inputs_are_accepted():
    x = RNG.standard_normal((3, 4)).astype(numpy.float32)
    assert isinstance(LF.mse_loss(x, x), nnlite.Tensor)
    assert LF.cross_entropy(x, numpy.array([0, 1, 2])).shape == ()


# -- errors ----------------------------------------------------------------------------------------------------
X = nnlite.zeros(3, 4)


@pytest.mark.parametrize("call,exc,message", [
    (lambda: LF.cross_entropy(X, nnlite.tensor([0.0, 1.0, 2.0])), RuntimeError,
     "expected target dtype to be Long or Byte, but got Float"),
    (lambda: LF.nll_loss(X, nnlite.tensor([0, 1, 2], dtype=nnlite.int32)), RuntimeError,
     "expected target dtype to be Long or Byte, but got Int"),
    (lambda: LF.cross_entropy(X, nnlite.tensor([0, 1])), ValueError,
     r"Expected input batch_size \(3\) to match target batch_size \(2\)."),
    (lambda: LF.cross_entropy(X, nnlite.tensor([0, 1, 4])), IndexError, "Target 4 is out of bounds."),
    (lambda: LF.nll_loss(X, nnlite.tensor([0, -1, 2])), IndexError, "Target -1 is out of bounds."),
    (lambda: LF.cross_entropy(X, nnlite.tensor([0, 1, 2]), weight=nnlite.ones(3)), RuntimeError,
     r"weight tensor should be defined either for all 4 classes or no classes but got weight tensor of shape: \[3\]"),
    (lambda: LF.cross_entropy(X, nnlite.tensor([0, 1, 2]), weight=nnlite.ones(4, dtype=nnlite.float64)),
     RuntimeError, "expected scalar type Float but found Double"),
    (lambda: LF.cross_entropy(X, nnlite.zeros(3, 2, dtype=nnlite.int64)), RuntimeError,
     "0D or 1D target tensor expected, multi-target not supported"),
    (lambda: LF.cross_entropy(nnlite.zeros(2, 3, 5), nnlite.zeros(2, 4, dtype=nnlite.int64)), RuntimeError,
     r"Expected target size \[2, 5\], got \[2, 4\]"),
    (lambda: LF.nll_loss(nnlite.zeros(2, 3, 4, 5), nnlite.zeros(2, 4, dtype=nnlite.int64)), RuntimeError,
     "only batches of spatial targets supported"),
    (lambda: LF.nll_loss(nnlite.zeros(4), nnlite.tensor([1, 2])), ValueError,
     "For 1D input, 1D target must have size 1, but got target size: 2"),
    (lambda: LF.nll_loss(nnlite.tensor(1.0), nnlite.tensor(0)), ValueError, r"Expected 1 or more dimensions \(got 0\)"),
    (lambda: LF.cross_entropy(X, nnlite.zeros(3, 4, dtype=nnlite.int64)), RuntimeError,
     "Expected floating point type for target with class probabilities, got Long"),
    (lambda: LF.cross_entropy(X, nnlite.zeros(3, 4), ignore_index=1), RuntimeError,
     "ignore_index is not supported for floating point target"),
    (lambda: LF.cross_entropy(X, nnlite.tensor([0, 1, 2]), label_smoothing=1.5), RuntimeError,
     "label_smoothing must be between 0.0 and 1.0. Got: 1.5"),
    (lambda: LF.cross_entropy(X, nnlite.tensor([0, 1, 2]), reduction="avg"), ValueError,
     "avg is not a valid value for reduction"),
    (lambda: LF.mse_loss(X, X, reduction="avg"), ValueError, "avg is not a valid value for reduction"),
    (lambda: LF.mse_loss(X, X, reduction="avg", weight=X), ValueError, "Invalid reduction mode: avg"),
    (lambda: LF.mse_loss(X, X, weight=nnlite.ones(4)), ValueError, "Weights and input must have the same size."),
    (lambda: LF.binary_cross_entropy(X, X, reduction="x"), ValueError, "x is not a valid value for reduction"),
    (lambda: LF.binary_cross_entropy(X, X[0]), ValueError, r"Using a target size \(nnlite.Size\(\[4\]\)\) that "
     r"is different to the input size \(nnlite.Size\(\[3, 4\]\)\) is deprecated"),
    (lambda: LF.binary_cross_entropy(X - 1, X), RuntimeError, "all elements of input should be between 0 and 1"),
    (lambda: LF.binary_cross_entropy(X, X.double()), RuntimeError, "Found dtype Double but expected Float"),
    (lambda: LF.binary_cross_entropy_with_logits(X, X[0]), ValueError,
     r"Target size \(nnlite.Size\(\[4\]\)\) must be the same as input size \(nnlite.Size\(\[3, 4\]\)\)"),
    (lambda: LF.binary_cross_entropy_with_logits(X, X, pos_weight=nnlite.ones(3)), RuntimeError,
     r"The size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 1"),
    (lambda: LF.binary_cross_entropy_with_logits(X, X, weight=nnlite.ones(2, 3, 4)), RuntimeError,
     r"output with shape \[3, 4\] doesn't match the broadcast shape \[2, 3, 4\]"),
    (lambda: LF.smooth_l1_loss(X, X, beta=-1.0), RuntimeError, "smooth_l1_loss does not support negative values"),
    (lambda: LF.huber_loss(X, X, delta=0.0), RuntimeError, "huber_loss does not support non-positive values"),
])
def test_errors_match_torch(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_size_mismatch_warns_like_torch():
    with pytest.warns(UserWarning, match=r"Using a target size \(nnlite.Size\(\[4\]\)\) that is different"):
        LF.mse_loss(X, nnlite.ones(4))


def test_legacy_size_average_and_reduce():
    x, y = nnlite.tensor([1.0, 3.0]), nnlite.tensor([0.0, 0.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert LF.mse_loss(x, y, size_average=False).item() == 10.0
        assert LF.mse_loss(x, y, reduce=False).tolist() == [1.0, 9.0]
    assert "reduction='sum'" in str(caught[0].message)


# -- modules -------------------------------------------------------------------------------------------------
def _loss_modules():
    return pytest.importorskip("nnlite.nn.modules.loss")


def test_module_reprs_and_defaults():
    L = _loss_modules()
    for name in ["MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
                 "BCEWithLogitsLoss"]:
        m = getattr(L, name)()
        assert repr(m) == f"{name}()"
        assert m.reduction == "mean"
    ce = L.CrossEntropyLoss(weight=nnlite.ones(3), ignore_index=1, reduction="sum", label_smoothing=0.1)
    assert (ce.ignore_index, ce.label_smoothing, ce.reduction) == (1, 0.1, "sum")
    assert L.SmoothL1Loss(beta=0.5).beta == 0.5 and L.HuberLoss(delta=2.0).delta == 2.0
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert L.MSELoss(size_average=False).reduction == "sum"


def test_module_weights_are_buffers():
    L = _loss_modules()
    ce = L.CrossEntropyLoss(weight=nnlite.tensor([1.0, 2.0]))
    assert [n for n, _ in ce.named_buffers()] == ["weight"]
    assert "weight" in ce.state_dict()
    assert L.CrossEntropyLoss().weight is None
    bce = L.BCEWithLogitsLoss(weight=nnlite.ones(2), pos_weight=nnlite.ones(2))
    assert sorted(n for n, _ in bce.named_buffers()) == ["pos_weight", "weight"]
    assert list(ce.parameters()) == []


def test_modules_call_the_functions():
    L = _loss_modules()
    x = nnlite.tensor(RNG.standard_normal((4, 3)).astype(numpy.float32))
    t = nnlite.tensor([0, 2, 1, 1])
    w = nnlite.tensor([0.3, 1.0, 2.0])
    probs = x.sigmoid()
    cases = [
        (L.MSELoss(reduction="sum"), (x, probs), LF.mse_loss(x, probs, reduction="sum")),
        (L.L1Loss(), (x, probs), LF.l1_loss(x, probs)),
        (L.SmoothL1Loss(beta=0.3), (x, probs), LF.smooth_l1_loss(x, probs, beta=0.3)),
        (L.HuberLoss(delta=0.3), (x, probs), LF.huber_loss(x, probs, delta=0.3)),
        (L.CrossEntropyLoss(w, ignore_index=1, label_smoothing=0.2), (x, t),
         LF.cross_entropy(x, t, w, ignore_index=1, label_smoothing=0.2)),
        (L.NLLLoss(w, reduction="none"), (x.log_softmax(1), t), LF.nll_loss(x.log_softmax(1), t, w, reduction="none")),
        (L.BCELoss(w), (probs, probs), LF.binary_cross_entropy(probs, probs, w)),
        (L.BCEWithLogitsLoss(w, pos_weight=w), (x, probs), LF.binary_cross_entropy_with_logits(x, probs, w,
                                                                                            pos_weight=w)),
    ]
    for module, args, expected in cases:
        numpy.testing.assert_array_equal(host(module(*args)), host(expected))
    with pytest.raises(ValueError, match="bad is not a valid value for reduction"):
        L.MSELoss(reduction="bad")(x, x)


def test_unbatched_input_with_a_one_element_target():
    torch = _torch()
    x = RNG.standard_normal(5).astype(numpy.float32)
    for reduction in REDUCTIONS:  # (PyTorch's backward of this case fails for 'none': forward only)
        check_against_torch(LF.cross_entropy(nnlite.tensor(x), nnlite.tensor([3]), reduction=reduction),
                            torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor([3]), reduction=reduction))


def test_non_contiguous_inputs(device):
    base = RNG.standard_normal((5, 4, 3))
    x = nnlite.tensor(base, device=device).permute(2, 1, 0)  # (3, 4, 5), not contiguous
    assert not x.is_contiguous()
    target = idx(RNG.integers(0, 4, (3, 5)), device)
    w = t64([1.0, 0.5, 2.0, 1.5], device)
    expected = LF.cross_entropy(x.contiguous(), target, weight=w, label_smoothing=0.1)
    numpy.testing.assert_allclose(host(LF.cross_entropy(x, target, weight=w, label_smoothing=0.1)), host(expected),
                                  rtol=1e-12)
    y = nnlite.tensor(RNG.uniform(0, 1, (4, 3)), device=device).T
    numpy.testing.assert_allclose(host(LF.binary_cross_entropy_with_logits(y, y)),
                                  host(LF.binary_cross_entropy_with_logits(y.contiguous(), y.contiguous())),
                                  rtol=1e-12)
