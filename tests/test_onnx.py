"""nnlite.onnx.export against the real onnx checker and onnxruntime: every layer, the tensor ops, three
networks with a dynamic batch, the opsets, and the errors."""
import io
import subprocess
import sys

import numpy
import pytest

import nnlite
import nnlite.nn as nn
import nnlite.nn.functional as F

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
import nnlite.onnx  # noqa: E402
from nnlite.onnx import UnsupportedOperatorError  # noqa: E402

RTOL = 1e-5
# a constant that no recorded op produced would make a silently wrong graph: fail on that warning here
pytestmark = pytest.mark.filterwarnings("error:nnlite.onnx.export")


def _export(model, x, **kw):
    buf = io.BytesIO()
    kw.setdefault("dynamic_axes", {"input": [0], "output": [0]})
    proto = nnlite.onnx.export(model, x, buf, **kw)
    onnx.checker.check_model(proto, full_check=True)
    return proto, ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])


def _check(model, shape, run_batch=5, trace_batch=3, atol=1e-6, seed=0, **kw):
    """Export with ``trace_batch``, run onnxruntime with ``run_batch``; compare with nnlite (float32)."""
    rng = numpy.random.default_rng(seed)
    model.eval()
    x_trace = rng.standard_normal((trace_batch,) + shape).astype(numpy.float32)
    x_run = rng.standard_normal((run_batch,) + shape).astype(numpy.float32)
    proto, sess = _export(model, nnlite.tensor(x_trace), **kw)
    (got,) = sess.run(None, {"input": x_run})
    with nnlite.no_grad():
        want = model(nnlite.tensor(x_run)).numpy()
    assert got.shape == want.shape and got.dtype == want.dtype == numpy.float32
    numpy.testing.assert_allclose(got, want, rtol=RTOL, atol=atol)
    return proto


def _randomize_bn(m, seed=1):
    rng = numpy.random.default_rng(seed)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm1d) and mod.running_mean is not None:
            c = mod.num_features
            mod.running_mean.copy_(nnlite.tensor(rng.standard_normal(c).astype(numpy.float32)))
            mod.running_var.copy_(nnlite.tensor(rng.uniform(0.5, 2.0, c).astype(numpy.float32)))
            if mod.weight is not None:
                with nnlite.no_grad():
                    mod.weight.copy_(nnlite.tensor(rng.uniform(0.5, 1.5, c).astype(numpy.float32)))
                    mod.bias.copy_(nnlite.tensor(rng.standard_normal(c).astype(numpy.float32)))
    return m


def _randomize_affine(m, seed=2):
    """Random values for every parameter of ``m`` (InstanceNorm1d's affine, PReLU's slopes)."""
    rng = numpy.random.default_rng(seed)
    with nnlite.no_grad():
        for p in m.parameters():
            p.copy_(nnlite.tensor(rng.uniform(-0.5, 1.5, p.shape).astype(numpy.float32)))
    return m


# -- every layer kind ------------------------------------------------------------------------------------
LAYERS = {
    "conv-pad0": (lambda: nn.Conv1d(3, 4, 3), (3, 12)),
    "conv-pad2": (lambda: nn.Conv1d(3, 4, 3, padding=2), (3, 12)),
    "conv-same-odd": (lambda: nn.Conv1d(3, 4, 5, padding="same"), (3, 12)),
    "conv-same-even": (lambda: nn.Conv1d(3, 4, 4, padding="same", dilation=2), (3, 12)),
    "conv-valid": (lambda: nn.Conv1d(3, 4, 3, padding="valid"), (3, 12)),
    "conv-stride-dil": (lambda: nn.Conv1d(3, 4, 3, stride=2, dilation=2, padding=1), (3, 13)),
    "conv-groups-nobias": (lambda: nn.Conv1d(4, 6, 3, groups=2, bias=False), (4, 12)),
    "conv-reflect": (lambda: nn.Conv1d(3, 4, 5, padding=2, padding_mode="reflect"), (3, 12)),
    "conv-replicate": (lambda: nn.Conv1d(3, 4, 3, padding=3, padding_mode="replicate"), (3, 12)),
    "conv-circular": (lambda: nn.Conv1d(3, 4, 3, padding=2, padding_mode="circular"), (3, 12)),
    "conv-same-circular-even": (lambda: nn.Conv1d(3, 4, 4, padding="same", padding_mode="circular"), (3, 12)),
    "convT": (lambda: nn.ConvTranspose1d(3, 4, 3), (3, 9)),
    "convT-stride-pad-outpad": (lambda: nn.ConvTranspose1d(3, 4, 4, stride=2, padding=1, output_padding=1), (3, 9)),
    "convT-dil-groups-nobias": (lambda: nn.ConvTranspose1d(4, 6, 3, dilation=2, groups=2, bias=False), (4, 9)),
    "bn": (lambda: _randomize_bn(nn.BatchNorm1d(3)), (3, 10)),
    "bn-2d": (lambda: _randomize_bn(nn.BatchNorm1d(6)), (6,)),
    "bn-noaffine": (lambda: _randomize_bn(nn.BatchNorm1d(3, affine=False)), (3, 10)),
    "bn-batchstats": (lambda: nn.BatchNorm1d(3, track_running_stats=False), (3, 10)),
    "groupnorm-2": (lambda: nn.GroupNorm(2, 4), (4, 10)),
    "groupnorm-1": (lambda: nn.GroupNorm(1, 4), (4, 10)),
    "groupnorm-4-noaffine": (lambda: nn.GroupNorm(4, 4, affine=False), (4, 10)),
    "layernorm-last": (lambda: nn.LayerNorm(10), (3, 10)),
    "layernorm-2": (lambda: nn.LayerNorm((3, 10)), (3, 10)),
    "maxpool": (lambda: nn.MaxPool1d(3), (2, 12)),
    "maxpool-stride-pad": (lambda: nn.MaxPool1d(3, 2, 1), (2, 12)),
    "maxpool-dil": (lambda: nn.MaxPool1d(2, 1, dilation=2), (2, 12)),
    "maxpool-ceil": (lambda: nn.MaxPool1d(3, 2, ceil_mode=True), (2, 12)),
    "maxpool-ceil-pad": (lambda: nn.MaxPool1d(4, 3, 2, ceil_mode=True), (2, 11)),
    "avgpool": (lambda: nn.AvgPool1d(3), (2, 12)),
    "avgpool-pad-incl": (lambda: nn.AvgPool1d(3, 2, 1), (2, 12)),
    "avgpool-pad-excl": (lambda: nn.AvgPool1d(3, 2, 1, count_include_pad=False), (2, 12)),
    "avgpool-ceil": (lambda: nn.AvgPool1d(3, 2, ceil_mode=True), (2, 12)),
    "avgpool-ceil-pad": (lambda: nn.AvgPool1d(4, 3, 2, ceil_mode=True, count_include_pad=False), (2, 11)),
    "adaptiveavg-1": (lambda: nn.AdaptiveAvgPool1d(1), (2, 10)),
    "adaptiveavg-even": (lambda: nn.AdaptiveAvgPool1d(5), (2, 10)),
    "adaptiveavg-uneven": (lambda: nn.AdaptiveAvgPool1d(3), (2, 10)),
    "adaptivemax-1": (lambda: nn.AdaptiveMaxPool1d(1), (2, 10)),
    "adaptivemax-even": (lambda: nn.AdaptiveMaxPool1d(2), (2, 10)),
    "adaptivemax-uneven": (lambda: nn.AdaptiveMaxPool1d(4), (2, 10)),
    "relu": (lambda: nn.ReLU(), (2, 10)),
    "leakyrelu": (lambda: nn.LeakyReLU(0.2), (2, 10)),
    "gelu": (lambda: nn.GELU(), (2, 10)),
    "gelu-tanh": (lambda: nn.GELU(approximate="tanh"), (2, 10)),
    "elu": (lambda: nn.ELU(0.5), (2, 10)),
    "tanh": (lambda: nn.Tanh(), (2, 10)),
    "sigmoid": (lambda: nn.Sigmoid(), (2, 10)),
    "softmax": (lambda: nn.Softmax(dim=1), (2, 10)),
    "logsoftmax": (lambda: nn.LogSoftmax(dim=-1), (2, 10)),
    "linear-2d": (lambda: nn.Linear(6, 4), (6,)),
    "linear-3d-nobias": (lambda: nn.Linear(10, 4, bias=False), (2, 10)),
    "flatten": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(20, 3)), (2, 10)),
    "dropout": (lambda: nn.Sequential(nn.Dropout(0.5), nn.ReLU()), (2, 10)),
    "identity": (lambda: nn.Identity(), (2, 10)),
    "unflatten": (lambda: nn.Unflatten(1, (2, 3)), (6,)),
    "syncbn": (lambda: _randomize_bn(nn.SyncBatchNorm(3)), (3, 10)),
    "instancenorm": (lambda: nn.InstanceNorm1d(3), (3, 10)),
    "instancenorm-affine": (lambda: _randomize_affine(nn.InstanceNorm1d(3, affine=True)), (3, 10)),
    "instancenorm-running": (lambda: _randomize_bn(nn.InstanceNorm1d(3, track_running_stats=True)), (3, 10)),
    "constantpad": (lambda: nn.ConstantPad1d((2, 1), 0.5), (2, 8)),
    "zeropad": (lambda: nn.ZeroPad1d(2), (2, 8)),
    "reflectionpad": (lambda: nn.ReflectionPad1d((3, 1)), (2, 8)),
    "replicationpad": (lambda: nn.ReplicationPad1d((1, 4)), (2, 8)),
    "circularpad": (lambda: nn.CircularPad1d((2, 3)), (2, 8)),
    "softplus": (lambda: nn.Softplus(), (2, 10)),
    "softplus-beta-threshold": (lambda: nn.Softplus(beta=2.0, threshold=1.0), (2, 10)),
    "relu6": (lambda: nn.Sequential(nn.Linear(10, 10), nn.ReLU6()), (2, 10)),
    "hardtanh": (lambda: nn.Hardtanh(-0.5, 0.8), (2, 10)),
    "prelu-1": (lambda: nn.PReLU(), (3, 10)),
    "prelu-c": (lambda: _randomize_affine(nn.PReLU(3)), (3, 10)),
    "prelu-c-2d": (lambda: _randomize_affine(nn.PReLU(6)), (6,)),
    "silu": (lambda: nn.SiLU(), (2, 10)),
    "mish": (lambda: nn.Mish(), (2, 10)),
    "hardswish": (lambda: nn.Hardswish(), (2, 10)),
    "dropout1d": (lambda: nn.Sequential(nn.Dropout1d(0.5), nn.ReLU()), (2, 10)),
    "upsample-nearest": (lambda: nn.Upsample(scale_factor=2), (2, 7)),
    "upsample-nearest-size": (lambda: nn.Upsample(size=11), (2, 7)),
    "upsample-nearest-exact": (lambda: nn.Upsample(size=11, mode="nearest-exact"), (2, 7)),
    "upsample-linear": (lambda: nn.Upsample(scale_factor=2.5, mode="linear"), (2, 7)),
    "upsample-linear-align": (lambda: nn.Upsample(size=12, mode="linear", align_corners=True), (2, 7)),
    "upsample-linear-down": (lambda: nn.Upsample(size=4, mode="linear"), (2, 9)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_onnxruntime(name):
    factory, shape = LAYERS[name]
    nnlite.manual_seed(0)
    # GELU: onnxruntime's erf/tanh differ from C's by a few ulp, which is large relative near zero
    _check(factory(), shape, atol=1e-6 if not name.startswith("gelu") else 1e-5)


class PoolUnpool(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool, self.unpool = nn.MaxPool1d(2, return_indices=True), nn.MaxUnpool1d(2)

    def forward(self, x):
        return self.unpool(*self.pool(x))


# layers that export refuses, each with the model that uses it and the reason its error gives (docs/onnx.md)
REFUSED = {
    "MaxUnpool1d": (PoolUnpool, (2, 8), r"'MaxUnpool1dFunction' to ONNX opset version 17 is not supported: "
                                        r"max_unpool1d takes its indices as an array fixed at trace time"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_layer_names_itself_and_the_reason(name):
    factory, shape, match = REFUSED[name]
    with pytest.raises(UnsupportedOperatorError, match=match):
        nnlite.onnx.export(factory(), nnlite.randn(3, *shape), io.BytesIO())


def test_every_layer_of_nnlite_nn_is_covered():
    """A layer added to nnlite.nn without an entry in LAYERS or REFUSED fails here (losses and containers
    aside)."""
    losses = {n for n in nn.modules.__all__ if n.endswith("Loss")}
    containers = {"Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"}
    covered = {type(m).__name__ for factory, _ in LAYERS.values() for m in factory().modules()}
    assert set(nn.modules.__all__) - losses - containers - covered - set(REFUSED) == set()
    assert not covered & set(REFUSED)


def test_conv_padding_modes_make_the_expected_nodes():
    kinds = {}
    for mode in ("zeros", "reflect", "replicate", "circular"):
        proto = _check(nn.Conv1d(2, 2, 3, padding=1, padding_mode=mode), (2, 8))
        kinds[mode] = [n.op_type for n in proto.graph.node]
        pads = [n for n in proto.graph.node if n.op_type == "Pad"]
        if mode in ("reflect", "replicate"):
            assert onnx.helper.get_attribute_value(pads[0].attribute[0]) == {"reflect": b"reflect",
                                                                          "replicate": b"edge"}[mode]
    assert kinds["zeros"] == ["Conv"]
    assert kinds["reflect"] == kinds["replicate"] == ["Pad", "Conv"]
    assert kinds["circular"] == ["Slice", "Slice", "Concat", "Conv"]


@pytest.mark.parametrize("opset", [17, 18])
def test_new_layers_make_the_expected_nodes(opset):
    def kinds(model, shape):
        proto = _check(model, shape, opset_version=opset)
        return [n.op_type for n in proto.graph.node]
    assert kinds(nn.Mish(), (2, 10)) == (["Mish"] if opset >= 18 else ["Softplus", "Tanh", "Mul"])
    assert kinds(nn.SiLU(), (2, 10)) == ["Sigmoid", "Mul"]
    assert kinds(nn.Hardswish(), (2, 10)) == ["HardSwish"]
    assert kinds(nn.ReLU6(), (2, 10)) == kinds(nn.Hardtanh(), (2, 10)) == ["Clip"]
    assert kinds(nn.Softplus(), (2, 10)) == ["Softplus", "Greater", "Where"]
    assert kinds(nn.PReLU(2), (2, 10)) == ["Reshape", "PRelu"]
    assert kinds(nn.ReflectionPad1d(2), (2, 10)) == ["Pad"]
    assert kinds(nn.CircularPad1d(2), (2, 10)) == ["Slice", "Slice", "Concat"]
    assert kinds(nn.Upsample(scale_factor=2), (2, 5)) == ["Gather"]
    assert kinds(nn.Upsample(scale_factor=2, mode="linear"), (2, 5)) == ["Gather", "Mul", "Gather", "Mul", "Add"]


def test_instance_norm_and_pads_follow_a_dynamic_batch_and_length():
    model = nn.Sequential(_randomize_affine(nn.InstanceNorm1d(3, affine=True)), nn.ReflectionPad1d((2, 1)),
                          nn.CircularPad1d((1, 3)), nn.ReplicationPad1d(2), nn.ConstantPad1d((1, 2), 0.5),
                          nn.InstanceNorm1d(3)).eval()
    _, sess = _export(model, nnlite.randn(2, 3, 9), dynamic_axes={"input": [0, 2], "output": [0, 2]})
    x = numpy.random.default_rng(0).standard_normal((5, 3, 14)).astype(numpy.float32)
    with nnlite.no_grad():
        numpy.testing.assert_allclose(sess.run(None, {"input": x})[0], model(nnlite.tensor(x)).numpy(), rtol=RTOL,
                                      atol=1e-6)


class TensorOps(nn.Module):
    """The tensor ops a forward uses, on (N, 4, 6)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 1)

    def forward(self, x):
        a = self.conv(x)
        y = a + x * 2.0 - x / 4.0 + 1
        y = nnlite.cat([y, a * x], dim=1)                                # (N, 8, 6)
        y = y.transpose(1, 2).reshape(y.shape[0], -1).view(-1, 6, 8)     # (N, 6, 8)
        y = y.permute(0, 2, 1).flatten(1).unflatten(1, (8, 6))          # (N, 8, 6)
        m = y.mean(dim=(1, 2), keepdim=True) + y.mean(-1).unsqueeze(-1)  # (N, 8, 1)
        z = (y - m).softmax(dim=1) + y.sum(dim=2, keepdim=True).sigmoid()
        z = z[:, 1:-1, ::2] + z[:, :6, None, 0].squeeze(2).unsqueeze(-1)  # (N, 6, 3)
        z = z.clamp(min=0.01).sqrt() + z.abs().exp().log() - (-z) ** 2
        v = z.max(dim=1).values + z.var(dim=1) + z.maximum(z * 0.5).min(dim=1).values
        return nnlite.cat([v, z.flatten(1).tanh(), z.relu().mean(1)], dim=1).contiguous()


def test_tensor_ops_match_onnxruntime():
    nnlite.manual_seed(0)
    _check(TensorOps(), (4, 6))


class MoreTensorOps(nn.Module):
    """matmul with a buffer, expand, constant pad (negative crops), casts, max over all, argmax, stack, std."""

    def __init__(self):
        super().__init__()
        self.register_buffer("w", nnlite.randn(5, 2))

    def forward(self, x):                                                # (N, 3, 5)
        y = (x @ self.w).flatten(1)                                      # (N, 6)
        e = x[:, :1].expand(-1, 3, -1) * x                               # (N, 3, 5)
        p = F.pad(e, (2, -1), value=0.5).flatten(1)                      # (N, 18)
        i = x.max(dim=-1).indices.to(nnlite.float32) + x.max()           # (N, 3)
        s = nnlite.stack([x.std(dim=-1), -x.min(dim=-1).values], dim=-1).flatten(1)  # (N, 6)
        return nnlite.cat([y, p, i, s, x.double().float().sum(-1)], dim=1)


def test_more_tensor_ops_match_onnxruntime():
    nnlite.manual_seed(0)
    _check(MoreTensorOps(), (3, 5))


def test_unbatched_input():
    nnlite.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 3, 3, padding=1, padding_mode="reflect"), nn.MaxPool1d(2), nn.ReLU())
    x = nnlite.randn(2, 10)
    proto, sess = _export(model, x, dynamic_axes=None)
    with nnlite.no_grad():
        numpy.testing.assert_allclose(sess.run(None, {"input": x.numpy()})[0], model(x).numpy(), rtol=RTOL)


def test_fcn_dynamic_length():
    nnlite.manual_seed(0)
    model = _randomize_bn(_fcn()).eval()
    axes = {0: "batch", 2: "length"}
    _, sess = _export(model, nnlite.randn(3, 2, 20), dynamic_axes={"input": axes, "output": [0]})
    x = numpy.random.default_rng(0).standard_normal((5, 2, 37)).astype(numpy.float32)
    with nnlite.no_grad():
        numpy.testing.assert_allclose(sess.run(None, {"input": x})[0], model(nnlite.tensor(x)).numpy(), rtol=RTOL)


# -- three networks with a dynamic batch --------------------------------------------------------------------
def _fcn(c_in=2, classes=3):
    def block(i, o, k):
        return [nn.Conv1d(i, o, k, padding="same"), nn.BatchNorm1d(o), nn.ReLU()]
    return nn.Sequential(*block(c_in, 8, 7), *block(8, 16, 5), *block(16, 8, 3), nn.AdaptiveAvgPool1d(1),
                         nn.Flatten(), nn.Linear(8, classes))


class ResBlock(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.body = nn.Sequential(nn.Conv1d(c_in, c_out, 7, padding="same"), nn.BatchNorm1d(c_out), nn.ReLU(),
                                  nn.Conv1d(c_out, c_out, 5, padding="same"), nn.BatchNorm1d(c_out), nn.ReLU(),
                                  nn.Conv1d(c_out, c_out, 3, padding="same"), nn.BatchNorm1d(c_out))
        self.short = nn.Sequential(nn.Conv1d(c_in, c_out, 1), nn.BatchNorm1d(c_out)) if c_in != c_out \
            else nn.BatchNorm1d(c_out)

    def forward(self, x):
        return F.relu(self.body(x) + self.short(x))


class ResNet(nn.Module):
    def __init__(self, c_in=2, classes=3):
        super().__init__()
        self.blocks = nn.Sequential(ResBlock(c_in, 8), ResBlock(8, 16), ResBlock(16, 16))
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        return self.head(self.blocks(x).mean(dim=-1))


class InceptionModule(nn.Module):
    def __init__(self, c_in, nf=4, kernels=(9, 5, 3)):
        super().__init__()
        self.bottleneck = nn.Conv1d(c_in, nf, 1, bias=False)
        self.convs = nn.ModuleList([nn.Conv1d(nf, nf, k, padding="same", bias=False) for k in kernels])
        self.pool = nn.Sequential(nn.MaxPool1d(3, stride=1, padding=1), nn.Conv1d(c_in, nf, 1, bias=False))
        self.bn = nn.BatchNorm1d(nf * (len(kernels) + 1))

    def forward(self, x):
        b = self.bottleneck(x)
        return F.relu(self.bn(nnlite.cat([c(b) for c in self.convs] + [self.pool(x)], dim=1)))


class Inception(nn.Module):
    def __init__(self, c_in=2, classes=3):
        super().__init__()
        self.m1, self.m2, self.m3 = InceptionModule(c_in), InceptionModule(16), InceptionModule(16)
        self.short = nn.Sequential(nn.Conv1d(c_in, 16, 1), nn.BatchNorm1d(16))
        self.gap, self.fc = nn.AdaptiveAvgPool1d(1), nn.Linear(16, classes)

    def forward(self, x):
        y = F.relu(self.m3(self.m2(self.m1(x))) + self.short(x))
        return self.fc(self.gap(y).flatten(1))


@pytest.mark.parametrize("net", [_fcn, ResNet, Inception], ids=["fcn", "resnet", "inception"])
def test_network_dynamic_batch(net):
    nnlite.manual_seed(0)
    model = _randomize_bn(net())
    proto = None
    for run_batch in (1, 7):
        proto = _check(model, (2, 32), run_batch=run_batch, trace_batch=4, atol=0.0)
    batch = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param == "input_dynamic_axes_1" and not batch.HasField("dim_value")
    names = {i.name for i in proto.graph.initializer}
    assert set(model.state_dict()) - {k for k in model.state_dict() if k.endswith("num_batches_tracked")} <= names


@pytest.mark.parametrize("opset", [17, 18, 20, 21])
def test_opsets(opset):
    nnlite.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 4, 3), nn.GroupNorm(2, 4), nn.GELU(),
                          nn.BatchNorm1d(4, track_running_stats=False), nn.AdaptiveMaxPool1d(3), nn.Flatten(),
                          nn.LayerNorm(12))
    proto = _check(model, (2, 10), opset_version=opset, atol=1e-5)
    assert proto.opset_import[0].version == opset
    assert ("Gelu" in [n.op_type for n in proto.graph.node]) == (opset >= 20)


# -- the API ---------------------------------------------------------------------------------------------
class TwoInTwoOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, a, b):
        return self.lin(a) + b, a


def test_names_dict_dynamic_axes_file_and_identity_output(tmp_path):
    path = tmp_path / "m.onnx"
    model = TwoInTwoOut()
    a, b = nnlite.randn(2, 3), nnlite.randn(2, 3)
    nnlite.onnx.export(model, (a, b), path, input_names=["a", "b"], output_names=["y", "a_out"],
                       dynamic_axes={"a": {0: "batch"}, "b": {0: "batch"}, "y": {0: "batch"}})
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["a", "b"] and [o.name for o in proto.graph.output] == ["y", "a_out"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    an, bn = numpy.ones((4, 3), numpy.float32), numpy.full((4, 3), 2.0, numpy.float32)
    y, a_out = sess.run(None, {"a": an, "b": bn})
    with nnlite.no_grad():
        want = model(nnlite.tensor(an), nnlite.tensor(bn))[0].numpy()
    numpy.testing.assert_allclose(y, want, rtol=RTOL)
    numpy.testing.assert_array_equal(a_out, an)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_float64_exports_a_double_graph():
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh()).double()
    x = nnlite.randn(4, 3, dtype=nnlite.float64)
    proto, sess = _export(model, x)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert all(i.data_type == onnx.TensorProto.DOUBLE for i in proto.graph.initializer)
    with nnlite.no_grad():
        numpy.testing.assert_allclose(sess.run(None, {"input": x.numpy()})[0], model(x).numpy(), rtol=1e-12)


def test_training_flags_restored_and_eval_graph_exported():
    model = _randomize_bn(nn.Sequential(nn.Conv1d(2, 2, 3), nn.BatchNorm1d(2), nn.Dropout(0.5)))
    model.train()
    model[1].eval()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    proto, _ = _export(model, nnlite.randn(3, 2, 8))
    assert [m.training for m in model.modules()] == [True, True, False, True]
    assert [n.op_type for n in proto.graph.node] == ["Conv", "BatchNormalization"]
    for k, v in model.state_dict().items():
        numpy.testing.assert_array_equal(v.numpy(), before[k])


def test_export_under_no_grad_records_every_layer():
    model = nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU())
    for p in model.parameters():
        p.requires_grad_(False)
    with nnlite.no_grad():
        proto, _ = _export(model, nnlite.randn(2, 2, 8))
        assert not nnlite.is_grad_enabled()
    assert [n.op_type for n in proto.graph.node] == ["Conv", "Relu"]


def test_tracer_hook_is_removed_even_when_forward_raises():
    from nnlite.autograd import function

    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        nnlite.onnx.export(Boom(), nnlite.randn(2, 2), io.BytesIO())
    assert function._tracer is None


def test_import_nnlite_imports_neither_onnx_nor_onnxruntime():
    code = ("import sys, nnlite, nnlite.onnx, nnlite.nn; "
            "assert 'onnx' not in sys.modules and 'onnxruntime' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_onnx_names_the_extra():
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import nnlite, nnlite.onnx, io\n"
            "try:\n    nnlite.onnx.export(nnlite.nn.ReLU(), nnlite.randn(2), io.BytesIO())\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, timeout=60, capture_output=True, text=True).stdout
    assert "pip install nnlite[onnx]" in out


# -- errors ---------------------------------------------------------------------------------------------
class Cube(nnlite.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        return g


class Wrap(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _inplace(x):
    y = x * 2
    y.add_(1)
    return y


@pytest.mark.parametrize("fn, match", [
    (lambda x: Cube.apply(x), r"'Cube' \(a custom nnlite.autograd.Function\) to ONNX opset version 17"),
    (lambda x: F.smooth_l1_loss(x, x * 2), r"Exporting the operator '_SmoothL1' to ONNX opset version 17 is not "
                                           r"supported$"),
    (lambda x: F.max_pool1d(x, 2, return_indices=True)[1] * 1.0,
     r"'MaxPool1dFunction'.*output 1 \(the indices.*'Mul' uses it"),
    (lambda x: x[:, nnlite.tensor([0, 1])], r"'Index'.*advanced indexing"),
    (lambda x: F.dropout(x, 0.5, training=True), r"'_Dropout'.*dropout in training mode"),
    (_inplace, r"modified in place"),
], ids=["custom-function", "loss", "pool-indices", "advanced-index", "dropout-train", "inplace"])
def test_unsupported_op_names_it(fn, match):
    with pytest.raises(UnsupportedOperatorError, match=match):
        nnlite.onnx.export(Wrap(fn), nnlite.randn(2, 3, 4), io.BytesIO())


def test_bad_arguments():
    x = nnlite.randn(2, 3)
    with pytest.raises(TypeError, match="must be an nnlite.nn.Module"):
        nnlite.onnx.export(lambda t: t, x, io.BytesIO())
    with pytest.raises(ValueError, match="opset_version must be an int from 17 to 21, but got 16"):
        nnlite.onnx.export(nn.ReLU(), x, io.BytesIO(), opset_version=16)
    with pytest.raises(ValueError, match="dynamic_axes names 'batch'"):
        nnlite.onnx.export(nn.ReLU(), x, io.BytesIO(), dynamic_axes={"batch": [0]})
    with pytest.raises(ValueError, match="dynamic axis 2 of 'input' is out of range"):
        nnlite.onnx.export(nn.ReLU(), x, io.BytesIO(), dynamic_axes={"input": [2]})
    with pytest.raises(ValueError, match="2 input names given for 1 inputs"):
        nnlite.onnx.export(nn.ReLU(), x, io.BytesIO(), input_names=["a", "b"])
    with pytest.raises(ValueError, match="must be unique"):
        nnlite.onnx.export(nn.ReLU(), x, io.BytesIO(), input_names=["a"], output_names=["a"])
    with pytest.raises(TypeError, match="must return a Tensor"):
        nnlite.onnx.export(Wrap(lambda t: {"y": t}), x, io.BytesIO())
    with pytest.raises(TypeError, match="f must be a path or a binary file"):
        nnlite.onnx.export(nn.ReLU(), x, 3)


def test_untracked_tensor_warns():
    def fn(x):
        return x + nnlite.tensor(x.detach().numpy().argmax(-1).astype(numpy.float32))[:, None]
    with pytest.warns(UserWarning, match="no recorded operation produced"):
        nnlite.onnx.export(Wrap(fn), nnlite.randn(2, 3), io.BytesIO())
