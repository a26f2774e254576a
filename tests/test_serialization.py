"""nnlite.serialization: round trips, the on-disk format, atomic writes and clear errors for bad files."""
import collections
import json
import os
import zipfile

import numpy
import pytest

import nnlite
from nnlite import serialization
from nnlite.serialization import load, save


def _parameter():
    return serialization._parameter_class()


def state():
    rng = numpy.random.default_rng(0)
    sd = collections.OrderedDict()
    sd["conv.weight"] = nnlite.from_numpy(rng.standard_normal((4, 1, 3)).astype(numpy.float32))
    sd["conv.bias"] = nnlite.tensor([0.5, -1.0, 2.0, 0.0], dtype=nnlite.float64, requires_grad=True)
    sd["bn.num_batches_tracked"] = nnlite.tensor(7)
    sd["a_first_key_late"] = numpy.arange(6, dtype=numpy.int16).reshape(2, 3)
    return {
        "model": sd,
        "epoch": 12, "lr": 1e-3, "best": float("inf"), "nan": float("nan"), "flag": False, "none": None,
        "name": "fcn ünïcode", "history": [0.9, 0.5, (1, "x")], "empty": {}, "nested": {3: {"k": []}, "3": ()},
        "rng": nnlite.get_rng_state(), "scalar": numpy.float32(2.5), "mask": numpy.array([True, False]),
        "fortran": numpy.asfortranarray(numpy.arange(6.0).reshape(2, 3)), "strided": numpy.arange(10.0)[::3],
    }


def assert_same(a, b, where="obj"):
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, nnlite.Tensor):
        assert a.shape == b.shape and a.dtype == b.dtype and a.requires_grad == b.requires_grad, where
        assert str(b.device) == "cpu"
        numpy.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().numpy(), err_msg=where)
    elif isinstance(a, (numpy.ndarray, numpy.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        numpy.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, float) and a != a:
        assert b != b, where
    else:
        assert a == b, where


def test_round_trip_of_nested_state(tmp_path):
    obj = state()
    save(obj, tmp_path / "ckpt.nnl")                      # PathLike
    back = load(str(tmp_path / "ckpt.nnl"))               # str
    assert_same(obj, back)
    assert list(back["model"]) == ["conv.weight", "conv.bias", "bn.num_batches_tracked", "a_first_key_late"]
    assert back["model"]["bn.num_batches_tracked"].dtype == numpy.int64
    assert back["model"]["conv.bias"].dtype == numpy.float64 and back["model"]["conv.bias"].requires_grad
    assert list(back["nested"]) == [3, "3"]
    assert back["fortran"].flags.f_contiguous
    nnlite.set_rng_state(back["rng"])                     # a generator state survives as plain data


class StandInParameter(nnlite.Tensor):
    """Used where nnlite.nn.parameter.Parameter is not there yet: same constructor as PyTorch's."""

    def __init__(self, data=None, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)


@pytest.mark.parametrize("real", [True, False], ids=["Parameter", "stand-in"])
def test_parameters_round_trip(tmp_path, monkeypatch, real):
    Parameter = _parameter()
    if real and Parameter is None:
        pytest.skip("nnlite.nn.parameter.Parameter does not exist yet")
    if not real:
        Parameter = StandInParameter
        monkeypatch.setattr(serialization, "_parameter_class", lambda: StandInParameter)
    p = Parameter(nnlite.tensor([[1.0, 2.0]]))
    frozen = Parameter(nnlite.tensor([3.0]), requires_grad=False)
    save({"p": p, "frozen": frozen, "again": p}, tmp_path / "p.nnl")
    back = load(tmp_path / "p.nnl")
    assert type(back["p"]) is Parameter and back["p"].requires_grad and back["p"].tolist() == [[1.0, 2.0]]
    assert type(back["frozen"]) is Parameter and not back["frozen"].requires_grad
    assert back["again"] is back["p"]


def test_format_is_a_zip_of_json_and_npy(tmp_path):
    path = tmp_path / "f.nnl"
    w = nnlite.tensor([1.0, 2.0])
    save({"w": w, "tied": w, "a": numpy.zeros(3, numpy.uint8)}, path)
    with zipfile.ZipFile(path) as zf:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())
        assert sorted(zf.namelist()) == ["data/0.npy", "data/1.npy", "index.json"]
        index = json.loads(zf.read("index.json"))
        with zf.open("data/1.npy") as f:
            assert numpy.lib.format.read_array(f, allow_pickle=False).dtype == numpy.uint8
    assert index["format"] == "nnlite" and index["version"] == 1
    assert index["root"]["type"] == "dict"
    assert index["root"]["items"][0] == ["w", {"type": "Tensor", "file": "data/0.npy", "requires_grad": False,
                                               "device": "cpu"}]
    back = load(path)
    assert back["tied"] is back["w"]                      # one object saved once stays one object


def test_file_objects(tmp_path):
    import io
    buf = io.BytesIO()
    save([1, numpy.ones(2)], buf)
    buf.seek(0)
    back = load(buf)
    assert back[0] == 1 and back[1].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("bad, kind, where", [
    ({"model": {"f": lambda x: x}}, "function", "obj['model']['f']"),
    ([1, {2}], "set", "obj[1]"),
    ({"x": [0, 1, object()]}, "object", "obj['x'][2]"),
    ((1, 2j), "complex", "obj[1]"),
    ({"a": collections.defaultdict(int)}, "defaultdict", "obj['a']"),
])
def test_unsupported_objects_raise_type_error_with_key_path(tmp_path, bad, kind, where):
    path = tmp_path / "x.nnl"
    with pytest.raises(TypeError) as err:
        save(bad, path)
    assert repr(kind) in str(err.value) and where in str(err.value)
    assert not path.exists() and os.listdir(tmp_path) == []   # nothing written


def test_bad_keys_object_arrays_and_cycles(tmp_path):
    with pytest.raises(TypeError, match=r"keys must be str or int.*\(1, 2\)"):
        save({(1, 2): 0}, tmp_path / "x")
    with pytest.raises(TypeError, match="dtype object"):
        save({"o": numpy.array([None, 1])}, tmp_path / "x")
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="circular"):
        save(loop, tmp_path / "x")
    assert os.listdir(tmp_path) == []


def test_crash_mid_save_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.nnl"
    save({"version": "old", "w": numpy.ones(3)}, path)
    before = path.read_bytes()
    calls = []

    def failing_write_array(f, arr, *args, **kwargs):
        calls.append(arr.shape)
        if len(calls) == 2:
            f.write(b"half an array")
            raise OSError("disk full (simulated)")
        return real(f, arr, *args, **kwargs)

    real = numpy.lib.format.write_array
    monkeypatch.setattr(serialization.npy_format, "write_array", failing_write_array)
    with pytest.raises(OSError, match="simulated"):
        save({"version": "new", "w": numpy.zeros(3), "v": numpy.zeros(4)}, path)
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.nnl"]
    assert load(path)["version"] == "old"
    monkeypatch.undo()
    save({"version": "new"}, path)                         # and a good save replaces it
    assert load(path) == {"version": "new"} and os.listdir(tmp_path) == ["ckpt.nnl"]


def test_saved_file_gets_normal_permissions(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    umask = os.umask(0o022)
    os.umask(umask)
    save(1, tmp_path / "p.nnl")
    assert (tmp_path / "p.nnl").stat().st_mode & 0o777 == 0o666 & ~umask


def write_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_malformed_files_raise_value_error_naming_the_file(tmp_path):
    good = tmp_path / "good.nnl"
    save({"w": numpy.arange(100.0)}, good)
    data = good.read_bytes()
    cases = {
        "truncated.nnl": data[: len(data) // 2],
        "random.nnl": numpy.random.default_rng(0).bytes(300),
        "empty.nnl": b"",
        "text.nnl": b"hello, not a checkpoint\n",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    write_zip(tmp_path / "noindex.nnl", {"data/0.npy": b""})
    write_zip(tmp_path / "torch.nnl", {"archive/data.pkl": b"\x80\x02."})
    write_zip(tmp_path / "notjson.nnl", {"index.json": b"{oops"})
    write_zip(tmp_path / "otherformat.nnl", {"index.json": json.dumps({"format": "zarr", "version": 1})})
    write_zip(tmp_path / "future.nnl", {"index.json": json.dumps({"format": "nnlite", "version": 99, "root": 1})})
    write_zip(tmp_path / "nomember.nnl", {"index.json": json.dumps(
        {"format": "nnlite", "version": 1, "root": {"type": "ndarray", "file": "data/7.npy"}})})
    write_zip(tmp_path / "badnode.nnl", {"index.json": json.dumps(
        {"format": "nnlite", "version": 1, "root": {"type": "pickle", "file": "x"}})})
    bad_npy = {"index.json": json.dumps({"format": "nnlite", "version": 1, "root": {"type": "ndarray",
                                                                                  "file": "data/0.npy"}})}
    bad_npy["data/0.npy"] = b"\x93NUMPY\x01\x00" + b"garbage"
    write_zip(tmp_path / "badnpy.nnl", bad_npy)
    expected = {"truncated.nnl": "truncated or corrupt", "random.nnl": "not a checkpoint nnlite reads",
                "empty.nnl": "not a checkpoint nnlite reads", "text.nnl": "not a checkpoint nnlite reads",
                "noindex.nnl": "neither index.json", "torch.nnl": "STOP with 0 items on the stack",
                "notjson.nnl": "not valid JSON", "otherformat.nnl": "'zarr'", "future.nnl": "version 99",
                "nomember.nnl": "missing member 'data/7.npy'", "badnode.nnl": "unknown node type 'pickle'",
                "badnpy.nnl": "cannot read 'data/0.npy'"}
    for name, words in expected.items():
        path = tmp_path / name
        with pytest.raises(serialization.CheckpointError) as err:
            load(path)
        assert str(path) in str(err.value) and words in str(err.value), (name, str(err.value))
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.nnl")


def test_pickled_npy_is_refused(tmp_path):
    # an object array smuggled into a hand-made file must not be unpickled
    import io
    buf = io.BytesIO()
    numpy.lib.format.write_array(buf, numpy.array([{"a": 1}], dtype=object), allow_pickle=True)
    path = write_zip(tmp_path / "evil.nnl", {
        "index.json": json.dumps({"format": "nnlite", "version": 1, "root": {"type": "ndarray",
                                                                              "file": "data/0.npy"}}),
        "data/0.npy": buf.getvalue()})
    with pytest.raises(ValueError, match="cannot read 'data/0.npy'.*pickle"):
        load(path)


def test_map_location_and_gpu(tmp_path):
    t = nnlite.tensor([1.0, 2.0])
    save({"t": t}, tmp_path / "m.nnl")
    assert load(tmp_path / "m.nnl", map_location="cpu")["t"].device == nnlite.device("cpu")
    assert load(tmp_path / "m.nnl", map_location={"cuda:0": "cpu"})["t"].device == nnlite.device("cpu")
    with pytest.raises(TypeError, match="map_location"):
        load(tmp_path / "m.nnl", map_location=3.5)
    if not nnlite.cuda.is_available():
        pytest.skip("no CuPy or no CUDA GPU")
    g = nnlite.tensor([3.0, 4.0], device="cuda", requires_grad=True)
    save({"g": g}, tmp_path / "g.nnl")
    back = load(tmp_path / "g.nnl")
    assert back["g"].device == nnlite.device("cpu") and back["g"].tolist() == [3.0, 4.0] and back["g"].requires_grad
    on_gpu = load(tmp_path / "g.nnl", map_location={"cuda:0": "cuda:0"})["g"]
    assert on_gpu.device == nnlite.device("cuda:0") and on_gpu.tolist() == [3.0, 4.0]
