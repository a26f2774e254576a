"""Tensor: dtypes, devices, creation, numpy interop, properties, in-place rules."""
import copy
import pickle
import subprocess
import sys

import numpy
import pytest

import nnlite
from conftest import host


# -- dtypes and devices --------------------------------------------------------------------------------
def test_dtypes_are_numpy_dtypes():
    assert nnlite.float32 == numpy.dtype("float32")
    assert nnlite.float64 == numpy.dtype("float64")
    assert nnlite.int64 == numpy.dtype("int64")
    assert nnlite.bool == numpy.dtype("bool")
    assert nnlite.double is nnlite.float64 and nnlite.long is nnlite.int64
    assert isinstance(nnlite.float32, numpy.dtype)


def test_default_dtype_round_trip():
    assert nnlite.get_default_dtype() == nnlite.float32
    nnlite.set_default_dtype(nnlite.float64)
    try:
        assert nnlite.zeros(2).dtype == nnlite.float64
        assert nnlite.tensor([1.5]).dtype == nnlite.float64
    finally:
        nnlite.set_default_dtype(nnlite.float32)
    assert nnlite.zeros(2).dtype == nnlite.float32
    with pytest.raises(TypeError, match="float32 and float64"):
        nnlite.set_default_dtype(nnlite.int32)


def test_device_parsing():
    assert repr(nnlite.device("cpu")) == "device(type='cpu')"
    assert repr(nnlite.device("cuda:1")) == "device(type='cuda', index=1)"
    assert str(nnlite.device("cuda", 2)) == "cuda:2"
    assert nnlite.device("cuda:0") == "cuda:0"
    assert nnlite.device("cpu") == nnlite.device("cpu")
    assert nnlite.device("cuda:0") != nnlite.device("cuda:1")
    assert nnlite.device(nnlite.device("cuda:3")).index == 3
    assert len({nnlite.device("cpu"), nnlite.device("cpu")}) == 1
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        nnlite.device("tpu")
    with pytest.raises(RuntimeError, match="Invalid device string"):
        nnlite.device("cuda:x")
    assert pickle.loads(pickle.dumps(nnlite.device("cuda:1"))) == nnlite.device("cuda:1")


# -- creation --------------------------------------------------------------------------------------------
def test_tensor_copies_and_infers_dtype():
    a = numpy.arange(4.0)
    t = nnlite.tensor(a)
    a[0] = 100
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert t.dtype == nnlite.float64  # an array keeps its dtype
    assert nnlite.tensor([1, 2]).dtype == nnlite.int64
    assert nnlite.tensor([1.0, 2]).dtype == nnlite.float32
    assert nnlite.tensor([True]).dtype == nnlite.bool
    assert nnlite.tensor(3.5).shape == ()
    assert nnlite.tensor([[1, 2]], dtype=nnlite.float64).dtype == nnlite.float64
    t2 = nnlite.tensor(t)
    assert t2._data is not t._data and t2.tolist() == t.tolist()


def test_from_numpy_and_as_tensor_share_memory():
    a = numpy.zeros((2, 3), dtype=numpy.float32)
    t = nnlite.from_numpy(a)
    u = nnlite.as_tensor(a)
    a[1, 2] = 7
    assert t[1, 2].item() == 7 and u[1, 2].item() == 7
    assert t.numpy() is a
    assert numpy.shares_memory(numpy.asarray(u), a)
    assert nnlite.as_tensor(t) is t
    assert nnlite.as_tensor(a, dtype=nnlite.float64).dtype == nnlite.float64
    with pytest.raises(TypeError, match="expected np.ndarray"):
        nnlite.from_numpy([1, 2])
    with pytest.raises(TypeError, match="can't convert np.ndarray of type"):
        nnlite.from_numpy(numpy.array(["a"]))


def test_factories():
    assert nnlite.zeros(2, 3).tolist() == [[0.0] * 3] * 2
    assert nnlite.zeros((2, 3)).shape == (2, 3)
    assert nnlite.ones([4]).tolist() == [1.0] * 4
    assert nnlite.empty(3, dtype=nnlite.float64).dtype == nnlite.float64
    assert nnlite.full((2,), 1.5).tolist() == [1.5, 1.5]
    assert nnlite.full((2,), 3).dtype == nnlite.int64
    x = nnlite.ones(2, 2, dtype=nnlite.float64)
    assert nnlite.zeros_like(x).dtype == nnlite.float64 and nnlite.ones_like(x).tolist() == [[1.0, 1.0]] * 2
    assert nnlite.arange(4).tolist() == [0, 1, 2, 3] and nnlite.arange(4).dtype == nnlite.int64
    assert nnlite.arange(0, 1, 0.5).tolist() == [0.0, 0.5]
    assert nnlite.zeros(2, requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="sequence of integers"):
        nnlite.zeros(2.5)


def test_manual_seed_reproducible():
    nnlite.manual_seed(123)
    a, b = nnlite.randn(5), nnlite.rand(5, dtype=nnlite.float64)
    nnlite.manual_seed(123)
    assert nnlite.randn(5).tolist() == a.tolist()
    assert nnlite.rand(5, dtype=nnlite.float64).tolist() == b.tolist()
    assert b.dtype == nnlite.float64 and a.dtype == nnlite.float32
    assert ((b.numpy() >= 0) & (b.numpy() < 1)).all()
    state = numpy.random.get_state()[1][:4].tolist()
    nnlite.manual_seed(5)
    assert numpy.random.get_state()[1][:4].tolist() == state  # numpy's global state untouched


# -- properties ------------------------------------------------------------------------------------------
def test_properties():
    t = nnlite.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, nnlite.Size)
    assert repr(t.shape) == "nnlite.Size([2, 3, 4])"
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.ndim == 3 and t.dim() == 3 and t.numel() == 24
    assert t.device == nnlite.device("cpu")
    assert t.is_leaf and t.grad is None and t.grad_fn is None and not t.requires_grad
    assert nnlite.tensor([[2.5]]).item() == 2.5
    assert nnlite.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"):
        nnlite.zeros(2).item()
    with pytest.raises(IndexError, match="Dimension out of range"):
        t.size(3)
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(nnlite.tensor(1.0))
    assert len(t) == 2 and [r.shape for r in t] == [(3, 4), (3, 4)]
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(nnlite.zeros(2))


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        nnlite.tensor([1, 2], requires_grad=True)
    x = nnlite.ones(2, requires_grad=True)
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None and y.grad_fn.name() == "MulBackward"
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
        y.requires_grad = False
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor"):
        x.grad = [1, 2]
    with pytest.raises(RuntimeError, match="different size"):
        x.grad = nnlite.ones(3)
    with pytest.raises(RuntimeError, match="different type"):
        x.grad = nnlite.ones(2, dtype=nnlite.float64)
    x.grad = nnlite.ones(2)
    assert x.grad.tolist() == [1.0, 1.0]


# -- numpy interop ---------------------------------------------------------------------------------------
def test_numpy_zero_copy_and_array_protocol():
    t = nnlite.arange(6.0).reshape(2, 3)
    a = t.numpy()
    a[0, 0] = 42
    assert t[0, 0].item() == 42
    assert numpy.asarray(t) is a or numpy.shares_memory(numpy.asarray(t), a)
    assert numpy.asarray(t, dtype=numpy.float64).dtype == numpy.float64
    p = nnlite.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach\\(\\).numpy\\(\\)"):
        p.numpy()
    assert p.detach().numpy().tolist() == [1.0, 1.0]
    with pytest.raises(AttributeError, match="non-CUDA"):
        t.__cuda_array_interface__
    assert t.__dlpack_device__()[0] == 1  # kDLCPU
    back = numpy.from_dlpack(t)
    assert numpy.shares_memory(back, a)


def test_gpu_calls_raise_clear_error_without_cupy():
    if nnlite.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match=r"pip install nnlite\[cuda12\]|no usable CUDA GPU"):
        nnlite.zeros(2).cuda()
    with pytest.raises(RuntimeError, match=r"CuPy|GPU"):
        nnlite.zeros(2, device="cuda")
    assert nnlite.cuda.device_count() == 0


# -- in place ----------------------------------------------------------------------------------------------
def test_inplace_on_leaf_requires_no_grad():
    w = nnlite.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        w.add_(1)
    assert w.tolist() == [1.0, 1.0, 1.0]  # nothing written
    with nnlite.no_grad():
        w.add_(1).mul_(3)
        assert w.tolist() == [6.0, 6.0, 6.0]
        w.fill_(2)
        assert w.tolist() == [2.0] * 3
        w.zero_()
        assert w.tolist() == [0.0] * 3
        w.copy_(numpy.array([1.0, 2.0, 3.0]))
        assert w.tolist() == [1.0, 2.0, 3.0] and w.dtype == nnlite.float32
        w.normal_(0, 1)
        w.uniform_(-1, 1)
        assert w.abs().max().item() <= 1
    assert w.requires_grad and w.is_leaf


def test_inplace_on_plain_tensor_and_type_errors():
    t = nnlite.zeros(2)
    t.add_(nnlite.ones(2), alpha=2)
    assert t.tolist() == [2.0, 2.0]
    i = nnlite.zeros(2, dtype=nnlite.int64)
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.add_(1.5)
    assert i.tolist() == [0, 0]
    with pytest.raises(RuntimeError, match="must match the size"):
        t.copy_(nnlite.ones(3))


def test_inplace_on_non_leaf_is_recorded():
    x = nnlite.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y.mul_(3).add_(1)
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_modified_saved_tensor_is_detected():
    x = nnlite.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = y * y
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_setitem():
    t = nnlite.zeros(3)
    t[1] = 5
    assert t.tolist() == [0.0, 5.0, 0.0]
    x = nnlite.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = nnlite.tensor(10.0, requires_grad=True)
    y = x * 2
    y[0] = v
    (y * nnlite.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [0.0, 4.0, 6.0] and v.grad.item() == 1.0


# -- moving, casting, copying ---------------------------------------------------------------------------------
def test_to_and_casts():
    t = nnlite.ones(2)
    assert t.to(nnlite.float32) is t and t.cpu() is t and t.to("cpu") is t
    d = t.double()
    assert d.dtype == nnlite.float64 and t.dtype == nnlite.float32
    assert t.to(nnlite.zeros(1, dtype=nnlite.float64)).dtype == nnlite.float64
    assert t.to("cpu", nnlite.float64).dtype == nnlite.float64
    assert t.type() == "nnlite.float32" and t.type(nnlite.int64).dtype == nnlite.int64
    x = nnlite.ones(2, requires_grad=True)
    x.double().sum().backward()
    assert x.grad.dtype == nnlite.float32 and x.grad.tolist() == [1.0, 1.0]


def test_detach_clone_and_pickle():
    x = nnlite.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and numpy.shares_memory(d.numpy(), x.detach().numpy())
    c = x.clone()
    assert c.grad_fn is not None and not numpy.shares_memory(c.detach().numpy(), x.detach().numpy())
    y = x * 2
    y.detach_()
    assert y.is_leaf and not y.requires_grad
    z = pickle.loads(pickle.dumps(x))
    assert z.tolist() == [1.0, 2.0] and z.requires_grad and z is not x
    w = copy.deepcopy(x)
    assert w.tolist() == [1.0, 2.0] and w.requires_grad and not numpy.shares_memory(w.detach().numpy(),
                                                                                      x.detach().numpy())


def test_views_share_memory():
    t = nnlite.arange(6.0)
    v = t.view(2, 3)
    r = t.reshape(3, 2)
    tr = v.transpose(0, 1)
    t[0] = 9
    assert v[0, 0].item() == 9 and r[0, 0].item() == 9 and tr[0, 0].item() == 9
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        tr.view(6)
    assert tr.reshape(6).tolist() == [9.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    with pytest.raises(RuntimeError, match="shape '\\[4, -1\\]' is invalid for input of size 6"):
        t.view(4, -1)


def test_comparisons_and_arg_reductions():
    a = nnlite.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    assert (a > 2.5).tolist() == [[False, True, True], [True, False, True]]
    assert (a == a).all().item()
    assert (a != 1.0).tolist() == [[False, True, True], [True, True, True]]
    assert (a <= nnlite.tensor([4.0, 2.0, 3.0])).tolist() == [[True, False, True], [True, True, False]]
    assert a.argmax().item() == 5 and a.argmin().item() == 0
    assert a.argmax(dim=1).tolist() == [1, 2] and a.argmin(0, keepdim=True).tolist() == [[0, 1, 0]]
    assert a.argmax(1).dtype == nnlite.int64
    r = a.max(dim=1)
    assert r.values.tolist() == [5.0, 6.0] and r.indices.tolist() == [1, 2]
    v, i = a.min(0)
    assert v.tolist() == [1.0, 2.0, 3.0] and i.tolist() == [0, 1, 0]
    assert a.max().item() == 6.0
    assert {a, a} == {a}  # hashable by identity


def test_repr():
    assert repr(nnlite.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(nnlite.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(nnlite.tensor([1], dtype=nnlite.int32)) == "tensor([1], dtype=nnlite.int32)"
    x = nnlite.tensor([1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward>)"


def test_import_is_light():
    code = ("import sys, nnlite; bad = [m for m in ('cupy', 'torch', 'pytest', 'hypothesis', 'scipy') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_import_loads_numpy_random_and_multiprocessing_on_first_use_only():
    code = ("import sys, nnlite; before = [m for m in ('numpy.random', 'multiprocessing') if m in sys.modules]; "
            "g = nnlite.Generator().manual_seed(1); print(before, 'numpy.random' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True"


def test_host_helper_round_trip():
    assert host(nnlite.tensor([1.0, 2.0], requires_grad=True)).tolist() == [1.0, 2.0]
