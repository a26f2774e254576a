"""nnlite.models: parameter counts and outputs against PyTorch definitions of the reference architectures."""
import warnings

import numpy
import pytest

import nnlite
from nnlite.models import FCN, InceptionTime, ResNet


def _count(model):
    return sum(int(numpy.prod(p.shape)) for p in model.parameters())


# The counts of the reference Keras models' trainable weights (Keras' "Trainable params"), worked out by
# hand from the layer shapes: conv k*c_in*c_out (+c_out bias), BatchNorm 2*c, Dense c*n+n.
def _fcn_count(c, n):
    return (8 * c * 128 + 128) + 256 + (5 * 128 * 256 + 256) + 512 + (3 * 256 * 128 + 128) + 256 + 128 * n + n


@pytest.mark.parametrize("c, n", [(1, 2), (6, 4), (3, 7)])
def test_fcn_count_by_hand(c, n):
    assert _count(FCN(c, n)) == _fcn_count(c, n)


def test_inception_count_by_hand():
    # one channel: no bottleneck in module 0; 3 wide convs on 1 channel + pool conv; then 5 modules with it
    first = 32 * (40 + 20 + 10) * 1 + 32 * 1 + 256
    later = 128 * 32 + 32 * 32 * 70 + 128 * 32 + 256
    shortcuts = (1 * 128 + 256) + (128 * 128 + 256)
    assert _count(InceptionTime(1, 2)) == first + 5 * later + shortcuts + 128 * 2 + 2


@pytest.fixture
def torch_models():
    pytest.importorskip("torch")
    import torch_models as tm
    return tm


CASES = [
    ("fcn", lambda c, n: FCN(c, n), "torch_fcn"),
    ("resnet", lambda c, n: ResNet(c, n), "TorchResNet"),
    ("inception", lambda c, n: InceptionTime(c, n), "TorchInceptionTime"),
    ("inception-small", lambda c, n: InceptionTime(c, n, depth=4, n_filters=8, bottleneck=4, kernel_sizes=(9, 4)),
     lambda tm, c, n: tm.TorchInceptionTime(c, n, depth=4, nf=8, bottleneck=4, kernels=(9, 4))),
]


def _torch_twin(tm, spec, c, n):
    return getattr(tm, spec)(c, n) if isinstance(spec, str) else spec(tm, c, n)


@pytest.mark.parametrize("name, make, spec", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("c, n", [(1, 2), (6, 4), (64, 3)])
def test_parameter_count_matches_pytorch(torch_models, name, make, spec, c, n):
    nnlite.manual_seed(0)
    ours, theirs = make(c, n), _torch_twin(torch_models, spec, c, n)
    assert _count(ours) == sum(p.numel() for p in theirs.parameters())
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]


@pytest.mark.parametrize("name, make, spec", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("c, length", [(1, 23), (3, 16)])
def test_outputs_match_pytorch_from_the_same_weights(torch_models, name, make, spec, c, length):
    import torch
    nnlite.manual_seed(1)
    ours = make(c, 3)
    theirs = torch_models.copy_weights(ours, _torch_twin(torch_models, spec, c, 3))
    x = numpy.random.default_rng(2).standard_normal((4, c, length)).astype(numpy.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")
        for train in (True, False):  # batch statistics, then the running statistics the first pass updated
            ours.train(train)
            theirs.train(train)
            got = ours(x)
            want = theirs(torch.from_numpy(x))
            assert tuple(got.shape) == tuple(want.shape) == (4, 3)
            assert got.dtype == nnlite.float32
            numpy.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("make", [FCN, ResNet, InceptionTime])
def test_gradients_reach_every_parameter(make):
    nnlite.manual_seed(3)
    net = make(2, 3)
    x = numpy.random.default_rng(4).standard_normal((3, 2, 12)).astype(numpy.float32)
    net(x).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert p.grad.shape == p.shape


def test_inception_bottleneck_skipped_for_one_channel_only():
    one, many = InceptionTime(1, 2), InceptionTime(2, 2)
    assert one.blocks[0].bottleneck is None and one.blocks[1].bottleneck is not None
    assert many.blocks[0].bottleneck is not None
    assert InceptionTime(2, 2, bottleneck=None).blocks[0].bottleneck is None
    assert all(m.bias is None for m in one.modules() if isinstance(m, nnlite.nn.Conv1d))
    assert len(InceptionTime(1, 2, depth=7).shortcuts) == 2


def test_resnet_shortcuts():
    net = ResNet(64, 2)
    assert isinstance(net.blocks[0].shortcut, nnlite.nn.Sequential)  # the reference projects even at 64 -> 64
    assert isinstance(net.blocks[1].shortcut, nnlite.nn.Sequential)
    assert isinstance(net.blocks[2].shortcut, nnlite.nn.BatchNorm1d)
