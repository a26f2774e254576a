"""PyTorch checkpoints read and written without torch: the zip format (torch >= 1.6) and the legacy format.

The zip format: every member sits under one top-level folder ``P/`` (torch
names it after the file): ``P/data.pkl`` is a pickle (protocol 2) of the
object tree, in which each tensor is
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``
and each storage a persistent id ``('storage', torch.FloatStorage, key,
location, numel)`` whose bytes are the member ``P/data/<key>``;
``P/byteorder`` is ``little`` or ``big``, ``P/version`` the format version.

The legacy format (``torch.save(..., _use_new_zipfile_serialization=False)``)
is a run of pickles: the magic number, protocol version 1001, a sys-info dict,
the object tree (storage ids carry a sixth field, a view record), the list of
storage keys; then, per key, an int64 element count and the raw bytes.

Pickles are read by :mod:`nnlite._pickle_vm` with the allow-list below:
nothing from the file is imported or executed.

>>> import io, nnlite
>>> from nnlite._torch_format import save, load_zip
>>> buf = io.BytesIO(); save({"w": nnlite.ones(2)}, buf)
>>> load_zip(buf, "<doc>", lambda saved: nnlite.device("cpu"))["w"].tolist()
[1.0, 1.0]
"""
import collections
import struct
import sys
import zipfile

import numpy

from nnlite import _backend, _dtype, _pickle_vm, _zip
from nnlite._tensor import Size, Tensor
from nnlite.serialization import CheckpointError, _parameter_class

__all__ = ["load_zip", "load_legacy", "save", "LEGACY_MAGIC", "LIMITS"]

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL = 1001
LIMITS = {"pickle_bytes": 1 << 30, "ndim": 64, "max_version": 10}

# torch storage class -> (numpy dtype of the bytes, nnlite dtype of the tensor)
STORAGES = {
    "DoubleStorage": ("f8", _dtype.float64), "FloatStorage": ("f4", _dtype.float32),
    "HalfStorage": ("f2", _dtype.float16), "BFloat16Storage": ("u2", _dtype.float32),
    "LongStorage": ("i8", _dtype.int64), "IntStorage": ("i4", _dtype.int32),
    "ShortStorage": ("i2", _dtype.int16), "CharStorage": ("i1", _dtype.int8),
    "ByteStorage": ("u1", _dtype.uint8), "BoolStorage": ("u1", _dtype.bool_),
}
_WRITE_STORAGE = {numpy.dtype(v[1]): k for k, v in STORAGES.items() if k != "BFloat16Storage"}
DTYPES = {"float64": _dtype.float64, "double": _dtype.float64, "float32": _dtype.float32,
          "float": _dtype.float32, "float16": _dtype.float16, "half": _dtype.float16, "int64": _dtype.int64,
          "long": _dtype.int64, "int32": _dtype.int32, "int": _dtype.int32, "int16": _dtype.int16,
          "short": _dtype.int16, "int8": _dtype.int8, "uint8": _dtype.uint8, "bool": _dtype.bool_}


class _StorageType:
    """What ``GLOBAL torch FloatStorage`` stands for: a name, usable only inside a storage record."""

    def __init__(self, name):
        self.name = name


class _Storage:
    """One storage: its element type and count, and (once read) a 1-D numpy array of its values."""

    def __init__(self, kind, numel, array):
        self.kind, self.numel, self.array = kind, numel, array


class _Pending:
    """A tensor in the first, dry pass over a legacy file (storages not read yet)."""


def _refuse(msg):
    raise _pickle_vm.PickleRefused(msg, None)


def _int(x, what):
    if type(x) is not int:
        _refuse(f"{what} must be an int, not {type(x).__name__}")
    return x


def _ints(xs, what):
    if type(xs) is not tuple and type(xs) is not Size:
        _refuse(f"{what} must be a tuple, not {type(xs).__name__}")
    return [_int(x, what) for x in xs]


def _empty_hooks(hooks):
    if type(hooks) is not collections.OrderedDict or hooks:
        _refuse("tensors with backward hooks are not supported")


class _Reader:
    """Builds nnlite objects from the allow-listed records of one checkpoint."""

    def __init__(self, name, target, storage_bytes, big_endian):
        self.name, self.target, self.storage_bytes, self.big = name, target, storage_bytes, big_endian
        self.storages = {}   # key -> _Storage
        self.table = {
            ("collections", "OrderedDict"): _pickle_vm.Builder("collections.OrderedDict", _ordered_dict),
            ("torch._utils", "_rebuild_tensor_v2"): _pickle_vm.Builder("_rebuild_tensor_v2", self.tensor_v2),
            ("torch._utils", "_rebuild_tensor"): _pickle_vm.Builder("_rebuild_tensor", self.tensor),
            ("torch._utils", "_rebuild_parameter"): _pickle_vm.Builder("_rebuild_parameter", self.parameter),
            ("torch._utils", "_rebuild_parameter_with_state"):
                _pickle_vm.Builder("_rebuild_parameter_with_state", self.parameter_with_state),
            ("torch", "Size"): _pickle_vm.Builder("torch.Size", _size),
            ("_codecs", "encode"): _pickle_vm.Builder("_codecs.encode", _latin1_bytes),
        }
        self.table.update({("torch", k): _StorageType(k) for k in STORAGES})
        self.table.update({("torch", k): v for k, v in DTYPES.items()})

    def persistent_load(self, pid, legacy=False):
        if type(pid) is not tuple or len(pid) != (6 if legacy else 5) or pid[0] != "storage":
            _refuse(f"unknown persistent record {_short(pid)} (only ('storage', type, key, location, numel))")
        kind, key, location, numel = pid[1:5]
        if type(kind) is not _StorageType:
            _refuse(f"a storage record names {_short(kind)} as its type, not a torch storage class")
        if type(key) is not str or not key or len(key) > 64 or not key.replace("_", "").isalnum():
            _refuse(f"a storage key {_short(key)} (keys are short strings of letters and digits)")
        if type(location) is not str or len(location) > 64:
            _refuse(f"a storage location {_short(location)} (a device name such as 'cpu' expected)")
        numel = _int(numel, "a storage's element count")
        if numel < 0:
            _refuse(f"a storage of {numel} elements")
        if legacy and pid[5] is not None:
            _refuse("legacy storage views (the sixth field of a storage record) are not supported")
        old = self.storages.get(key)
        if old is not None:
            if old.kind != kind.name or old.numel != numel:
                _refuse(f"storage {key!r} is read both as {old.numel} x {old.kind} and as {numel} x {kind.name}")
            return old
        raw_dtype, _ = STORAGES[kind.name]
        raw = self.storage_bytes(key, numel, numpy.dtype(raw_dtype).itemsize)
        st = _Storage(kind.name, numel, None if raw is None else self.decode(raw, kind.name, location))
        self.storages[key] = st
        return st

    def decode(self, raw, kind, location):
        raw_dtype, dtype = STORAGES[kind]
        a = numpy.frombuffer(raw, dtype=numpy.dtype(raw_dtype).newbyteorder(">" if self.big else "<"))
        if kind == "BFloat16Storage":  # bfloat16 is the top half of a float32: widening is exact
            a = (a.astype(numpy.uint32) << 16).view(numpy.float32)
        elif kind == "BoolStorage":
            a = a != 0
        else:
            a = a.astype(dtype, copy=True)  # native byte order, and writable (views share this array)
        a.flags.writeable = True
        return a, location

    def tensor(self, storage, offset, size, stride):
        return self.tensor_v2(storage, offset, size, stride, False, collections.OrderedDict())

    def tensor_v2(self, storage, offset, size, stride, requires_grad, hooks, metadata=None):
        if type(storage) is not _Storage:
            _refuse(f"a tensor's storage is a {type(storage).__name__}, not a storage record")
        offset = _int(offset, "a storage offset")
        size, stride = _ints(size, "a tensor's size"), _ints(stride, "a tensor's stride")
        if type(requires_grad) is not bool:
            _refuse(f"requires_grad must be a bool, not {type(requires_grad).__name__}")
        _empty_hooks(hooks)
        if metadata is not None and not (type(metadata) is dict and not metadata):
            _refuse(f"tensor metadata {_short(metadata)} (conjugate, negative or other flags) is not supported")
        if len(size) != len(stride) or len(size) > LIMITS["ndim"]:
            _refuse(f"a tensor with size {_short(size)} and stride {_short(stride)}")
        if offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
            _refuse(f"a negative offset, size or stride (offset {offset}, size {_short(size)}, "
                    f"stride {_short(stride)})")
        numel = 1
        for s in size:
            numel *= s
        if any(s >= 2 ** 62 for s in size):
            _refuse(f"a tensor of size {_short(size)}")
        if numel > storage.numel:
            _refuse(f"a tensor of size {_short(size)} ({numel} elements) on a storage of {storage.numel}")
        last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if numel else offset - 1
        if last >= storage.numel or offset > storage.numel:
            _refuse(f"a view (offset {offset}, size {_short(size)}, stride {_short(stride)}) reaches element "
                    f"{last} of a storage of {storage.numel} elements")
        if storage.array is None:
            return _Pending()
        base, location = storage.array
        item = base.itemsize
        if numel:  # a size-1 dimension's stride is never used; 0 keeps a huge one from overflowing numpy
            view = numpy.lib.stride_tricks.as_strided(base[offset:], tuple(size),
                                                      tuple(s * item if n > 1 else 0 for n, s in zip(size, stride)))
        else:
            view = numpy.empty(tuple(size), base.dtype)
        dev = self.target(location)
        if dev != _backend.CPU:
            view = _backend.to_device(view, dev)
        t = Tensor._wrap(view)
        if requires_grad:
            if view.dtype.kind != "f":
                _refuse(f"requires_grad on a tensor of dtype {view.dtype}")
            t.requires_grad = True
        return t

    def parameter(self, data, requires_grad, hooks):
        if type(data) is _Pending:
            return data
        if type(data) is not Tensor:
            _refuse(f"a Parameter of a {type(data).__name__}, not a tensor")
        if type(requires_grad) is not bool:
            _refuse(f"requires_grad must be a bool, not {type(requires_grad).__name__}")
        _empty_hooks(hooks)
        Parameter = _parameter_class()
        if Parameter is None:
            _refuse("this nnlite has no nnlite.nn.Parameter")
        if requires_grad and data.dtype.kind != "f":
            _refuse(f"requires_grad on a Parameter of dtype {data.dtype}")
        return Parameter(data, requires_grad=requires_grad)

    def parameter_with_state(self, data, requires_grad, hooks, state):
        def empty(x):
            return x is None or (type(x) is dict and not x)
        if not (empty(state) or (type(state) is tuple and all(empty(x) for x in state))):
            _refuse(f"Parameter state {_short(state)} (a Parameter subclass?) is not supported")
        return self.parameter(data, requires_grad, hooks)

    def run(self, data, start=0, legacy=False, storages=True):
        pload = (lambda pid: self.persistent_load(pid, legacy=True)) if legacy else self.persistent_load
        pload = pload if storages else None
        return _pickle_vm.unpickle(data, self.name, self.table, pload, start)


def _ordered_dict(*args):
    if not args:
        return collections.OrderedDict()
    if len(args) == 1 and type(args[0]) is list and all(type(p) is tuple and len(p) == 2 for p in args[0]):
        d = collections.OrderedDict()
        for k, v in args[0]:
            if type(k) not in (str, int, float, bool, bytes, type(None)):
                _refuse(f"an OrderedDict key of type {type(k).__name__!r}")
            d[k] = v
        return d
    _refuse("OrderedDict(...) with arguments other than () or a list of pairs")


def _size(dims=()):
    return Size(_ints(dims, "torch.Size"))


def _latin1_bytes(text, encoding):
    if type(text) is not str or encoding != "latin1":
        _refuse("_codecs.encode other than (str, 'latin1'), which is how protocol 2 stores bytes")
    return text.encode("latin1")


def _short(x):
    r = repr(x) if type(x) in (str, int, float, bool, tuple, list, type(None)) else f"<{type(x).__name__}>"
    return r if len(r) <= 80 else r[:77] + "..."


def _refused(name, exc, member):
    at = f" at byte {exc.offset} of {member}" if exc.offset is not None else f" in {member}"
    return CheckpointError(f"{name}: {exc.msg}{at}")


# -- reading ---------------------------------------------------------------------------------------------

def load_zip(fileobj, name, target, zf=None):
    """The object tree of a PyTorch zip checkpoint; ``fileobj`` is seekable, ``target`` maps saved devices."""
    zf = zf or _zip.open_zip(fileobj, name)
    infos = _zip.members(zf, fileobj, name)
    prefixes = {n.split("/", 1)[0] for n in infos}
    if len(prefixes) != 1 or any("/" not in n for n in infos):
        raise CheckpointError(f"{name}: a PyTorch archive keeps every member under one folder; found "
                              f"{sorted(prefixes)[:5]}")
    p = prefixes.pop() + "/"
    if p + "constants.pkl" in infos or p + "bytecode.pkl" in infos or any(n.startswith(p + "code/") for n in infos):
        raise CheckpointError(f"{name} is a TorchScript archive (torch.jit.save): it holds code, which nnlite "
                              "never runs; save the model's state_dict() with torch.save instead")
    if p + "data.pkl" not in infos:
        raise CheckpointError(f"{name} is a zip archive with neither index.json (an nnlite checkpoint) nor "
                              f"{p}data.pkl (a PyTorch checkpoint)")
    version = infos.get(p + "version") or infos.get(p + ".data/version")
    if version is not None:
        text = _zip.read(zf, version, name, limit=16).strip()
        if not text.isdigit() or not 1 <= int(text) <= LIMITS["max_version"]:
            raise CheckpointError(f"{name}: PyTorch archive format version {text[:16]!r} (nnlite reads 1 to "
                                  f"{LIMITS['max_version']})")
    big = False
    if p + "byteorder" in infos:
        order = _zip.read(zf, infos[p + "byteorder"], name, limit=16)
        if order not in (b"little", b"big"):
            raise CheckpointError(f"{name}: byteorder record {order[:16]!r} (little or big expected)")
        big = order == b"big"

    def storage_bytes(key, numel, itemsize):
        info = infos.get(f"{p}data/{key}")
        if info is None:
            _refuse(f"storage {key!r} has no member {p}data/{key}")
        if info.file_size != numel * itemsize:
            _refuse(f"storage {key!r} declares {numel} elements of {itemsize} bytes but {p}data/{key} holds "
                    f"{info.file_size} bytes")
        return _zip.read(zf, info, name)

    pkl = _zip.read(zf, infos[p + "data.pkl"], name, limit=LIMITS["pickle_bytes"])
    reader = _Reader(name, target, storage_bytes, big)
    try:
        obj, end = reader.run(pkl)
    except _pickle_vm.PickleRefused as exc:
        raise _refused(name, exc, p + "data.pkl") from None
    if end != len(pkl):
        raise CheckpointError(f"{name}: {len(pkl) - end} bytes after the end of the pickle in {p}data.pkl")
    return obj


def is_legacy(head):
    """Whether a file starting with ``head`` is a legacy PyTorch checkpoint (its magic number, pickled)."""
    return head.startswith(b"\x80\x02\x8a\x0a" + LEGACY_MAGIC.to_bytes(10, "little"))


def load_legacy(data, name, target):
    """The object tree of a legacy (pre-zip) PyTorch checkpoint held in the bytes ``data``."""
    def step(what, reader, pos, legacy=False):
        try:
            return reader.run(data, pos, legacy, storages=reader is not plain)
        except _pickle_vm.PickleRefused as exc:
            raise _refused(name, exc, f"the legacy file ({what})") from None

    plain = _Reader(name, target, None, False)
    magic, pos = step("magic number", plain, 0)
    proto, pos = step("protocol version", plain, pos)
    if type(magic) is not int or type(proto) is not int or magic != LEGACY_MAGIC or proto != LEGACY_PROTOCOL:
        raise CheckpointError(f"{name}: legacy PyTorch header with magic {magic!r} and protocol {proto!r}")
    info, pos = step("sys info", plain, pos)
    if type(info) is not dict or type(info.get("little_endian")) is not bool:
        raise CheckpointError(f"{name}: the legacy sys-info record is not a dict with 'little_endian'")
    big = not info["little_endian"]
    tree_at = pos
    dry = _Reader(name, target, lambda key, numel, itemsize: None, big)
    _, pos = step("object tree", dry, tree_at, legacy=True)
    keys, pos = step("storage keys", plain, pos)
    if type(keys) is not list or any(type(k) is not str for k in keys) or len(set(keys)) != len(keys):
        raise CheckpointError(f"{name}: the legacy storage key list is not a list of distinct strings")
    where = {}
    for key in keys:
        st = dry.storages.get(key)
        if st is None:
            raise CheckpointError(f"{name}: the legacy file stores storage {key!r}, which no tensor uses")
        if pos + 8 > len(data):
            raise CheckpointError(f"{name}: truncated at byte {pos} (the size of storage {key!r})")
        numel = struct.unpack(">q" if big else "<q", data[pos:pos + 8])[0]
        nbytes = st.numel * numpy.dtype(STORAGES[st.kind][0]).itemsize
        if numel != st.numel or pos + 8 + nbytes > len(data):
            raise CheckpointError(f"{name}: storage {key!r} at byte {pos} holds {numel} elements with "
                                  f"{len(data) - pos - 8} bytes left; {st.numel} elements were declared")
        where[key] = pos + 8
        pos += 8 + nbytes
    missing = set(dry.storages) - set(where)
    if missing:
        raise CheckpointError(f"{name}: the legacy file lacks the bytes of storage {sorted(missing)[0]!r}")
    if pos != len(data):
        raise CheckpointError(f"{name}: {len(data) - pos} bytes after the last storage (at byte {pos})")

    def storage_bytes(key, numel, itemsize):
        return data[where[key]:where[key] + numel * itemsize]
    obj, _ = step("object tree", _Reader(name, target, storage_bytes, big), tree_at, legacy=True)
    return obj


# -- writing ---------------------------------------------------------------------------------------------

class _Pickler:
    """Writes an object tree as PyTorch's data.pkl (protocol 2) and collects the storages it names."""

    def __init__(self):
        self.out = bytearray(b"\x80\x02")
        self.memo = {}          # id(tensor) -> memo index
        self.globals = {}       # (module, name) -> memo index
        self.keep = []          # keeps memoised objects alive so their ids stay unique
        self.storages = []      # [(key, contiguous little-endian array)]
        self.storage_keys = {}  # id(base array) -> key

    def put(self, obj):
        i = self.memo[id(obj)] = len(self.memo) + len(self.globals)
        self.keep.append(obj)
        self.out += b"q" + bytes([i]) if i < 256 else b"r" + struct.pack("<I", i)

    def get(self, obj):
        i = self.memo.get(id(obj))
        if i is None:
            return False
        self.out += b"h" + bytes([i]) if i < 256 else b"j" + struct.pack("<I", i)
        return True

    def glob(self, module, name):
        i = self.globals.get((module, name))
        if i is not None:
            self.out += b"h" + bytes([i]) if i < 256 else b"j" + struct.pack("<I", i)
            return
        self.out += f"c{module}\n{name}\n".encode("ascii")
        i = self.globals[module, name] = len(self.memo) + len(self.globals)
        self.out += b"q" + bytes([i]) if i < 256 else b"r" + struct.pack("<I", i)

    def node(self, obj, where, path):
        t = type(obj)
        out = self.out
        if obj is None:
            out += b"N"
        elif t is bool:
            out += b"\x88" if obj else b"\x89"
        elif t is int:
            if 0 <= obj < 256:
                out += b"K" + bytes([obj])
            elif -2 ** 31 <= obj < 2 ** 31:
                out += b"J" + struct.pack("<i", obj)
            else:
                raw = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
                out += b"\x8a" + bytes([len(raw)]) + raw
        elif t is float:
            out += b"G" + struct.pack(">d", obj)
        elif t is str:
            raw = obj.encode("utf-8", "surrogatepass")
            out += b"X" + struct.pack("<I", len(raw)) + raw
        elif t is Size:
            self.glob("torch", "Size")
            self.node(tuple(obj), where, path)
            out += b"\x85R"
        elif id(obj) in path:
            raise ValueError(f"nnlite.save: {where} contains itself (a circular reference)")
        elif t is list or t is tuple:
            inner = path + (id(obj),)
            out += b"]" if t is list else b"("
            if t is list and obj:
                out += b"("
            for i, v in enumerate(obj):
                self.node(v, f"{where}[{i}]", inner)
            out += (b"e" if obj else b"") if t is list else b"t"
        elif t is dict or t is collections.OrderedDict:
            inner = path + (id(obj),)
            if t is dict:
                out += b"}"
            else:
                self.glob("collections", "OrderedDict")
                out += b")R"
            if obj:
                out += b"("
                for k, v in obj.items():
                    if type(k) not in (str, int, bool, float):
                        raise TypeError(f"nnlite.save: dict keys must be str, int or float, but {where} has a key "
                                        f"of type {type(k).__name__!r}: {k!r}")
                    self.node(k, where, inner)
                    self.node(v, f"{where}[{k!r}]", inner)
                out += b"u"
            meta = getattr(obj, "_metadata", None)
            if t is collections.OrderedDict and meta is not None:
                out += b"}"
                self.node("_metadata", where, inner)
                self.node(meta, f"{where}._metadata", inner)
                out += b"sb"
        elif isinstance(obj, Tensor) or isinstance(obj, numpy.ndarray) or _backend.is_cupy_array(obj):
            self.tensor(obj, where)
        else:
            raise TypeError(f"nnlite.save(format='torch') cannot store an object of type {t.__name__!r} (at "
                            f"{where}); it stores dicts, lists, tuples, numbers, strings, None, torch.Size, "
                            "numpy arrays and Tensors")

    def tensor(self, obj, where):
        if self.get(obj):
            return
        Parameter = _parameter_class()
        is_param = Parameter is not None and isinstance(obj, Parameter)
        arr = obj._data if isinstance(obj, Tensor) else obj
        if not isinstance(arr, numpy.ndarray):
            arr = _backend.to_device(arr, _backend.CPU)
        kind = _WRITE_STORAGE.get(arr.dtype.newbyteorder("="))
        if kind is None:
            raise TypeError(f"nnlite.save(format='torch') cannot store dtype {arr.dtype} (at {where})")
        key, offset, stride = self.storage(arr)
        if is_param:
            self.glob("torch._utils", "_rebuild_parameter")
            self.out += b"("
        self.glob("torch._utils", "_rebuild_tensor_v2")
        self.out += b"(("
        self.node("storage", where, ())
        self.glob("torch", kind)
        self.node(key, where, ())
        self.node("cpu", where, ())
        self.node(self.storages[int(key)][1].size, where, ())
        self.out += b"tQ"
        self.node(offset, where, ())
        self.node(tuple(arr.shape), where, ())
        self.node(stride, where, ())
        rg = bool(isinstance(obj, Tensor) and obj.requires_grad)
        self.node(False if is_param else rg, where, ())
        self.glob("collections", "OrderedDict")
        self.out += b")RtR"
        if is_param:
            self.node(rg, where, ())
            self.glob("collections", "OrderedDict")
            self.out += b")RtR"
        self.put(obj)

    def storage(self, arr):
        """(key, element offset, element strides): views of one C-contiguous base array share its storage."""
        item = arr.itemsize
        root = arr
        while isinstance(root.base, numpy.ndarray):
            root = root.base
        native_le = arr.dtype.byteorder in ("=", "|", "<") and (arr.dtype.byteorder != "=" or sys.byteorder == "little")
        # stride-0 (broadcast) views are written as copies: nnlite.load refuses views larger than their storage
        shared = (native_le and root.dtype == arr.dtype and root.flags.c_contiguous
                  and all((s > 0 or n <= 1) and s % item == 0 for s, n in zip(arr.strides, arr.shape)))
        if shared:
            off = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
            shared = off >= 0 and off % item == 0
        if not shared:
            root = numpy.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
            off = 0
            stride = tuple(s // item for s in root.strides)
        else:
            stride = tuple(s // item for s in arr.strides)
        key = self.storage_keys.get(id(root))
        if key is None:
            key = self.storage_keys[id(root)] = str(len(self.storages))
            self.storages.append((key, root.reshape(-1) if root.flags.c_contiguous else root.ravel()))
            self.keep.append(root)
        return key, off // item, stride


def save(obj, out):
    """Write ``obj`` to the binary file ``out`` in PyTorch's zip format (readable by ``torch.load``)."""
    p = _Pickler()
    p.node(obj, "obj", ())
    p.out += b"."
    records = [("data.pkl", bytes(p.out)), (".format_version", b"1"), (".storage_alignment", b"64"),
               ("byteorder", b"little")]
    records += [(f"data/{k}", a) for k, a in p.storages]
    records += [("version", b"3\n"), (".data/serialization_id", b"0" * 40)]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for rel, payload in records:
            info = zipfile.ZipInfo("archive/" + rel, date_time=(1980, 1, 1, 0, 0, 0))
            data_at = zf.start_dir + 30 + len(info.filename) + 4
            pad = -data_at % 64
            info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # 'FB' padding, as torch aligns storages
            nbytes = payload.nbytes if isinstance(payload, numpy.ndarray) else len(payload)
            with zf.open(info, "w", force_zip64=nbytes > 2 ** 30) as member:
                member.write(payload.view(numpy.uint8) if isinstance(payload, numpy.ndarray) else payload)
