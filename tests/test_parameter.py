"""nnlite.nn.Parameter and nnlite.nn.Buffer."""
import copy
import pickle

import numpy
import pytest

import nnlite
from nnlite import nn


def test_default_is_empty_float_of_default_dtype():
    p = nn.Parameter()
    assert p.shape == (0,) and p.dtype == nnlite.get_default_dtype() and p.requires_grad
    nnlite.set_default_dtype(nnlite.float64)
    try:
        assert nn.Parameter().dtype == nnlite.float64
    finally:
        nnlite.set_default_dtype(nnlite.float32)


def test_wraps_tensor_without_copy():
    t = nnlite.zeros(3)
    p = nn.Parameter(t)
    assert p._data is t._data
    with nnlite.no_grad():
        p[0] = 5.0
    assert t.tolist() == [5.0, 0.0, 0.0]
    assert t._vc is p._vc  # the same array has one version counter


def test_wraps_numpy_array_without_copy():
    a = numpy.ones(4, dtype=numpy.float32)
    p = nn.Parameter(a)
    assert p._data is a
    assert type(p) is nn.Parameter and isinstance(p, nnlite.Tensor)


def test_rejects_other_data():
    with pytest.raises(TypeError, match="must be a Tensor or an array, not list"):
        nn.Parameter([1.0, 2.0])


def test_requires_grad_kept_inside_no_grad():
    with nnlite.no_grad():
        p = nn.Parameter(nnlite.zeros(2))
        q = nn.Parameter(nnlite.zeros(2), requires_grad=False)
    assert p.requires_grad is True and q.requires_grad is False
    assert p.is_leaf and p.grad_fn is None


def test_integer_parameter_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(nnlite.tensor([1, 2]))
    assert nn.Parameter(nnlite.tensor([1, 2]), requires_grad=False).dtype == nnlite.int64


def test_repr():
    p = nn.Parameter(nnlite.tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    q = nn.Parameter(nnlite.zeros(2), requires_grad=False)
    assert repr(q) == "Parameter containing:\ntensor([0., 0.])"


def test_ops_on_parameter_give_tensors():
    p = nn.Parameter(nnlite.ones(2))
    out = p * 2
    assert type(out) is nnlite.Tensor and out.grad_fn is not None
    assert type(p.detach()) is nnlite.Tensor


@pytest.mark.parametrize("requires_grad", [True, False])
def test_deepcopy_keeps_type_values_and_flag(requires_grad):
    p = nn.Parameter(nnlite.tensor([1.0, 2.0]), requires_grad=requires_grad)
    p.extra = "kept"
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad is requires_grad
    assert q.tolist() == [1.0, 2.0] and q._data is not p._data
    assert q.extra == "kept"


@pytest.mark.parametrize("requires_grad", [True, False])
def test_pickle_keeps_type_values_and_flag(requires_grad):
    p = nn.Parameter(nnlite.tensor([[1.0], [3.0]], dtype=nnlite.float64), requires_grad=requires_grad)
    q = pickle.loads(pickle.dumps(p))
    assert type(q) is nn.Parameter and q.requires_grad is requires_grad
    assert q.dtype == nnlite.float64 and q.tolist() == [[1.0], [3.0]]


def test_grad_survives_deepcopy():
    p = nn.Parameter(nnlite.ones(2))
    (p * p).sum().backward()
    q = copy.deepcopy(p)
    assert q.grad.tolist() == [2.0, 2.0] and q.grad is not p.grad


def test_buffer_shares_and_is_persistent_by_default():
    t = nnlite.zeros(2)
    b = nn.Buffer(t)
    assert b._data is t._data and b.persistent is True and not b.requires_grad
    assert nn.Buffer(t, persistent=False).persistent is False
    assert nn.Buffer().shape == (0,)
    with pytest.raises(TypeError, match="not int"):
        nn.Buffer(3)


def test_buffer_pickles_with_its_flag():
    b = pickle.loads(pickle.dumps(nn.Buffer(nnlite.ones(1), persistent=False)))
    assert type(b) is nn.Buffer and b.persistent is False and b.tolist() == [1.0]
