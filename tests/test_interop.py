"""PyTorch and safetensors checkpoints: files written by the real torch / safetensors read by nnlite.load, and
files written by nnlite.save(format=...) read by the real torch.load(weights_only=True) / safetensors."""
import collections
import io
import os
import zipfile

import numpy
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nnlite
from nnlite.serialization import CheckpointError

torch = pytest.importorskip("torch")

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int16,
          torch.int8, torch.uint8, torch.bool]


def as_numpy(t):
    t = t.detach()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


def assert_same(theirs, ours, where="obj"):
    """``theirs`` (torch objects) and ``ours`` (nnlite objects) hold the same structure and values."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, nnlite.Tensor), where
        assert isinstance(ours, nnlite.nn.Parameter) == isinstance(theirs, torch.nn.Parameter), where
        assert tuple(ours.shape) == tuple(theirs.shape), where
        expected = as_numpy(theirs)
        assert ours.dtype == expected.dtype, (where, ours.dtype, expected.dtype)
        assert ours.requires_grad == theirs.requires_grad, where
        numpy.testing.assert_array_equal(ours.detach().numpy(), expected, err_msg=where)
    elif isinstance(theirs, torch.Size):
        assert type(ours) is nnlite.Size and tuple(ours) == tuple(theirs), where
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs), (where, type(ours))
        assert list(ours) == list(theirs), where
        for key in theirs:
            assert_same(theirs[key], ours[key], f"{where}[{key!r}]")
        if hasattr(theirs, "_metadata"):
            assert_same(theirs._metadata, ours._metadata, f"{where}._metadata")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(theirs, ours)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float) and theirs != theirs:
        assert ours != ours, where
    else:
        assert type(ours) is type(theirs) and ours == theirs, (where, ours, theirs)


def torch_bytes(obj, legacy=False):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def sample_tensor(dtype, shape=(2, 3), seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype.is_floating_point:
        return (torch.randn(shape, generator=g) * 100).to(dtype)
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=g).bool()
    info = torch.iinfo(dtype)
    return torch.randint(info.min, info.max, shape, generator=g, dtype=torch.int64).to(dtype)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_storage_dtype(dtype, legacy):
    t = sample_tensor(dtype)
    back = nnlite.load(io.BytesIO(torch_bytes({"t": t}, legacy)))
    assert_same({"t": t}, back)
    if dtype == torch.bfloat16:  # widened exactly: the float32 bits are the bfloat16 bits followed by zeros
        bits = back["t"].numpy().view(numpy.uint32)
        assert (bits & 0xFFFF == 0).all()
        assert ((bits >> 16).astype(numpy.uint16) == t.view(torch.int16).numpy().view(numpy.uint16)).all()


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_views_offsets_strides_and_shared_storage(legacy):
    base = torch.arange(24.0).reshape(4, 6)
    obj = {"base": base, "col": base[:, 2], "t": base.t(), "slice": base[1:3, ::2], "flat": base.view(-1)[5:],
           "scalar": base[2, 3], "empty": base[:0], "expanded": torch.ones(3)[:1].expand(3)}
    back = nnlite.load(io.BytesIO(torch_bytes(obj, legacy)))
    assert_same(obj, back)
    for k in ("col", "t", "slice", "flat", "scalar"):  # views share the loaded storage, as in PyTorch
        assert numpy.shares_memory(back[k].numpy(), back["base"].numpy()), k
    back["col"][0] = -1.0
    assert back["base"][0, 2].item() == -1.0


def test_big_endian_byteorder_record():
    obj = {"f": torch.tensor([1.5, -2.25]), "i": torch.tensor([1, -300], dtype=torch.int32),
           "h": torch.tensor([0.5, 3.0], dtype=torch.bfloat16)}
    src = zipfile.ZipFile(io.BytesIO(torch_bytes(obj)))
    sizes = {"f": 4, "i": 4, "h": 2}
    keys = {}  # storage key -> item size, in the order the tensors were saved
    for n, key in zip(obj, ("0", "1", "2")):
        keys[key] = sizes[n]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info in src.infolist():
            data = src.read(info)
            name = info.filename
            if name.endswith("/byteorder"):
                data = b"big"
            elif "/data/" in name and not name.endswith(".pkl"):
                size = keys[name.rsplit("/", 1)[1]]
                data = numpy.frombuffer(data, f"<u{size}").astype(f">u{size}").tobytes()
            zf.writestr(name, data)
    back = nnlite.load(io.BytesIO(out.getvalue()))
    assert_same(obj, back)


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(2, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm1d(4)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(-1))


class NnliteNet(nnlite.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nnlite.nn.Conv1d(2, 4, 3, padding=1)
        self.bn = nnlite.nn.BatchNorm1d(4)
        self.fc = nnlite.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).relu().mean(-1))


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_state_dict_from_pytorch_loads_into_the_nnlite_model(tmp_path, legacy):
    torch.manual_seed(0)
    net = TorchNet()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)  # Adam imports much more of torch
    x = torch.randn(5, 2, 16)
    net(x).sum().backward()
    opt.step()
    net.eval()
    ckpt = {"epoch": 7, "model": net.state_dict(), "optimizer": opt.state_dict(), "loss": 0.25,
            "shape": x.shape, "note": None, "history": [1.0, float("nan"), (2, "x")]}
    path = tmp_path / "from_pytorch.pt"
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)
    back = nnlite.load(path, weights_only=True, map_location="cpu")
    assert_same(ckpt, back)
    assert back["model"]._metadata[""]["version"] == 1 and back["model"]._metadata["bn"]["version"] == 2
    assert sorted(back["optimizer"]["state"]) == [0, 1, 2, 3, 4, 5]           # int keys survive
    model = NnliteNet().eval()
    model.load_state_dict(back["model"])
    with torch.no_grad():
        expected = net(x).numpy()
    numpy.testing.assert_allclose(model(x.numpy()).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_parameters_and_requires_grad():
    p = torch.nn.Parameter(torch.randn(3))
    frozen = torch.nn.Parameter(torch.randn(2), requires_grad=False)
    t = torch.randn(2, requires_grad=True)
    back = nnlite.load(io.BytesIO(torch_bytes({"p": p, "frozen": frozen, "t": t})))
    assert_same({"p": p, "frozen": frozen, "t": t}, back)


def test_weights_only_false_runs_nothing_either():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    data = torch_bytes({"x": Evil()})
    for weights_only in (True, False, None):
        with pytest.raises(CheckpointError, match="refused global 'posix.system'|refused global 'os.system'"):
            nnlite.load(io.BytesIO(data), weights_only=weights_only)
    with pytest.raises(TypeError, match="unexpected keyword argument 'pickle_module'"):
        nnlite.load(io.BytesIO(data), pickle_module=None)


def test_whole_pickled_model_and_torchscript_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="save model.state_dict"):
        nnlite.load(io.BytesIO(torch_bytes(TorchNet())))
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(TorchNet()), path)
    with pytest.raises(CheckpointError, match="TorchScript archive"):
        nnlite.load(path)


@pytest.mark.parametrize("tensor", [lambda: torch.randn(4, 4).to_sparse(),
                                    lambda: torch.quantize_per_tensor(torch.randn(3), 0.1, 0, torch.quint8),
                                    lambda: torch.randn(2, dtype=torch.complex64)],
                         ids=["sparse", "quantized", "complex"])
def test_unsupported_tensors_are_refused(tensor):
    with pytest.raises(CheckpointError, match="refused global"):
        nnlite.load(io.BytesIO(torch_bytes({"t": tensor()})))


# -- writing: nnlite.save(format="torch") -> torch.load(weights_only=True) -------------------------------------

def test_nnlite_writes_what_torch_loads(tmp_path):
    base = nnlite.arange(12.0).reshape(3, 4)
    sd = collections.OrderedDict(w=base, col=base[:, 1], t=base.t(), p=nnlite.nn.Parameter(nnlite.ones(2)),
                                 i=nnlite.tensor([1, 2], dtype=nnlite.int16), b=nnlite.tensor([True, False]),
                                 h=nnlite.tensor([0.5], dtype=nnlite.float16), n=numpy.arange(3, dtype=numpy.int8),
                                 bc=numpy.broadcast_to(numpy.float32(2), (2, 3)),
                                 g=nnlite.tensor([1.0, 2.0], requires_grad=True))
    sd._metadata = collections.OrderedDict({"": {"version": 1}})
    obj = {"model": sd, "epoch": 3, "size": nnlite.Size([2, 3]), "mixed": [1, 2 ** 40, -2 ** 70, 1.5, "ü", None,
                                                                          True, (), []], 5: {2.5: "k"}}
    path = tmp_path / "for_torch.pt"
    nnlite.save(obj, path, format="torch")
    back = torch.load(path, weights_only=True)
    assert list(back) == ["model", "epoch", "size", "mixed", 5]
    m = back["model"]
    assert type(m) is collections.OrderedDict and m._metadata == {"": {"version": 1}}
    assert type(m["p"]) is torch.nn.Parameter and m["p"].requires_grad and m["g"].requires_grad
    for k, v in sd.items():
        mine = v.detach().numpy() if isinstance(v, nnlite.Tensor) else v
        assert m[k].dtype == getattr(torch, str(mine.dtype)), k
        numpy.testing.assert_array_equal(m[k].detach().numpy(), mine, err_msg=k)
    assert m["col"].untyped_storage().data_ptr() == m["w"].untyped_storage().data_ptr()  # views share a storage
    assert m["t"].stride() == (1, 4)
    assert m["n"].untyped_storage().data_ptr() != m["w"].untyped_storage().data_ptr()
    assert back["size"] == torch.Size([2, 3]) and type(back["size"]) is torch.Size
    assert back["mixed"] == [1, 2 ** 40, -2 ** 70, 1.5, "ü", None, True, (), []] and back[5] == {2.5: "k"}
    assert m["bc"].stride() == (3, 1)  # broadcast views are written as copies, which nnlite.load accepts
    assert_same(back, nnlite.load(path))  # and nnlite reads its own torch files


def test_weights_saved_by_nnlite_load_into_the_pytorch_model(tmp_path):
    model = NnliteNet().eval()
    path = tmp_path / "nnlite_weights.pt"
    nnlite.save(model.state_dict(), path, format="torch")
    net = TorchNet().eval()
    net.load_state_dict(torch.load(path, weights_only=True))
    x = numpy.random.default_rng(0).standard_normal((3, 2, 8)).astype(numpy.float32)
    with torch.no_grad():
        theirs = net(torch.from_numpy(x)).numpy()
    numpy.testing.assert_allclose(theirs, model(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_save_refuses_before_writing_and_writes_atomically(tmp_path):
    path = tmp_path / "x.pt"
    nnlite.save({"a": nnlite.ones(1)}, path, format="torch")
    before = path.read_bytes()
    with pytest.raises(TypeError, match="cannot store an object of type 'function'"):
        nnlite.save({"a": nnlite.ones(2), "f": lambda: 0}, path, format="torch")
    with pytest.raises(TypeError, match="dtype uint16"):
        nnlite.save({"a": numpy.zeros(2, numpy.uint16)}, path, format="torch")
    with pytest.raises(ValueError, match="format must be one of"):
        nnlite.save({}, path, format="onnx")
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["x.pt"]


# -- hypothesis: random nested structures and dtypes, both directions ------------------------------------------

NP_DTYPES = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]
shapes = st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple)


@st.composite
def arrays(draw):
    dtype = draw(st.sampled_from(NP_DTYPES))
    shape = draw(shapes)
    rng = numpy.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    a = numpy.asarray((rng.standard_normal(shape) * 50).astype(dtype) if dtype != "bool" else rng.random(shape) > 0.5)
    if draw(st.booleans()) and a.ndim >= 2:
        a = a.T                                           # non-contiguous strides
    return a


leaves = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=False),
                   st.text(max_size=5), arrays())
keys = st.one_of(st.text(max_size=4), st.integers(-5, 5))
trees = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


def to_torch(x):
    if isinstance(x, numpy.ndarray):
        return torch.from_numpy(x)  # keeps transposed strides: torch.save writes a view of the base storage
    if isinstance(x, dict):
        return {k: to_torch(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_torch(v) for v in x)
    return x


def to_nnlite(x):
    if isinstance(x, numpy.ndarray):
        return nnlite.from_numpy(x)
    if isinstance(x, dict):
        return {k: to_nnlite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_nnlite(v) for v in x)
    return x


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees, st.booleans())
def test_random_trees_torch_save_to_nnlite_load(tree, legacy):
    obj = to_torch(tree)
    assert_same(obj, nnlite.load(io.BytesIO(torch_bytes(obj, legacy))))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_random_trees_nnlite_save_to_torch_load(tree):
    buf = io.BytesIO()
    nnlite.save(to_nnlite(tree), buf, format="torch")
    buf.seek(0)
    back = torch.load(buf, weights_only=True)
    assert_same(back, nnlite.load(io.BytesIO(buf.getvalue())))
    assert_same(to_torch(tree), nnlite.load(io.BytesIO(buf.getvalue())))


# -- safetensors ------------------------------------------------------------------------------------------------

def test_safetensors_written_by_the_package_are_read():
    safetensors_torch = pytest.importorskip("safetensors.torch")
    obj = {f"t{i}": sample_tensor(d, (2, i + 1), seed=i) for i, d in enumerate(DTYPES)}
    obj["empty"] = torch.zeros(0, 3)
    obj["scalar"] = torch.tensor(2.5)
    back = nnlite.load(io.BytesIO(safetensors_torch.save(obj, metadata={"format": "pt"})))
    assert type(back) is dict and sorted(back) == sorted(obj)
    for k in obj:
        assert_same(obj[k], back[k], k)


def test_safetensors_written_by_nnlite_are_read_by_the_package(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    rng = numpy.random.default_rng(0)
    obj = {d: (rng.standard_normal((3, 2)) * 50).astype(d) if d != "bool" else rng.random(3) > 0.5
           for d in NP_DTYPES}
    obj["tensor"] = nnlite.arange(6.0).reshape(2, 3).t()           # non-contiguous is written contiguously
    obj["empty"] = numpy.zeros((0, 4), numpy.float32)
    path = tmp_path / "m.safetensors"
    nnlite.save(obj, path, format="safetensors")
    back = safetensors_numpy.load_file(str(path))
    assert sorted(back) == sorted(obj)
    for k, v in obj.items():
        mine = v.numpy() if isinstance(v, nnlite.Tensor) else v
        assert back[k].dtype == mine.dtype and back[k].shape == mine.shape, k
        numpy.testing.assert_array_equal(back[k], mine, err_msg=k)
    again = nnlite.load(path)
    for k, v in obj.items():
        numpy.testing.assert_array_equal(again[k].numpy(), v.numpy() if isinstance(v, nnlite.Tensor) else v)


def test_safetensors_refuses_shared_and_nested_data(tmp_path):
    a = numpy.arange(6.0)
    path = tmp_path / "x.safetensors"
    with pytest.raises(ValueError, match="'a' and 'b' share memory"):
        nnlite.save({"a": a, "b": a[2:]}, path, format="safetensors")
    with pytest.raises(TypeError, match="tensors and arrays only"):
        nnlite.save({"a": {"nested": a}}, path, format="safetensors")
    with pytest.raises(TypeError, match="flat dict"):
        nnlite.save([a], path, format="safetensors")
    assert not path.exists()


# -- non-numeric data in nnlite.tensor, with PyTorch's wording -------------------------------------------------

@pytest.mark.parametrize("data", ["abc", ["a", "b"], [1.0, "x"], b"ab", numpy.array(["a"]),
                                  numpy.array([object()])], ids=["str", "strs", "mixed", "bytes", "U", "O"])
def test_tensor_rejects_non_numeric_data_like_torch(data):
    with pytest.raises((TypeError, ValueError)) as theirs:
        torch.tensor(data)
    with pytest.raises(type(theirs.value)) as ours:
        nnlite.tensor(data)
    expected = str(theirs.value)
    if "The only supported types" in expected:  # PyTorch lists complex and unsigned types nnlite lacks
        expected = expected.split(" The only")[0]
    assert str(ours.value).startswith(expected)


def test_tensor_none_and_dict_raise_like_torch():
    for data in ([None], [{"a": 1}]):
        with pytest.raises(RuntimeError, match="Could not infer dtype of"):
            nnlite.tensor(data)
    with pytest.raises(TypeError, match="numpy.object_"):
        nnlite.as_tensor(numpy.array([object()]))


def test_saved_device_and_map_location():
    """A checkpoint saved on a GPU (location 'cuda:0' in its storage records) loads on the CPU by default."""
    src = zipfile.ZipFile(io.BytesIO(torch_bytes({"w": torch.ones(2)})))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                assert b"X\x03\x00\x00\x00cpu" in data
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            zf.writestr(info.filename, data)
    for kw in ({}, {"map_location": "cpu"}, {"map_location": {"cuda:1": "cpu"}}, {"map_location": {"cuda:0": "cpu"}}):
        back = nnlite.load(io.BytesIO(out.getvalue()), **kw)
        assert back["w"].device == nnlite.device("cpu") and back["w"].tolist() == [1.0, 1.0], kw
    if nnlite.cuda.is_available():
        back = nnlite.load(io.BytesIO(out.getvalue()), map_location={"cuda:0": "cuda:0"})
        assert back["w"].device == nnlite.device("cuda:0")


def test_many_tensors_use_long_memo_indices():
    sd = collections.OrderedDict((f"layer{i}.weight", nnlite.full((2,), float(i))) for i in range(300))
    sd["tied"] = sd["layer299.weight"]
    buf = io.BytesIO()
    nnlite.save(sd, buf, format="torch")
    back = torch.load(io.BytesIO(buf.getvalue()), weights_only=True)
    assert [v[0].item() for v in back.values()] == [float(i) for i in range(300)] + [299.0]
    assert back["tied"] is back["layer299.weight"]
    again = nnlite.load(io.BytesIO(buf.getvalue()))
    assert again["tied"] is again["layer299.weight"]
