"""nnlite.nn.utils.fusion: BatchNorm1d folded into Conv1d, and the zoo's eval path that uses it."""
import numpy
import pytest

import nnlite
from nnlite import nn
from nnlite.models import FCN, InceptionTime, ResNet
from nnlite.nn.utils.fusion import fuse_conv_bn_eval, fuse_conv_bn_weights


def _with_stats(net, x, steps=3):
    """``net`` after a few train-mode forwards (non-trivial running statistics), in eval mode."""
    net.train()
    with nnlite.no_grad():
        for _ in range(steps):
            net(x)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm1d):   # non-trivial affine too
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return net.eval()


def _x(shape, seed=0):
    return numpy.random.default_rng(seed).standard_normal(shape).astype(numpy.float32)


def test_fuse_conv_bn_eval_matches_the_two_layers():
    nnlite.manual_seed(0)
    conv, bn = nn.Conv1d(3, 5, 4, padding="same"), nn.BatchNorm1d(5)
    x = _x((4, 3, 17))
    seq = _with_stats(nn.Sequential(conv, bn), x)
    fused = fuse_conv_bn_eval(conv, bn)
    with nnlite.no_grad():
        ref, got = seq(x).numpy(), fused(x).numpy()
    numpy.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    assert fused.weight is not conv.weight and fused.padding == conv.padding
    assert not numpy.array_equal(fused.weight.detach().numpy(), conv.weight.detach().numpy())  # conv untouched


def test_fuse_conv_bn_eval_errors():
    conv, bn = nn.Conv1d(2, 2, 3), nn.BatchNorm1d(2)
    with pytest.raises(RuntimeError, match="eval mode"):
        fuse_conv_bn_eval(conv, bn)
    with pytest.raises(RuntimeError, match="running statistics"):
        fuse_conv_bn_eval(conv.eval(), nn.BatchNorm1d(2, track_running_stats=False).eval())


@pytest.mark.parametrize("bias, affine", [(True, True), (False, True), (True, False), (False, False)])
def test_fuse_conv_bn_weights_against_pytorch(bias, affine):
    torch = pytest.importorskip("torch")
    from torch.nn.utils.fusion import fuse_conv_bn_weights as torch_fuse
    rng = numpy.random.default_rng(1)
    w, b = rng.standard_normal((6, 2, 3)), rng.standard_normal(6)
    rm, rv = rng.standard_normal(6), rng.uniform(0.1, 2.0, 6)
    g, beta = rng.uniform(0.5, 1.5, 6), rng.standard_normal(6)
    mine = fuse_conv_bn_weights(nnlite.tensor(w), nnlite.tensor(b) if bias else None, nnlite.tensor(rm),
                                nnlite.tensor(rv), 1e-5, nnlite.tensor(g) if affine else None,
                                nnlite.tensor(beta) if affine else None)
    theirs = torch_fuse(torch.tensor(w), torch.tensor(b) if bias else None, torch.tensor(rm), torch.tensor(rv),
                        1e-5, torch.tensor(g) if affine else None, torch.tensor(beta) if affine else None)
    for a, t in zip(mine, theirs):
        assert isinstance(a, nn.Parameter)
        numpy.testing.assert_allclose(a.numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make, shape", [
    (lambda: FCN(2, 3, filters=(8, 16, 8)), (5, 2, 31)),
    (lambda: ResNet(2, 3, filters=(8, 16, 16)), (5, 2, 31)),
    (lambda: InceptionTime(2, 3, depth=3, n_filters=4, bottleneck=4, kernel_sizes=(9, 5, 3)), (5, 2, 31)),
    (lambda: InceptionTime(1, 3, depth=6, n_filters=4, bottleneck=4, kernel_sizes=(9, 5, 3)), (5, 1, 31)),
])
def test_zoo_eval_without_grad_is_folded(make, shape):
    """In eval mode without a gradient the zoo runs folded: within float rounding of the unfused
    layers (the same net with a gradient recorded), deterministic, and, for FCN, bitwise the
    layers fuse_conv_bn_eval makes."""
    nnlite.manual_seed(0)
    x = _x(shape)
    net = _with_stats(make(), x)
    with nnlite.no_grad():
        folded = net(x).numpy()
        again = net(x).numpy()
    unfolded = net(x).detach().numpy()
    assert numpy.array_equal(folded, again)
    numpy.testing.assert_allclose(folded, unfolded, rtol=1e-4, atol=1e-4)
    if isinstance(net, FCN):
        layers = []
        for i in range(0, 9, 3):
            layers += [fuse_conv_bn_eval(net[i], net[i + 1]), nn.ReLU()]
        manual = nn.Sequential(*layers, *list(net)[9:]).eval()
        with nnlite.no_grad():
            assert numpy.array_equal(manual(x).numpy(), folded)


def test_hooks_and_training_see_the_unfused_layers():
    nnlite.manual_seed(0)
    x = _x((4, 1, 20))
    net = _with_stats(ResNet(1, 2, filters=(4, 8, 8)), x)
    seen = []
    net.blocks[0].bn1.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    with nnlite.no_grad():
        net(x)
    assert seen == [(4, 4, 20)]          # the hooked norm ran as a module
    net.train()
    y = net(x)
    assert y.requires_grad and len(seen) == 2


def test_fcn_with_a_replaced_layer_runs_it():
    """FCN's folded forward takes only exact Conv1d, BatchNorm1d, ReLU runs: a layer swapped in runs as is."""
    nnlite.manual_seed(0)
    x = _x((3, 1, 16))
    net = _with_stats(FCN(1, 2, filters=(4, 4, 4)), x)
    net[2] = nn.Tanh()
    with nnlite.no_grad():
        got = net(x).numpy()
    ref = net(x).detach().numpy()
    numpy.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    h = net[0](x)
    assert float(nnlite.tanh(net[1](h)).min()) < 0    # the Tanh's negative values reach the next layer
