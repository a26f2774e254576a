"""``save`` and ``load``: checkpoints as a zip of JSON and ``.npy`` files, never a pickle.

>>> import nnlite, numpy, os, tempfile
>>> from nnlite.serialization import save, load
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.nnl")
>>> save({"step": 3, "w": nnlite.ones(2, requires_grad=True)}, path)
>>> state = load(path)
>>> state["step"], state["w"].tolist(), state["w"].requires_grad
(3, [1.0, 1.0], True)

File format, version 1 (also in ``docs/serialization.md``).  The file is a zip
archive, members stored uncompressed (``ZIP_STORED``):

* ``index.json``: ``{"format": "nnlite", "version": 1, "root": NODE}``.
  A NODE is a JSON ``null``/``true``/``false``/integer/finite float/string for
  the Python value of that type, or an object with a ``"type"`` field:

  - ``{"type": "list", "items": [NODE, ...]}``, same for ``"tuple"``;
  - ``{"type": "dict", "items": [[KEY, NODE], ...]}``, same for
    ``"OrderedDict"``; KEY is a JSON string or integer, in insertion order;
    an OrderedDict may carry ``"metadata": NODE`` (PyTorch-style
    ``state_dict._metadata``);
  - ``{"type": "float", "value": "nan" | "inf" | "-inf"}`` (JSON has no such numbers);
  - ``{"type": "ndarray", "file": NAME}``, with ``"scalar": true`` for a
    numpy scalar such as ``numpy.float32(1)``;
  - ``{"type": "Tensor" | "Parameter", "file": NAME, "requires_grad": bool,
    "device": "cpu" | "cuda:0" | ...}`` (the device it was saved from).

* ``NAME`` (``data/0.npy``, ``data/1.npy``, ...): one array in numpy's ``.npy``
  format, written with ``allow_pickle=False``.  An array object that appears
  several times in the tree is stored once and loaded as one object.

Loading never executes anything from the file: JSON is parsed, and arrays are
read with ``allow_pickle=False``.

:func:`load` also reads PyTorch checkpoints (zip and legacy formats, through the
restricted pickle interpreter in ``nnlite._pickle_vm``) and safetensors files,
and :func:`save` writes them with ``format="torch"`` / ``"safetensors"``; the
format code lives in ``nnlite._torch_format``, ``nnlite._safetensors`` and
``nnlite._zip`` (see ``docs/interop.md``).
"""
import collections
import math
import os

import numpy
from numpy.lib import format as npy_format

from nnlite import _backend
from nnlite._tensor import Tensor

__all__ = ["save", "load", "CheckpointError"]

FORMAT = "nnlite"
VERSION = 1
_INDEX = "index.json"
FORMATS = ("nnlite", "torch", "safetensors")


class CheckpointError(ValueError):
    """A checkpoint that :func:`load` refuses: corrupt, truncated, hostile or outside what nnlite reads.

    The message names the file and what was refused (and, for a pickle, the
    byte offset of the opcode).  It is a ``ValueError``, so ``except ValueError``
    keeps working.

    >>> import io, nnlite
    >>> nnlite.load(io.BytesIO(b"not a checkpoint"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    nnlite.serialization.CheckpointError: '<file object>' is not a checkpoint nnlite reads: ...
    """


def save(obj, f, format="nnlite"):
    """Write ``obj`` to ``f`` (a path, or a writable binary file object) as a checkpoint.

    ``format`` is ``"nnlite"`` (the default: nnlite's own format, below),
    ``"torch"`` (PyTorch's zip format, which ``torch.load(f, weights_only=True)``
    reads: Tensors and Parameters come back as torch tensors and parameters,
    numpy arrays as tensors, ``nnlite.Size`` as ``torch.Size``; views of one
    array share one storage) or ``"safetensors"`` (a flat dict of str to
    tensors or arrays; arrays that share memory are refused).  See
    ``docs/interop.md``.

    ``obj`` may nest dicts and OrderedDicts (str or int keys, order kept),
    lists, tuples, ints, floats, bools, None, strings, numpy arrays and
    scalars, and nnlite Tensors and Parameters (GPU ones are saved from a host
    copy).  Anything else raises ``TypeError`` naming the type and where it is,
    before anything is written.  Saving to a path is atomic: the checkpoint is
    written to a temporary file beside ``f``, synced, then renamed over ``f``,
    so a crash leaves either the old file or the new one, never a partial file.

    >>> import nnlite, numpy, os, tempfile
    >>> from nnlite.serialization import save, load
    >>> path = os.path.join(tempfile.mkdtemp(), "state.nnl")
    >>> save({"conv.weight": numpy.ones((4, 1, 3), numpy.float32)}, path)
    >>> save({"f": print}, path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    TypeError: nnlite.save cannot store an object of type 'builtin_function_or_method' (at obj['f']); ...

    See PyTorch's ``torch.save`` (nnlite stores data, never arbitrary objects).
    """
    if format not in FORMATS:
        raise ValueError(f"nnlite.save: format must be one of {', '.join(map(repr, FORMATS))}, not {format!r}")
    if format == "nnlite":
        arrays = []
        index = {"format": FORMAT, "version": VERSION, "root": _Encoder(arrays).node(obj, "obj", ())}

        def write(out):
            _write(out, index, arrays)
    elif format == "torch":
        from nnlite import _torch_format
        import io
        staged = io.BytesIO()          # everything is checked (and staged) before the target is touched
        _torch_format.save(obj, staged)

        def write(out):
            out.write(staged.getbuffer())
    else:
        from nnlite import _safetensors
        import io
        staged = io.BytesIO()
        _safetensors.save(obj, staged)

        def write(out):
            out.write(staged.getbuffer())
    if hasattr(f, "write"):
        write(f)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    tmp, fd = _create_temp(directory, os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def load(f, map_location=None, weights_only=None, **pickle_load_args):
    """Read a checkpoint from ``f`` (a path or a seekable binary file object), recognising its format by content.

    Formats: nnlite's own (written by :func:`save`), PyTorch's zip format
    (torch >= 1.6) and its legacy format, and safetensors, all read without
    torch.  Tensors and Parameters come back on the CPU with their
    ``requires_grad``, unless ``map_location`` says otherwise: a device
    (``'cuda:0'``, ``nnlite.device('cpu')``) puts every tensor there; a dict
    maps the device a tensor was saved from (``{'cuda:0': 'cuda:1'}``) and
    leaves unlisted ones on the CPU.  numpy arrays in nnlite files stay numpy
    arrays.  PyTorch bfloat16 tensors become float32 (exactly: every bfloat16
    value is a float32 value).

    Nothing in the file is executed or imported.  PyTorch pickles are read by
    a restricted interpreter that understands an exact allow-list (tensors,
    Parameters, ``torch.Size``, ``OrderedDict`` with ``_metadata``, plain
    data); anything else, and any file that is corrupt, truncated, hostile or
    over a size cap, raises :class:`CheckpointError` naming the file and what
    was refused.  ``weights_only`` is accepted for PyTorch compatibility:
    ``True`` (PyTorch's default) is how nnlite always loads, and ``False`` does
    *not* enable arbitrary objects or code, which nnlite never runs.

    >>> import nnlite, collections, os, tempfile
    >>> from nnlite.serialization import save, load
    >>> path = os.path.join(tempfile.mkdtemp(), "state.nnl")
    >>> save(collections.OrderedDict(b=1, a=(2.5, "x", None)), path)
    >>> state = load(path)
    >>> type(state).__name__, list(state.items())
    ('OrderedDict', [('b', 1), ('a', (2.5, 'x', None))])

    See PyTorch's ``torch.load`` with ``weights_only=True``, and ``docs/interop.md``.
    """
    if weights_only not in (None, True, False):
        raise TypeError(f"weights_only must be a bool or None, not {type(weights_only).__name__}")
    unknown = set(pickle_load_args) - {"mmap", "encoding"}
    if unknown:
        raise TypeError(f"load() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    target = _target(map_location)
    if hasattr(f, "read"):
        return _load_file(f, repr(getattr(f, "name", "<file object>")), target)
    path = os.fspath(f)
    with open(path, "rb") as fh:
        return _load_file(fh, repr(path), target)


def _load_file(fh, name, target):
    try:
        start = fh.tell()
        head = fh.read(512)
        fh.seek(start)
    except (OSError, AttributeError, ValueError) as exc:
        raise CheckpointError(f"{name}: nnlite.load needs a readable, seekable binary file ({exc})") from None
    if not isinstance(head, bytes):
        raise CheckpointError(f"{name}: nnlite.load needs a binary file, but read() gave {type(head).__name__}")
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        from nnlite import _zip
        with _zip.open_zip(fh, name) as zf:
            infos = _zip.members(zf, fh, name)
            if _INDEX in infos:
                return _load_nnlite(zf, infos, name, target)
            from nnlite import _torch_format
            return _torch_format.load_zip(fh, name, target, zf)
    from nnlite import _safetensors, _torch_format
    if _torch_format.is_legacy(head):
        return _torch_format.load_legacy(fh.read(), name, target)
    if _safetensors.looks_like(head):
        return _safetensors.load(fh.read(), name)
    if head[:1] == b"\x80":
        what = "a bare pickle, not a PyTorch checkpoint (nnlite never unpickles arbitrary files)"
    elif head[257:262] == b"ustar" or head[:2] == b"\x1f\x8b":
        what = "a tar or gzip file (PyTorch's pre-1.0 tar format is not supported)"
    else:
        what = f"its first bytes are {head[:16]!r}"
    raise CheckpointError(f"{name} is not a checkpoint nnlite reads: nnlite, PyTorch (zip or legacy) and "
                          f"safetensors files are; {what}")


def _load_nnlite(zf, infos, name, target):
    import json
    import zipfile
    from nnlite import _zip
    try:
        raw = _zip.read(zf, infos[_INDEX], name, limit=1 << 30)
        try:
            index = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise CheckpointError(f"{name}: {_INDEX} is not valid JSON ({exc})") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            raise CheckpointError(f"{name} is not an nnlite checkpoint (format field "
                                  f"{index.get('format') if isinstance(index, dict) else None!r})")
        if index.get("version") != VERSION:
            raise CheckpointError(f"{name} has checkpoint format version {index.get('version')!r}; this nnlite "
                                  f"reads version {VERSION} (was it written by a newer nnlite?)")
        if "root" not in index:
            raise CheckpointError(f"{name} is a malformed nnlite checkpoint: {_INDEX} has no 'root'")
        return _Decoder(zf, name, target).node(index["root"])
    except zipfile.BadZipFile as exc:
        raise CheckpointError(f"{name} is not an nnlite checkpoint, or is truncated or corrupt ({exc})") from None
    except EOFError as exc:
        raise CheckpointError(f"{name} is truncated ({exc})") from None
    except RecursionError:
        raise CheckpointError(f"{name}: {_INDEX} nests too deeply") from None


# -- writing -------------------------------------------------------------------------------------------

class _Encoder:
    """Turns an object tree into JSON nodes, collecting arrays (each distinct object once)."""

    def __init__(self, arrays):
        self.arrays = arrays      # [(name, array or Tensor)]
        self.names = {}           # id(array object) -> member name
        self.keep = []            # keeps those objects alive so ids stay unique

    def node(self, obj, where, path):
        t = type(obj)
        if obj is None or t is bool or t is int or t is str:
            return obj
        if t is float:
            return obj if math.isfinite(obj) else {"type": "float", "value": repr(obj)}
        if id(obj) in path:
            raise ValueError(f"nnlite.save: {where} contains itself (a circular reference)")
        if t is list or t is tuple:
            inner = path + (id(obj),)
            return {"type": t.__name__, "items": [self.node(v, f"{where}[{i}]", inner) for i, v in enumerate(obj)]}
        if t is dict or t is collections.OrderedDict:
            inner = path + (id(obj),)
            items = []
            for k, v in obj.items():
                if type(k) not in (str, int, bool):
                    raise TypeError(f"nnlite.save: dict keys must be str or int, but {where} has a key of type "
                                    f"{type(k).__name__!r}: {k!r}")
                items.append([k, self.node(v, f"{where}[{k!r}]", inner)])
            out = {"type": t.__name__, "items": items}
            meta = getattr(obj, "_metadata", None)
            if t is collections.OrderedDict and meta is not None:
                out["metadata"] = self.node(meta, f"{where}._metadata", inner)
            return out
        if isinstance(obj, (numpy.ndarray, numpy.generic)) or _backend.is_cupy_array(obj):
            if obj.dtype.hasobject:
                raise TypeError(f"nnlite.save cannot store a numpy array of dtype object (at {where})")
            out = {"type": "ndarray", "file": self.file(obj)}
            if isinstance(obj, numpy.generic):
                out["scalar"] = True
            return out
        if t is Tensor or (t is _parameter_class() and t is not None):
            return {"type": "Tensor" if t is Tensor else "Parameter", "file": self.file(obj), "requires_grad": bool(obj.requires_grad),
                    "device": str(obj.device)}
        raise TypeError(f"nnlite.save cannot store an object of type {t.__name__!r} (at {where}); it stores "
                        "dicts, lists, tuples, numbers, strings, None, numpy arrays and Tensors")

    def file(self, obj):
        name = self.names.get(id(obj))
        if name is None:
            name = self.names[id(obj)] = f"data/{len(self.arrays)}.npy"
            self.arrays.append((name, obj))
            self.keep.append(obj)
        return name


def _write(out, index, arrays):
    import json
    import zipfile
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_INDEX, json.dumps(index, allow_nan=False, separators=(",", ":")))
        for name, obj in arrays:
            if isinstance(obj, Tensor):
                obj = obj._data
            arr = obj if isinstance(obj, numpy.generic) else _backend.to_device(obj, _backend.CPU)
            arr = numpy.asarray(arr)
            with zf.open(name, "w", force_zip64=arr.nbytes > 2 ** 30) as member:
                npy_format.write_array(member, arr, allow_pickle=False)


def _create_temp(directory, base):
    """A new file beside the target, created with the usual permissions (mkstemp would make it 0600)."""
    import secrets
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"nnlite.save could not create a temporary file in {directory!r}")


def _fsync_dir(directory):
    """Make the rename durable; not possible on every OS or file system, so failures are ignored."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _parameter_class():
    """``nnlite.nn.Parameter``, imported late (nnlite.nn imports more than a checkpoint needs), or None."""
    try:
        from nnlite.nn.parameter import Parameter
    except ImportError:
        return None
    return Parameter


# -- reading -------------------------------------------------------------------------------------------

def _target(map_location):
    """A function (saved device string) -> device to restore on."""
    if map_location is None:
        return lambda saved: _backend.CPU
    if isinstance(map_location, (str, _backend.device)):
        dev = _backend.resolve_device(map_location)
        return lambda saved: dev
    if isinstance(map_location, dict):
        table = {str(_backend.device(k)): v for k, v in map_location.items()}

        def target(saved):
            to = table.get(saved, table.get(saved.partition(":")[0]))  # 'cuda' matches every cuda:i
            return _backend.CPU if to is None else _backend.resolve_device(to)
        return target
    raise TypeError(f"map_location should be None, a device, a string or a dict, not {type(map_location).__name__}")


class _Decoder:
    def __init__(self, zf, name, target):
        self.zf, self.name, self.target = zf, name, target
        self.members = set(zf.namelist())
        self.loaded = {}  # member name -> object, so shared objects stay shared

    def bad(self, msg):
        return CheckpointError(f"{self.name} is a malformed nnlite checkpoint: {msg}")

    def node(self, n):
        if n is None or isinstance(n, (bool, int, float, str)):
            return n
        if not isinstance(n, dict):
            raise self.bad(f"unexpected node {n!r}")
        kind = n.get("type")
        if kind in ("list", "tuple"):
            items = [self.node(v) for v in self.field(n, "items", list)]
            return items if kind == "list" else tuple(items)
        if kind in ("dict", "OrderedDict"):
            out = {} if kind == "dict" else collections.OrderedDict()
            for item in self.field(n, "items", list):
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))):
                    raise self.bad(f"bad dict item {item!r}")
                out[item[0]] = self.node(item[1])
            if "metadata" in n:
                out._metadata = self.node(n["metadata"])
            return out
        if kind == "float":
            value = n.get("value")
            if value not in ("nan", "inf", "-inf"):
                raise self.bad(f"bad float {value!r}")
            return float(value)
        if kind in ("ndarray", "Tensor", "Parameter"):
            return self.array(n, kind)
        raise self.bad(f"unknown node type {kind!r}")

    def field(self, n, key, typ):
        v = n.get(key)
        if not isinstance(v, typ):
            raise self.bad(f"a {n.get('type')} node has no valid {key!r}")
        return v

    def array(self, n, kind):
        file = self.field(n, "file", str)
        key = (file, kind)
        if key in self.loaded:
            return self.loaded[key]
        if file not in self.members:
            raise self.bad(f"missing member {file!r}")
        from nnlite._zip import MEMBER_ERRORS
        try:
            with self.zf.open(file) as member:  # the header's size must match the member before numpy allocates
                version = npy_format.read_magic(member)
                read_header = (npy_format.read_array_header_1_0 if version == (1, 0)
                               else npy_format.read_array_header_2_0)
                shape, _, dtype = read_header(member, max_header_size=10000)
                if dtype.hasobject:
                    raise ValueError("it holds an object array, a pickle, which nnlite never unpickles")
                if math.prod(shape) * dtype.itemsize + member.tell() != self.zf.getinfo(file).file_size:
                    raise ValueError(f"its header declares {shape} x {dtype}, which does not match its size")
            with self.zf.open(file) as member:
                arr = npy_format.read_array(member, allow_pickle=False)
        except MEMBER_ERRORS + (TypeError, SyntaxError) as exc:
            raise self.bad(f"cannot read {file!r} ({exc})") from None
        if kind == "ndarray":
            obj = arr[()] if n.get("scalar") else arr
        else:
            dev = self.target(self.field(n, "device", str))
            data = _backend.to_device(arr, dev)
            requires_grad = bool(n.get("requires_grad", False))
            if kind == "Tensor":
                obj = Tensor(data, requires_grad=requires_grad)
            else:
                Parameter = _parameter_class()
                if Parameter is None:
                    raise RuntimeError(f"{self.name} holds a Parameter, but this nnlite has no "
                                       "nnlite.nn.parameter.Parameter")
                obj = Parameter(Tensor(data), requires_grad=requires_grad)
        self.loaded[key] = obj
        return obj

