"""Every differentiable tensor op passes the float64 gradient check, on each device, with broadcasting."""
import numpy
import pytest

import nnlite
import nnlite.nn.functional as F
from nnlite.autograd import gradcheck
from conftest import host

RNG = numpy.random.default_rng(0)


def make(device, *shape, positive=False, requires_grad=True):
    a = RNG.standard_normal(shape)
    if positive:
        a = numpy.abs(a) + 0.5
    return nnlite.tensor(a, dtype=nnlite.float64, device=device, requires_grad=requires_grad)


# (name, function, input shapes, positive inputs)
OPS = [
    ("add_broadcast", lambda a, b: a + b, [(3, 4), (4,)], False),
    ("add_scalar", lambda a: 2.5 + a, [(3,)], False),
    ("sub_broadcast", lambda a, b: a - b, [(2, 1, 4), (3, 1)], False),
    ("rsub", lambda a: 1.0 - a, [(3,)], False),
    ("mul_broadcast", lambda a, b: a * b, [(2, 3, 4), (1, 3, 1)], False),
    ("div", lambda a, b: a / b, [(3, 4), (3, 4)], True),
    ("rdiv", lambda a: 2.0 / a, [(5,)], True),
    ("pow_scalar", lambda a: a ** 3, [(4,)], False),
    ("pow_fraction", lambda a: a ** 0.5, [(4,)], True),
    ("rpow", lambda a: 2.0 ** a, [(4,)], False),
    ("pow_tensor", lambda a, b: a ** b, [(3,), (3,)], True),
    ("matmul_2d", lambda a, b: a @ b, [(3, 4), (4, 2)], False),
    ("matmul_batched_broadcast", lambda a, b: a @ b, [(2, 3, 4), (4, 5)], False),
    ("matmul_vec", lambda a, b: a @ b, [(4,), (4, 3)], False),
    ("matmul_mat_vec", lambda a, b: a @ b, [(2, 4), (4,)], False),
    ("neg", lambda a: -a, [(3,)], False),
    ("abs", lambda a: a.abs(), [(3, 2)], False),
    ("exp", lambda a: a.exp(), [(3,)], False),
    ("log", lambda a: a.log(), [(3,)], True),
    ("sqrt", lambda a: a.sqrt(), [(3,)], True),
    ("tanh", lambda a: a.tanh(), [(3,)], False),
    ("sigmoid", lambda a: a.sigmoid(), [(3,)], False),
    ("relu", lambda a: a.relu(), [(3, 3)], False),
    ("clamp", lambda a: a.clamp(-0.5, 0.5), [(4, 3)], False),
    ("clamp_min", lambda a: a.clamp(min=0.1), [(4,)], False),
    ("maximum", lambda a, b: a.maximum(b), [(3,), (3,)], False),
    ("max_tensor", lambda a, b: a.max(b), [(3, 2), (2,)], False),
    ("sum_all", lambda a: a.sum(), [(2, 3)], False),
    ("sum_dim", lambda a: a.sum(1), [(2, 3, 4)], False),
    ("sum_dims_keepdim", lambda a: a.sum((0, 2), keepdim=True), [(2, 3, 4)], False),
    ("mean_all", lambda a: a.mean(), [(2, 3)], False),
    ("mean_neg_dim", lambda a: a.mean(-1, keepdim=True), [(2, 3)], False),
    ("var_all", lambda a: a.var(), [(2, 5)], False),
    ("var_dim_biased", lambda a: a.var(1, unbiased=False), [(2, 5)], False),
    ("var_correction", lambda a: a.var(0, correction=2, keepdim=True), [(4, 3)], False),
    ("std", lambda a: a.std(1), [(3, 4)], False),
    ("max_all", lambda a: a.max(), [(3, 4)], False),
    ("min_all", lambda a: a.min(), [(3, 4)], False),
    ("max_dim", lambda a: a.max(1).values, [(3, 4)], False),
    ("min_dim_keepdim", lambda a: a.min(0, keepdim=True)[0], [(3, 4)], False),
    ("reshape", lambda a: a.reshape(4, -1) * 2, [(2, 3, 2)], False),
    ("view", lambda a: a.view(6, 2), [(3, 4)], False),
    ("flatten", lambda a: a.flatten(1), [(2, 3, 4)], False),
    ("transpose", lambda a: a.transpose(0, 2), [(2, 3, 4)], False),
    ("permute", lambda a: a.permute(2, 0, 1), [(2, 3, 4)], False),
    ("squeeze", lambda a: a.squeeze(1), [(3, 1, 2)], False),
    ("unsqueeze", lambda a: a.unsqueeze(-1), [(3, 2)], False),
    ("expand", lambda a: a.expand(4, 3, 2) * 1.0, [(3, 1)], False),
    ("getitem_basic", lambda a: a[1:, ::2, None, -1], [(3, 4, 2)], False),
    ("getitem_int_array", lambda a: a[[0, 2, 0], 1:], [(3, 4)], False),
    ("getitem_tensor_index", lambda a: a[nnlite.tensor([1, 1, 0])], [(3, 2)], False),
    ("getitem_bool_mask", lambda a: a[a.detach() > 0], [(4, 3)], False),
    ("cat", lambda a, b: nnlite.cat([a, b], dim=1), [(2, 3), (2, 1)], False),
    ("stack", lambda a, b: nnlite.stack([a, b], dim=-1), [(2, 3), (2, 3)], False),
    ("softmax", lambda a: a.softmax(1), [(3, 5)], False),
    ("log_softmax", lambda a: F.log_softmax(a, dim=0), [(4, 3)], False),
    ("where", lambda a, b: nnlite.where(a.detach() > 0, a, b), [(3, 4), (4,)], False),
    ("clone", lambda a: a.clone() * 2, [(3,)], False),
    ("pad_constant", lambda a: F.pad(a, (2, 1), value=1.5), [(2, 3)], False),
    ("pad_constant_2d_negative", lambda a: F.pad(a, (1, -1, -1, 2)), [(3, 4)], False),
    ("pad_reflect", lambda a: F.pad(a, (3, 2), mode="reflect"), [(2, 2, 5)], False),
    ("pad_replicate", lambda a: F.pad(a, (2, 3), mode="replicate"), [(2, 4)], False),
    ("pad_circular", lambda a: F.pad(a, (3, 4), mode="circular"), [(1, 2, 4)], False),
    ("pad_reflect_negative", lambda a: F.pad(a, (-1, 2), mode="reflect"), [(1, 6)], False),
    ("pad_reflect_widest", lambda a: F.pad(a, (2, 2), mode="reflect"), [(2, 3)], False),
]


@pytest.mark.parametrize("name,fn,shapes,positive", OPS, ids=[o[0] for o in OPS])
def test_gradcheck(device, name, fn, shapes, positive):
    inputs = [make(device, *s, positive=positive) for s in shapes]
    assert gradcheck(fn, inputs)


def test_cast_round_trip_gradcheck(device):
    # through float32 the finite differences carry float32 rounding: a wider step and tolerance
    assert gradcheck(lambda a: a.float().double() * 1.0, [make(device, 3)], eps=1e-3, atol=1e-3)


def test_inplace_add_gradcheck(device):
    def f(a, b):
        y = a * 1
        y.add_(b, alpha=2)
        y.mul_(b)
        return y
    assert gradcheck(f, [make(device, 3), make(device, 3)])


def test_pad_values():
    x = nnlite.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert F.pad(x, (2, 2), mode="reflect").tolist() == [[3, 2, 1, 2, 3, 4, 3, 2]]
    assert F.pad(x, (2, 1), mode="replicate").tolist() == [[1, 1, 1, 2, 3, 4, 4]]
    assert F.pad(x, (2, 3), mode="circular").tolist() == [[3, 4, 1, 2, 3, 4, 1, 2, 3]]
    assert F.pad(x, (1, 0), value=-1.0).tolist() == [[-1, 1, 2, 3, 4]]
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        F.pad(x, (4, 0), mode="reflect")
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        F.pad(x, (5, 0), mode="circular")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode foo"):
        F.pad(x, (1, 1), mode="foo")
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(x, (1,))
    with pytest.raises(NotImplementedError, match="not supported for 1D input"):
        F.pad(nnlite.ones(4), (1, 1), mode="reflect")


def test_zero_dim_results_stay_arrays():
    a, b = nnlite.tensor(1.0), nnlite.tensor(2.0)
    for r in (a / b, a + b, a * b, a - b, -a, a.exp(), (a * b).sum()):
        assert isinstance(r.numpy(), numpy.ndarray) and r.shape == ()
    assert (a / b).numpy().tolist() == 0.5
    for r in (a < b, a == b, ~(a < b), (a < b) & (a < b), (a < b).all(), (a < b).any()):
        assert isinstance(r.numpy(), numpy.ndarray) and r.shape == ()


def test_int_promotion_follows_pytorch():
    i = nnlite.tensor([1, 2])
    assert (i * 2).dtype == nnlite.int64
    assert (i * 1.5).dtype == nnlite.float32
    assert (i / 2).dtype == nnlite.float32
    assert (i / i).tolist() == [1.0, 1.0]
    assert (nnlite.ones(2) + nnlite.ones(2, dtype=nnlite.float64)).dtype == nnlite.float64
    assert (nnlite.ones(2) * 2.0).dtype == nnlite.float32


def test_mixed_dtype_gradients_keep_each_dtype():
    a = nnlite.ones(2, requires_grad=True)
    b = nnlite.ones(2, dtype=nnlite.float64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == nnlite.float32 and b.grad.dtype == nnlite.float64


def test_shape_errors():
    x = nnlite.zeros(2, 3)
    with pytest.raises(RuntimeError, match="expanded size of the tensor \\(4\\) must match the existing size \\(3\\)"):
        x.expand(2, 4)
    with pytest.raises(RuntimeError, match="duplicate dims"):
        x.permute(0, 0)
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0"):
        nnlite.cat([x, nnlite.zeros(1, 2)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        nnlite.stack([x, nnlite.zeros(3, 2)])
    with pytest.raises(RuntimeError, match="both arguments to matmul need to be at least 1D"):
        nnlite.tensor(1.0) @ x


# -- parity with PyTorch ------------------------------------------------------------------------------------
PARITY = [o for o in OPS if not o[0].startswith(("getitem_tensor", "getitem_bool", "where", "to_float32",
                                                 "max_tensor", "maximum"))]


@pytest.mark.parametrize("name,fn,shapes,positive", PARITY, ids=[o[0] for o in PARITY])
def test_parity_with_torch(name, fn, shapes, positive):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    inputs = [make("cpu", *s, positive=positive) for s in shapes]
    t_inputs = [torch.tensor(host(x), requires_grad=True) for x in inputs]

    class Shim:
        """Let the same lambda run on torch tensors: nnlite's module-level names map to torch's."""
    globals_ = fn.__globals__
    saved = {k: globals_[k] for k in ("nnlite", "F")}
    try:
        globals_["nnlite"] = torch
        globals_["F"] = TF
        t_out = fn(*t_inputs)
    finally:
        globals_.update(saved)
    out = fn(*inputs)
    assert tuple(out.shape) == tuple(t_out.shape)
    numpy.testing.assert_allclose(host(out), t_out.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = RNG.standard_normal(tuple(out.shape))
    (out * nnlite.tensor(w)).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    for x, tx in zip(inputs, t_inputs):
        numpy.testing.assert_allclose(host(x.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
