"""Hostile checkpoints, built byte by byte (raw pickle opcodes, zip records), each refused by nnlite.load.

Every case must raise CheckpointError naming the file and what was refused, within a time and memory bound,
importing no module and creating no file.  No torch here: the point is that nnlite needs none.
"""
import binascii
import io
import json
import os
import struct
import sys
import time
import tracemalloc
import warnings
import zipfile
import zlib

import pytest
from hypothesis import given, settings, strategies as st

import nnlite
from nnlite import _safetensors, _torch_format, _zip  # noqa: F401  (loaded before the import check)
from nnlite.serialization import CheckpointError

"x".encode("cp437")  # zipfile decodes non-UTF-8 member names with this stdlib codec, imported on first use
FUZZ_CRASHES = os.path.join(os.path.dirname(__file__), "fuzz_crashes")


# -- pickle opcodes ------------------------------------------------------------------------------------------

def u(s):
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def g(module, name):
    return f"c{module}\n{name}\n".encode()


def k(i):
    return b"K" + bytes([i])


def long1(x):
    raw = x.to_bytes((x.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def pk(*parts):
    return b"\x80\x02" + b"".join(parts) + b"."


EMPTY_OD = g("collections", "OrderedDict") + b")R"


def storage(kind="FloatStorage", key="0", numel=6):
    return b"(" + u("storage") + g("torch", kind) + u(key) + u("cpu") + k(numel) + b"tQ"


def tensor(st, offset=0, size=(2, 3), stride=(3, 1)):
    ints = lambda xs: b"(" + b"".join(k(x) if 0 <= x < 256 else long1(x) for x in xs) + b"t"
    return (g("torch._utils", "_rebuild_tensor_v2") + b"(" + st + k(offset) + ints(size) + ints(stride)
            + b"\x89" + EMPTY_OD + b"tR")


def torch_zip(pkl, storages=None, extra=None, prefix="archive", deflate=False):
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
        warnings.simplefilter("ignore")  # duplicate names are one of the cases
        zf.writestr(f"{prefix}/data.pkl", pkl)
        zf.writestr(f"{prefix}/byteorder", b"little")
        for key, data in (storages if storages is not None else {"0": bytes(24)}).items():
            zf.writestr(f"{prefix}/data/{key}", data)
        for name, data in (extra or {}).items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED)
    return buf.getvalue()


def raw_zip(records, central):
    """A zip from explicit local records [(name, data, method)] and central entries [(name, offset, size, usize,
    method, crc)], so that offsets and sizes can lie."""
    out = bytearray()
    for name, data, method in records:
        raw = name.encode()
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 0, binascii.crc32(data), len(data),
                           len(data), len(raw), 0) + raw + data
    start = len(out)
    for name, offset, size, usize, method, crc in central:
        raw = name.encode()
        out += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, size, usize, len(raw),
                           0, 0, 0, 0, 0, offset) + raw
    out += struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(central), len(central), len(out) - start, start, 0)
    return bytes(out)


def local_record(name, data):
    raw = name.encode()
    return struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, binascii.crc32(data), len(data), len(data),
                       len(raw), 0) + raw + data


def legacy(tree_pkl, keys, blobs):
    head = pk(b"\x8a\x0a" + _torch_format.LEGACY_MAGIC.to_bytes(10, "little")) + pk(b"M\xe9\x03")
    info = pk(b"}" + u("protocol_version") + b"M\xe9\x03s" + u("little_endian") + b"\x88s")
    keys_pkl = pk(b"(" + b"".join(u(x) for x in keys) + b"l")
    return head + info + tree_pkl + keys_pkl + b"".join(blobs)


def legacy_storage(key="1", numel=2):
    return b"(" + u("storage") + g("torch", "FloatStorage") + u(key) + u("cpu") + k(numel) + b"NtQ"


def safetensors(header, data=b"", length=None):
    raw = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


# -- the cases: file bytes and words the error must contain ----------------------------------------------------

deep = b"]" * 5000 + b"a" * 4999
doubling = b"]" + b"".join(b"q" + bytes([i % 256]) + b"h" + bytes([i % 256]) + b"\x86" for i in range(60))
bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
bomb_data = bomb.compress(bytes(5_000_000)) + bomb.flush()
inner = local_record("archive/data/0", bytes(24))
outer_data = inner
overlap = raw_zip(
    [("archive/data.pkl", pk(b"N"), 0), ("archive/x", outer_data, 0)],
    [("archive/data.pkl", 0, len(pk(b"N")), len(pk(b"N")), 0, binascii.crc32(pk(b"N"))),
     ("archive/x", 30 + 16 + len(pk(b"N")), len(outer_data), len(outer_data), 0, binascii.crc32(outer_data)),
     ("archive/data/0", 30 + 16 + len(pk(b"N")) + 30 + 9, 24, 24, 0, binascii.crc32(bytes(24)))])
lying_bomb = raw_zip([("archive/data.pkl", bomb_data, 8)],
                     [("archive/data.pkl", 0, len(bomb_data), 100 * len(bomb_data), 8, 0)])

_INDEX_NPY = json.dumps({"format": "nnlite", "version": 1, "root": {"type": "ndarray", "file": "data/0.npy"}}).encode()

CASES = {
    # code-executing and hidden globals
    "os_system": (torch_zip(pk(g("os", "system") + b"(" + u("echo pwned") + b"tR")), "refused global 'os.system'"),
    "builtins_eval": (torch_zip(pk(g("builtins", "eval") + b"(" + u("1+1") + b"tR")), "'builtins.eval'"),
    "stack_global": (torch_zip(pk(u("posix") + b"q\x00" + u("system") + b"\x93" + b"(" + u("id") + b"tR")),
                     "refused global 'posix.system'"),
    "stack_global_memo": (torch_zip(pk(u("subprocess") + b"q\x05" + u("x") + b"0h\x05" + u("Popen") + b"\x93")),
                          "'subprocess.Popen'"),
    "nested_pickle": (torch_zip(pk(g("pickle", "loads") + b"(C\x04\x80\x02N.tR")), "'pickle.loads'"),
    "whole_model": (torch_zip(pk(g("torch.nn.modules.conv", "Conv1d") + b")\x81")), "save model.state_dict()"),
    "custom_class": (torch_zip(pk(g("__main__", "Net") + b")R")), "'__main__.Net'"),
    "qtensor": (torch_zip(pk(g("torch._utils", "_rebuild_qtensor") + b")R")), "quantized"),
    "torchscript_global": (torch_zip(pk(g("torch.jit._pickle", "build_intlist") + b"(]tR")), "TorchScript"),
    # opcodes that create objects
    "newobj": (torch_zip(pk(g("collections", "OrderedDict") + b")\x81")), "NEWOBJ"),
    "inst": (torch_zip(b"(ios\nsystem\n" + u("id") + b"."), "INST"),
    "obj": (torch_zip(pk(b"(" + g("collections", "OrderedDict") + b"o")), "'o' (OBJ)"),
    "ext": (torch_zip(pk(b"\x82\x01")), "EXT1"),
    "build_on_dict": (torch_zip(pk(b"}" + b"}" + u("__class__") + b"Ns" + b"b")), "BUILD on a dict"),
    "build_other_attr": (torch_zip(pk(EMPTY_OD + b"}" + u("__setstate__") + b"Ns" + b"b")), "BUILD state other"),
    "reduce_non_builder": (torch_zip(pk(u("x") + b")R")), "REDUCE calls a str"),
    "setitem_on_list": (torch_zip(pk(b"]" + k(1) + k(2) + b"s")), "dict opcode applied to a list"),
    "list_key": (torch_zip(pk(b"}" + b"]" + k(1) + b"s")), "a dict key of type 'list'"),
    "bad_persistent_id": (torch_zip(pk(b"(" + u("module") + u("os") + b"tQ")), "unknown persistent record"),
    "hooks": (torch_zip(pk(g("torch._utils", "_rebuild_tensor_v2") + b"(" + storage() + k(0) + b"(K\x06t(K\x01t\x89"
                            + g("collections", "OrderedDict") + b"(((K\x01" + u("hook") + b"tltR" + b"tR")),
              "backward hooks"),
    "codecs_other": (torch_zip(pk(g("_codecs", "encode") + b"(" + u("x") + u("rot13") + b"tR")), "latin1"),
    # records that do not match the data
    "numel_mismatch": (torch_zip(pk(tensor(storage(numel=6))), {"0": bytes(20)}), "holds 20 bytes"),
    "out_of_bounds_view": (torch_zip(pk(tensor(storage(), offset=4, size=(3,), stride=(1,)))), "reaches element 6"),
    "strided_out_of_bounds": (torch_zip(pk(tensor(storage(), size=(2, 3), stride=(1, 3)))), "reaches element 7"),
    "huge_shape": (torch_zip(pk(tensor(storage(), size=(60000, 60000), stride=(0, 0)))), "on a storage of 6"),
    "empty_huge_dims": (torch_zip(pk(tensor(storage(), size=(0, 2 ** 61), stride=(2 ** 62, 2 ** 62)))),
                        "array is too big"),
    "negative_stride": (torch_zip(pk(g("torch._utils", "_rebuild_tensor_v2") + b"(" + storage() + k(0)
                                     + b"(K\x02t(J\xff\xff\xff\xfft\x89" + EMPTY_OD + b"tR")), "negative"),
    "two_dtypes": (torch_zip(pk(b"(" + tensor(storage()) + tensor(storage("LongStorage", numel=3), size=(3,),
                                                                   stride=(1,)) + b"l")), "read both as"),
    "missing_storage": (torch_zip(pk(tensor(storage(key="9"))), {}), "has no member archive/data/9"),
    "storage_key_traversal": (torch_zip(pk(tensor(storage(key="../../x")))), "a storage key '../../x'"),
    "unknown_storage_type": (torch_zip(pk(tensor(b"(" + u("storage") + g("torch", "ComplexFloatStorage") + u("0")
                                                 + u("cpu") + k(6) + b"tQ"))), "ComplexFloatStorage"),
    # zip abuse
    "path_traversal": (torch_zip(pk(b"N"), extra={"archive/../../evil": b"x"}), "path traversal"),
    "absolute_member": (torch_zip(pk(b"N"), extra={"/etc/evil": b"x"}), "absolute path"),
    "duplicate_members": (torch_zip(pk(b"N"), extra={"archive/data/0": bytes(24)}), "two members named"),
    "overlapping_members": (overlap, "overlap"),
    "compression_bomb": (torch_zip(pk(b"N"), extra={"archive/big": bytes(5_000_000)}, deflate=True),
                         "a compression bomb"),
    "lying_bomb": (lying_bomb, "is corrupt (Bad CRC-32"),  # read stops at the declared size
    "torchscript_archive": (torch_zip(pk(b"N"), extra={"archive/constants.pkl": pk(b")"),
                                                       "archive/code/__torch__/m.py": b"def f(): pass"}),
                            "TorchScript archive"),
    "two_prefixes": (torch_zip(pk(b"N"), extra={"other/data.pkl": pk(b"N")}), "one folder"),
    "future_version": (torch_zip(pk(b"N"), extra={"archive/version": b"99\n"}), "format version"),
    "bad_byteorder": (torch_zip(pk(b"N"), extra={"archive/byteorder": b"middle"}), "two members named"),
    # structures
    "self_reference": (torch_zip(pk(b"]q\x00h\x00a")), "contains itself"),
    "dict_self_reference": (torch_zip(pk(b"}q\x00" + u("a") + b"h\x00s")), "contains itself"),
    "exponential_sharing": (torch_zip(pk(doubling)), "exponentially shared"),
    "deep_nesting": (torch_zip(pk(deep)), "nest deeper than"),
    # truncated streams and lying lengths
    "truncated_string": (torch_zip(b"\x80\x02X\xff\x00\x00\x00abc"), "passes the end of the pickle"),
    "huge_length": (torch_zip(b"\x80\x02\x8d" + struct.pack("<Q", 2 ** 63) + b"x."), "passes the end"),
    "huge_long": (torch_zip(b"\x80\x02\x8b" + struct.pack("<i", 10 ** 6) + b"x."), "integer of 1000000 bytes"),
    "no_stop": (torch_zip(b"\x80\x02N"), "no STOP"),
    "stack_underflow": (torch_zip(pk(b"a")), "stack underflow"),
    "memo_get_unset": (torch_zip(pk(b"h\x07")), "memo entry 7"),
    "zip_future_version": (torch_zip(pk(b"N")).replace(b"PK\x01\x02\x14\x03\x14\x00", b"PK\x01\x02\x14\x03\xc8\x00", 1),
                           "NotImplementedError: zip file version 20.0"),  # found by the fuzzer
    "corrupt_deflate": (raw_zip([("index.json", b"\x01\x05\x00\x00\x00", 8)],
                                [("index.json", 0, 5, 5, 8, 0)]), "invalid stored block lengths"),  # the fuzzer's
    "corrupt_deflate_npy": (raw_zip([("index.json", _INDEX_NPY, 0), ("data/0.npy", b"\x01\x05\x00\x00\x00", 8)],
                                    [("index.json", 0, len(_INDEX_NPY), len(_INDEX_NPY), 0, binascii.crc32(_INDEX_NPY)),
                                     ("data/0.npy", 30 + 10 + len(_INDEX_NPY), 5, 5, 8, 0)]),
                            "invalid stored block lengths"),
    "truncated_zip": (torch_zip(pk(b"N"))[:-30], "corrupt zip"),
    "legacy_truncated": (legacy(pk(tensor(legacy_storage(), size=(2,), stride=(1,))),
                                ["1"], [struct.pack("<q", 2) + bytes(4)]), "4 bytes left; 2 elements were declared"),
    "legacy_numel_lie": (legacy(pk(b"N"), ["1"], []), "which no tensor uses"),
    "legacy_trailing": (legacy(pk(b"N"), [], [b"junk"]), "bytes after the last storage"),
    "legacy_persid_in_header": (legacy(pk(b"N"), [], []).replace(pk(b"M\xe9\x03"), pk(b"(" + u("storage") + b"tQ"), 1),
                                "a persistent id (external storage) where none is allowed"),
    "bare_pickle": (pk(g("os", "system") + b"(" + u("id") + b"tR"), "bare pickle"),
    # safetensors
    "st_header_too_big": (safetensors({}, length=2 ** 40), None),
    "st_header_past_end": (safetensors(b"{}", length=1000), "past the end"),
    "st_duplicate": (safetensors(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                 b'"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', bytes(4)), "duplicate key"),
    "st_overlap": (safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8)), "overlap"),
    "st_hole": (safetensors({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8)), "a hole"),
    "st_size": (safetensors({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)), "needs 12"),
    "st_huge_shape": (safetensors({"a": {"dtype": "F32", "shape": [2 ** 40, 2 ** 40], "data_offsets": [0, 8]}},
                                  bytes(8)), "needs"),
    "st_metadata": (safetensors({"__metadata__": {"k": 1}}), "__metadata__"),
    "st_dtype": (safetensors({"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, bytes(8)), "C64"),
    "st_nan": (safetensors(b'{"a":NaN}'), "not JSON"),
    "st_deep": (safetensors(b"{\"a\":" + b"[" * 100000 + b"]" * 100000 + b"}"), "JSON"),
    "st_trailing": (safetensors({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, bytes(5)), "holds 5"),
    # nnlite's own format
    "nnl_npy_huge": (None, "does not match its size"),
}


def _nnl_npy_huge():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.json", json.dumps({"format": "nnlite", "version": 1,
                                              "root": {"type": "ndarray", "file": "data/0.npy"}}))
        header = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }".ljust(117) + "\n"
        zf.writestr("data/0.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    return buf.getvalue()


CASES["nnl_npy_huge"] = (_nnl_npy_huge(), CASES["nnl_npy_huge"][1])


def test_at_least_twenty_hostile_files():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_file_is_refused(case, tmp_path, monkeypatch):
    data, words = CASES[case]
    path = tmp_path / f"{case}.pt"
    path.write_bytes(data)
    monkeypatch.chdir(tmp_path)
    before_files = sorted(os.listdir(tmp_path))
    before_modules = set(sys.modules)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(CheckpointError) as err:
            nnlite.load(path)
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    msg = str(err.value)
    assert isinstance(err.value, ValueError)
    assert str(path) in msg, msg
    if words is not None:
        assert words in msg, msg
    assert elapsed < 5, f"{case} took {elapsed:.1f} s"
    assert peak < 64 * 2 ** 20 + 2 * len(data), f"{case} peaked at {peak / 2 ** 20:.0f} MiB"
    assert set(sys.modules) == before_modules, set(sys.modules) - before_modules
    assert sorted(os.listdir(tmp_path)) == before_files


def test_errors_name_the_offset_of_the_refused_opcode(tmp_path):
    path = tmp_path / "x.pt"
    path.write_bytes(CASES["os_system"][0])
    with pytest.raises(CheckpointError, match=r"at byte 2 of archive/data\.pkl"):
        nnlite.load(path)


def test_vm_limits_are_enforced():
    from nnlite._pickle_vm import PickleRefused, unpickle
    with pytest.raises(PickleRefused, match="memo passes 3"):
        unpickle(pk(b"N" + b"".join(b"q" + bytes([i]) for i in range(5))), "x", {}, limits={"memo": 3})
    with pytest.raises(PickleRefused, match="stack passes 10"):
        unpickle(pk(b"(" + b"N" * 20 + b"t"), "x", {}, limits={"stack": 10})
    with pytest.raises(PickleRefused, match="more than 100 objects"):
        unpickle(pk(b"(" + b"]" * 200 + b"l"), "x", {}, limits={"objects": 100})
    # under the caps, the same shapes load
    assert unpickle(pk(b"(" + b"]" * 200 + b"l"), "x", {})[0] == [[]] * 200


def test_file_objects_and_non_seekable_input():
    with pytest.raises(CheckpointError, match="<file object>"):
        nnlite.load(io.BytesIO(CASES["os_system"][0]))
    with pytest.raises(CheckpointError, match="seekable"):
        class Pipe(io.RawIOBase):
            def readable(self):
                return True

            def tell(self):
                raise OSError("not seekable")
        nnlite.load(Pipe())


@pytest.mark.parametrize("name", sorted(os.listdir(FUZZ_CRASHES)) if os.path.isdir(FUZZ_CRASHES) else [])
def test_fuzzer_crash_inputs_are_refused(name):
    """Inputs on which the atheris fuzzer (benchmarks/fuzz_loaders.py) once crashed nnlite.load."""
    with open(os.path.join(FUZZ_CRASHES, name), "rb") as fh:
        data = fh.read()
    loader = name.split("-")[0]
    try:
        if loader == "torch_zip":  # the input was data.pkl in benchmarks/fuzz_loaders.py's archive
            nnlite.load(io.BytesIO(torch_zip(data, {"0": bytes(range(24)), "1": bytes(8)})))
        elif loader == "legacy":
            _torch_format.load_legacy(data, "<fuzz>", lambda saved: nnlite.device("cpu"))
        elif loader == "safetensors":
            _safetensors.load(data, "<fuzz>")
        else:
            nnlite.load(io.BytesIO(data))
    except CheckpointError:
        pass


# -- randomised: any mutation of a valid file loads or raises CheckpointError, nothing else --------------------

def _valid_files():
    import collections
    sd = collections.OrderedDict(w=nnlite.arange(6.0).reshape(2, 3), p=nnlite.nn.Parameter(nnlite.ones(2)))
    sd["v"] = sd["w"][:, 1]
    sd._metadata = {"": {"version": 1}}
    torch_file, st_file = io.BytesIO(), io.BytesIO()
    nnlite.save({"model": sd, "n": [1, 2.5, None, ("x", nnlite.Size([2]))]}, torch_file, format="torch")
    nnlite.save({"a": nnlite.ones(2, 3), "b": nnlite.tensor([1, 2])}, st_file, format="safetensors")
    pkl = zipfile.ZipFile(torch_file).read("archive/data.pkl")
    storages = {n.rsplit("/", 1)[1]: zipfile.ZipFile(torch_file).read(n)
                for n in zipfile.ZipFile(torch_file).namelist() if "/data/" in n}
    return pkl, storages, st_file.getvalue()


_PKL, _STORAGES, _ST = _valid_files()


def _mutate(data, edits):
    data = bytearray(data)
    for pos, value, kind in edits:
        pos %= len(data) + 1
        if kind == 0 and pos < len(data):
            data[pos] = value
        elif kind == 1:
            data.insert(pos, value)
        elif pos < len(data):
            del data[pos]
    return bytes(data)


edits = st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255), st.integers(0, 2)), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(edits)
def test_mutated_pickles_load_or_raise_checkpoint_error(edits):
    try:
        nnlite.load(io.BytesIO(torch_zip(_mutate(_PKL, edits), _STORAGES)))
    except CheckpointError:
        pass


@settings(max_examples=150, deadline=None)
@given(edits)
def test_mutated_safetensors_load_or_raise_checkpoint_error(edits):
    try:
        nnlite.load(io.BytesIO(_mutate(_ST, edits)))
    except CheckpointError:
        pass


def test_unmutated_seeds_load():
    back = nnlite.load(io.BytesIO(torch_zip(_PKL, _STORAGES)))
    assert back["model"]["v"].tolist() == [1.0, 4.0] and back["n"][3][1] == nnlite.Size([2])
    assert nnlite.load(io.BytesIO(_ST))["b"].tolist() == [1, 2]
