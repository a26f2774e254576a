"""nnlite.nn.utils: gradient clipping, weight norm (both forms), parameter vectors, pad_sequence; against PyTorch."""
import copy
import math
import pickle
import warnings

import numpy
import pytest
from hypothesis import given, settings, strategies as st

import nnlite
from nnlite.autograd import gradcheck
from nnlite.nn.utils import (clip_grad_norm_, clip_grad_value_, parameters_to_vector, parametrizations,
                             parametrize, remove_weight_norm, vector_to_parameters, weight_norm)
from nnlite.nn.utils.rnn import pad_sequence
from conftest import host, rng_for

torch = pytest.importorskip("torch")


def _pair(shapes, seed):
    rng = numpy.random.default_rng(seed)
    grads = [rng.standard_normal(s).astype(numpy.float32) * 3 for s in shapes]
    ours, theirs = [], []
    for g in grads:
        p = nnlite.nn.Parameter(nnlite.zeros(*g.shape)); p.grad = nnlite.tensor(g)
        q = torch.nn.Parameter(torch.zeros(*g.shape)); q.grad = torch.tensor(g)
        ours.append(p); theirs.append(q)
    return ours, theirs


@settings(max_examples=25, deadline=None)
@given(norm_type=st.sampled_from([2.0, 1.0, 3.0, math.inf, "inf", 0.5]), max_norm=st.floats(0.01, 50.0),
       seed=st.integers(0, 1000))
def test_clip_grad_norm_matches_torch(norm_type, max_norm, seed):
    ours, theirs = _pair([(3, 4), (5,), (2, 1, 3)], seed)
    ours[1].grad = None
    theirs[1].grad = None
    n = clip_grad_norm_(iter(ours), max_norm, norm_type=norm_type)
    tn = torch.nn.utils.clip_grad_norm_(iter(theirs), max_norm, norm_type=norm_type)
    assert n.shape == () and n.dtype == nnlite.float32
    numpy.testing.assert_allclose(n.item(), tn.item(), rtol=1e-5)
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
        else:
            numpy.testing.assert_allclose(host(p.grad), q.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_clip_grad_norm_edge_cases():
    p = nnlite.nn.Parameter(nnlite.zeros(2))
    assert clip_grad_norm_([p], 1.0).item() == 0.0  # no gradients at all
    p.grad = nnlite.tensor([float("nan"), 1.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is "
                                           "non-finite, so it cannot be clipped"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert numpy.isnan(host(p.grad)[0]) and host(p.grad)[1] == 1.0  # untouched when it raises
    p.grad = nnlite.tensor([0.3, 0.4])
    assert clip_grad_norm_(p, 10.0, foreach=True).item() == pytest.approx(0.5)
    assert host(p.grad).tolist() == pytest.approx([0.3, 0.4])  # not scaled up


def test_clip_grad_value_matches_torch():
    ours, theirs = _pair([(4, 3), (7,)], 1)
    assert clip_grad_value_(ours, 1.5) is None
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, q in zip(ours, theirs):
        numpy.testing.assert_array_equal(host(p.grad), q.grad.numpy())


def test_parameters_to_vector_and_back():
    m = nnlite.nn.Sequential(nnlite.nn.Conv1d(2, 3, 3), nnlite.nn.Linear(4, 2))
    t = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 3), torch.nn.Linear(4, 2))
    t.load_state_dict({k: torch.tensor(host(v)) for k, v in m.state_dict().items()})
    v = parameters_to_vector(m.parameters())
    numpy.testing.assert_array_equal(host(v), torch.nn.utils.parameters_to_vector(t.parameters()).detach().numpy())
    (v * v).sum().backward()  # differentiable: the gradient reaches each parameter
    numpy.testing.assert_allclose(host(m[0].weight.grad), 2 * host(m[0].weight))
    new = nnlite.arange(v.numel(), dtype=nnlite.float32)
    vector_to_parameters(new, m.parameters())
    torch.nn.utils.vector_to_parameters(torch.arange(v.numel(), dtype=torch.float32), t.parameters())
    for (k, a), b in zip(m.state_dict().items(), t.state_dict().values()):
        assert a.shape == tuple(b.shape), k
        numpy.testing.assert_array_equal(host(a), b.numpy())
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: ndarray"):
        vector_to_parameters(numpy.zeros(3), m.parameters())
    with pytest.raises(RuntimeError, match="is invalid for input of size 3"):
        vector_to_parameters(nnlite.zeros(3), m.parameters())


@pytest.mark.parametrize("dim", [0, 1, 2, -1, None])
@pytest.mark.parametrize("form", ["hook", "parametrization"])
def test_weight_norm_matches_torch(form, dim):
    rng = rng_for(f"wn{form}{dim}")
    w = rng.standard_normal((4, 2, 3)).astype(numpy.float32)
    b = rng.standard_normal(4).astype(numpy.float32)
    m, t = nnlite.nn.Conv1d(2, 4, 3), torch.nn.Conv1d(2, 4, 3)
    m.load_state_dict({"weight": nnlite.tensor(w), "bias": nnlite.tensor(b)})
    t.load_state_dict({"weight": torch.tensor(w), "bias": torch.tensor(b)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if form == "hook":
            m, t = weight_norm(m, dim=dim), torch.nn.utils.weight_norm(t, dim=dim)
        else:
            m, t = parametrizations.weight_norm(m, dim=dim), torch.nn.utils.parametrizations.weight_norm(t, dim=dim)
    assert [type(c.message) for c in caught].count(FutureWarning) == (2 if form == "hook" else 0)
    assert type(m).__name__ == type(t).__name__
    assert list(m.state_dict()) == list(t.state_dict())
    for (k, a), bb in zip(m.state_dict().items(), t.state_dict().values()):
        assert a.shape == tuple(bb.shape), k
        numpy.testing.assert_allclose(host(a), bb.numpy(), rtol=1e-6, atol=1e-6)
    x = rng.standard_normal((2, 2, 7)).astype(numpy.float32)
    y, yt = m(x), t(torch.tensor(x))
    numpy.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    for (k, a), bb in zip(m.named_parameters(), t.parameters()):
        numpy.testing.assert_allclose(host(a.grad), bb.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=k)


def test_weight_norm_gradcheck_and_removal():
    rng = rng_for("wn-gc")
    for dim in (0, None):
        m = parametrizations.weight_norm(nnlite.nn.Conv1d(2, 3, 3).double(), dim=dim)
        g, v = m.parametrizations.weight.original0, m.parametrizations.weight.original1
        x = nnlite.tensor(rng.standard_normal((2, 2, 6)), requires_grad=True)

        def f(x, g, v, m=m):
            m.parametrizations.weight._parameters["original0"] = g
            m.parametrizations.weight._parameters["original1"] = v
            return m(x)
        assert gradcheck(f, (x, g, v))
    m = parametrizations.weight_norm(nnlite.nn.Linear(3, 2))
    w = host(m.weight).copy()
    assert type(copy.deepcopy(m)).__name__ == "ParametrizedLinear"
    with pytest.raises(RuntimeError, match="Serialization of parametrized modules is only supported through "
                                           "state_dict"):
        pickle.dumps(m)
    parametrize.remove_parametrizations(m, "weight")
    t = torch.nn.utils.parametrize.remove_parametrizations(
        torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(3, 2)), "weight")
    assert type(m) is nnlite.nn.Linear and list(m.state_dict()) == list(t.state_dict()) == ["bias", "weight"]
    numpy.testing.assert_allclose(host(m.weight), w, rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = weight_norm(nnlite.nn.Linear(3, 2))
        with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the same parameter weight"):
            weight_norm(m)
    remove_weight_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, nnlite.nn.Parameter)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in"):
        remove_weight_norm(m)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element with name"):
        parametrizations.weight_norm(m, "nope")


@settings(max_examples=20, deadline=None)
@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=4), batch_first=st.booleans(),
       side=st.sampled_from(["right", "left"]), value=st.sampled_from([0.0, -1.5]))
def test_pad_sequence_matches_torch(lengths, batch_first, side, value):
    rng = numpy.random.default_rng(sum(lengths))
    seqs = [rng.standard_normal((n, 2)).astype(numpy.float32) for n in lengths]
    y = pad_sequence([nnlite.tensor(s) for s in seqs], batch_first, value, side)
    yt = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first, value, side)
    assert y.shape == tuple(yt.shape) and y.dtype == nnlite.float32
    numpy.testing.assert_array_equal(host(y), yt.numpy())


def test_pad_sequence_gradcheck_and_errors():
    a = nnlite.tensor(numpy.arange(6.0).reshape(3, 2), requires_grad=True)
    b = nnlite.tensor(numpy.ones((1, 2)), requires_grad=True)
    assert gradcheck(lambda a, b: pad_sequence([a, b], batch_first=True, padding_value=2.0), (a, b))
    with pytest.raises(ValueError, match="Expected padding_side to be one of left or right, but got middle"):
        pad_sequence([a], padding_side="middle")
    with pytest.raises(RuntimeError, match="must match the size of tensor b"):
        pad_sequence([a, nnlite.ones(2, 3)])
