"""nnlite.nn.init: gains and bounds as PyTorch computes them, in-place fills, seeding, errors."""
import math

import numpy
import pytest

import nnlite
from nnlite.nn import init


@pytest.mark.parametrize("name, param, gain", [
    ("linear", None, 1), ("conv1d", None, 1), ("conv_transpose1d", None, 1), ("sigmoid", None, 1),
    ("tanh", None, 5.0 / 3), ("relu", None, math.sqrt(2.0)), ("selu", None, 0.75),
    ("leaky_relu", None, math.sqrt(2.0 / (1 + 0.01 ** 2))), ("leaky_relu", 0.2, math.sqrt(2.0 / 1.04)),
    ("leaky_relu", math.sqrt(5), math.sqrt(1.0 / 3)),
])
def test_calculate_gain(name, param, gain):
    assert init.calculate_gain(name, param) == pytest.approx(gain, rel=1e-15)


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name, param in [("linear", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                        ("leaky_relu", 0.3), ("selu", None), ("sigmoid", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_fills_in_place():
    w = nnlite.empty(3, 4)
    assert init.constant_(w, 2.5) is w and (w.numpy() == 2.5).all()
    assert init.zeros_(w) is w and (w.numpy() == 0).all()
    assert init.ones_(w) is w and (w.numpy() == 1).all()
    assert init.uniform_(w, -2.0, -1.0) is w
    assert ((w.numpy() >= -2.0) & (w.numpy() < -1.0)).all()


@pytest.mark.parametrize("fn, bound", [
    # (out, in, k) = (64, 32, 5): fan_in 160, fan_out 320
    (lambda w: init.xavier_uniform_(w, gain=2.0), 2.0 * math.sqrt(6.0 / 480)),
    (lambda w: init.kaiming_uniform_(w, a=math.sqrt(5)), math.sqrt(3.0) * math.sqrt(1 / 3) / math.sqrt(160)),
    (lambda w: init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu"), math.sqrt(6.0 / 320)),
])
def test_uniform_bounds_are_reached_not_exceeded(fn, bound):
    nnlite.manual_seed(0)
    w = fn(nnlite.empty(64, 32, 5)).numpy()
    assert numpy.abs(w).max() <= bound
    assert numpy.abs(w).max() > 0.99 * bound          # 10240 draws come close to the edge
    assert abs(w.std() - bound / math.sqrt(3)) < 0.03 * bound


@pytest.mark.parametrize("fn, std", [
    (lambda w: init.xavier_normal_(w), math.sqrt(2.0 / 480)),
    (lambda w: init.kaiming_normal_(w, nonlinearity="relu"), math.sqrt(2.0 / 160)),
    (lambda w: init.normal_(w, 3.0, 0.5), 0.5),
])
def test_normal_standard_deviations(fn, std):
    nnlite.manual_seed(1)
    w = fn(nnlite.empty(64, 32, 5)).numpy()
    assert abs(w.std() - std) < 0.03 * std
    assert abs(w.mean() - (3.0 if std == 0.5 else 0.0)) < 0.05 * std


def test_seeded_and_generator():
    nnlite.manual_seed(7)
    a = init.kaiming_uniform_(nnlite.empty(8, 4)).numpy().copy()
    nnlite.manual_seed(7)
    b = init.kaiming_uniform_(nnlite.empty(8, 4)).numpy()
    assert (a == b).all()


def test_fan_errors_and_empty_tensors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(nnlite.empty(5))
    with pytest.raises(ValueError, match="Mode fan_sideways not supported"):
        init.kaiming_normal_(nnlite.empty(3, 3), mode="fan_sideways")
    e = nnlite.empty(0, 3)
    assert init.kaiming_uniform_(e) is e and init.kaiming_normal_(e) is e


def test_init_does_not_record_gradients():
    w = nnlite.nn.Parameter(nnlite.empty(4, 4))
    init.xavier_uniform_(w)
    assert w.grad_fn is None and w.requires_grad
