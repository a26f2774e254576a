"""receptive_field: the window of each layer and of compositions, checked against brute force; the errors."""
from collections import OrderedDict

import numpy
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import nnlite
from nnlite import nn
from nnlite.nn.utils import ReceptiveField, receptive_field

C = 2


def _dependencies(net, length):
    """deps[j] = the input positions whose change changes output j (one perturbed sample per position).

    Weights and biases are positive and the input is positive, so every layer is strictly increasing in
    each input it reads (max pooling too, for a perturbation far above every other value): a position
    is found exactly when the output reads it."""
    rng = numpy.random.default_rng(0)
    for p in net.parameters():
        p.data = nnlite.tensor(rng.uniform(0.5, 1.5, p.shape))
    base = rng.uniform(0, 1, (1, C, length))
    batch = numpy.repeat(base, length + 1, axis=0)
    idx = numpy.arange(length)
    batch[idx + 1, :, idx] += 1e3
    with nnlite.no_grad():
        y = net(batch).numpy()
    changed = (y[1:] != y[:1]).any(axis=1)          # (position, output)
    return [numpy.flatnonzero(changed[:, j]) for j in range(y.shape[-1])]


def _conv(draw):
    k = draw(st.integers(1, 5))
    dilation = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    padding = draw(st.one_of(st.integers(0, 4), st.just("valid"), st.just("same")))
    if padding == "same":
        stride = 1
    groups = draw(st.sampled_from([1, C]))
    return nn.Conv1d(C, C, k, stride=stride, padding=padding, dilation=dilation, groups=groups,
                     padding_mode=mode, dtype=nnlite.float64)


def _pool(draw):
    k = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    padding = draw(st.integers(0, k // 2))
    ceil = draw(st.booleans())
    if draw(st.booleans()):
        return nn.MaxPool1d(k, stride, padding, dilation=draw(st.integers(1, 2)), ceil_mode=ceil)
    return nn.AvgPool1d(k, stride, padding, ceil_mode=ceil, count_include_pad=draw(st.booleans()))


@st.composite
def _nets(draw):
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "relu", "nested"]))
        if kind == "conv":
            layers.append(_conv(draw))
        elif kind == "pool":
            layers.append(_pool(draw))
        elif kind == "relu":
            layers.append(nn.ReLU())
        else:
            layers.append(nn.Sequential(_conv(draw), nn.Identity(), _pool(draw)))
    return nn.Sequential(*layers)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(_nets(), st.integers(1, 3))
def test_window_matches_brute_force(net, extra):
    left, right, stride = receptive_field(net)
    length = left + right + 1 + extra * stride + 8
    try:
        deps = _dependencies(net, length)
    except (RuntimeError, ValueError):
        assume(False)  # too short for some layer's padding (reflect needs padding < length)
    zero_padded = all(getattr(m, "padding_mode", "zeros") == "zeros" for m in net.modules())
    interior = 0
    for j, d in enumerate(deps):
        lo, hi = j * stride - left, j * stride + right
        if lo >= 0 and hi < length:
            interior += 1
            assert (d.min(), d.max()) == (lo, hi), (j, d)   # exact, inside the signal
        elif zero_padded and len(d):
            assert lo <= d.min() and d.max() <= hi, (j, d)   # at the edges, a part of the window
    assert interior >= 1


@pytest.mark.parametrize("layer, window", [
    (nn.Conv1d(2, 2, 3), (0, 2, 1)),
    (nn.Conv1d(2, 2, 3, padding=1), (1, 1, 1)),
    (nn.Conv1d(2, 2, 4, padding="same", dilation=3), (4, 5, 1)),
    (nn.Conv1d(2, 2, 4, padding="valid", stride=2), (0, 3, 2)),
    (nn.Conv1d(2, 2, 1, padding=2, padding_mode="reflect"), (2, -2, 1)),
    (nn.Conv1d(4, 4, 5, groups=4, stride=3, dilation=2, padding=(3,)), (3, 5, 3)),
    (nn.MaxPool1d(3), (0, 2, 3)),
    (nn.MaxPool1d((4,), stride=(2,), padding=(2,), dilation=(2,), ceil_mode=True), (2, 4, 2)),
    (nn.AvgPool1d(3, stride=1, padding=1, count_include_pad=False), (1, 1, 1)),
    (nn.BatchNorm1d(2).eval(), (0, 0, 1)),
    (nn.Dropout(0.3), (0, 0, 1)),
    (nn.Softmax(dim=1), (0, 0, 1)),
    (nn.LogSoftmax(dim=-2), (0, 0, 1)),
    (nn.Sequential(), (0, 0, 1)),
    (nn.Sequential(nn.Conv1d(1, 1, 3, stride=2), nn.Sequential(nn.GELU(), nn.Conv1d(1, 1, 5, padding=1))),
     (2, 8, 2)),
])
def test_known_windows(layer, window):
    rf = receptive_field(layer)
    assert isinstance(rf, ReceptiveField) and rf == window
    assert (rf.left, rf.right, rf.stride) == window


class _Shift(nn.Module):
    """Output j is input j - 3: a module that states its own window."""

    def forward(self, x):
        return nnlite.nn.functional.pad(x, [3, 0])[..., :-3]

    def receptive_field(self):
        return (3, -3, 1)


def test_own_method_is_used_inside_sequential():
    assert receptive_field(nn.Sequential(nn.Conv1d(1, 1, 3, stride=2), _Shift())) == (6, -4, 2)


class _Bad(nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def receptive_field(self):
        return self.value


@pytest.mark.parametrize("value", [(1, 2), (0, 0, 0), (1.0, 0, 1), (-3, 1, 1), (0, 0, True), "abc"])
def test_own_method_bad_value(value):
    with pytest.raises(ValueError, match=r"layer 'b' \(_Bad\(\)\)\.receptive_field\(\) must return three ints"):
        receptive_field(nn.Sequential(OrderedDict(a=nn.ReLU(), b=_Bad(value))))


class _MyConv(nn.Conv1d):
    def forward(self, x):
        return super().forward(x).flip(-1)


class _Unknown(nn.Module):
    def forward(self, x):
        return x


class _MySequential(nn.Sequential):
    def forward(self, x):
        return x


@pytest.mark.parametrize("layer, text", [
    (nn.AdaptiveAvgPool1d(1), r"AdaptiveAvgPool1d\(output_size=1\)\) is not known to be local"),
    (nn.AdaptiveMaxPool1d(4), r"AdaptiveMaxPool1d\(output_size=4\)\) is not known to be local"),
    (nn.Flatten(), r"Flatten\(.*\)\) is not known to be local"),
    (nn.Linear(8, 2), r"Linear\(in_features=8.*\)\) is not known to be local"),
    (nn.LayerNorm(8), r"LayerNorm\(.*\)\) is not known to be local"),
    (nn.GroupNorm(1, 2), r"GroupNorm\(1, 2.*\)\) is not known to be local"),
    (nn.ConvTranspose1d(2, 2, 3), r"ConvTranspose1d\(2, 2.*\)\) is not known to be local"),
    (nn.BatchNorm1d(2), r"BatchNorm1d\(2.*\)\) is not local along the length: in training mode"),
    (nn.BatchNorm1d(2, track_running_stats=False).eval(), r"BatchNorm1d\(2.*without running statistics"),
    (nn.Softmax(dim=-1), r"Softmax\(dim=-1\)\) is not local along the length: dim=-1 is not the channel"),
    (nn.Softmax(dim=0), r"Softmax\(dim=0\)\) is not local along the length: dim=0 is not the channel "
                        r"dimension of a 3-D input \(only dim=1 or dim=-2"),
    (nn.LogSoftmax(dim=0), r"LogSoftmax\(dim=0\)\) is not local along the length: dim=0"),
    (nn.Softmax(), r"Softmax\(dim=None\)\) is not local"),
    (_MyConv(2, 2, 3), r"_MyConv\(2, 2, kernel_size=\(3,\), stride=\(1,\)\)\) is not known to be local"),
    (_Unknown(), r"_Unknown\(\)\) is not known to be local"),
    (_MySequential(nn.ReLU()), r"_MySequential\) is not known to be local"),
])
def test_errors_name_the_layer(layer, text):
    net = nn.Sequential(nn.Conv1d(2, 2, 1), nn.Sequential(nn.ReLU(), layer))
    with pytest.raises(ValueError, match=r"^receptive_field: layer '1\.1' \(" + text):
        receptive_field(net)
    with pytest.raises(ValueError, match=r"^receptive_field: the model \("):
        receptive_field(layer)


def test_unbatched_input():
    assert receptive_field(nn.Softmax(dim=0), ndim=2) == (0, 0, 1)
    assert receptive_field(nn.Softmax(dim=-2), ndim=2) == (0, 0, 1)
    with pytest.raises(ValueError, match=r"Softmax\(dim=1\)\) is not local .* of a 2-D input \(only dim=0 or"):
        receptive_field(nn.Softmax(dim=1), ndim=2)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(2.*it reads a 2-D input as \(N, C\)"):
        receptive_field(nn.BatchNorm1d(2).eval(), ndim=2)
    with pytest.raises(ValueError, match="3 for \\(N, C, L\\) or 2 for \\(C, L\\), but got 4"):
        receptive_field(nn.ReLU(), ndim=4)
