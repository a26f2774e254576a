"""safetensors files read and written without the safetensors package, with the format's checks.

Layout: an unsigned little-endian 64-bit header length ``N``, ``N`` bytes of
UTF-8 JSON, then the data.  The JSON object maps each tensor name to
``{"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}`` (offsets
relative to the start of the data) and may hold ``"__metadata__"``, a string
to string map.  The reader refuses a header over 100 MB, a header that is not
one JSON object, duplicate keys, unknown dtypes, a size other than
shape x dtype size, and offsets that are not contiguous from 0 to the end of
the file (no overlap, no hole).

>>> import io, numpy
>>> from nnlite._safetensors import save, load
>>> buf = io.BytesIO(); save({"w": numpy.arange(3, dtype=numpy.float32)}, buf)
>>> load(buf.getvalue(), "<doc>")["w"].tolist()
[0.0, 1.0, 2.0]
"""
import json
import struct

import numpy

from nnlite import _backend, _dtype
from nnlite._tensor import Tensor
from nnlite.serialization import CheckpointError

__all__ = ["load", "save", "looks_like", "MAX_HEADER"]

MAX_HEADER = 100_000_000
# safetensors dtype -> numpy dtype of the bytes (little-endian); BF16 is widened to float32 exactly
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
          "I8": "i1", "U8": "u1", "BOOL": "u1"}
_WRITE = {_dtype.float64: "F64", _dtype.float32: "F32", _dtype.float16: "F16", _dtype.int64: "I64",
          _dtype.int32: "I32", _dtype.int16: "I16", _dtype.int8: "I8", _dtype.uint8: "U8", _dtype.bool_: "BOOL"}


def looks_like(head):
    """Whether the first bytes of a file are a safetensors header length followed by ``{``."""
    return len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] <= MAX_HEADER


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise CheckpointError(f"duplicate key {k!r} in the header")
        out[k] = v
    return out


def _bad_constant(name):
    raise CheckpointError(f"{name} in the header (not JSON)")


def load(data, name):
    """``{tensor name: Tensor}`` (header order) from the bytes of a safetensors file."""
    def bad(msg):
        return CheckpointError(f"{name}: {msg}")
    if len(data) < 8:
        raise bad(f"a safetensors file needs an 8-byte header length; the file has {len(data)} bytes")
    n = struct.unpack("<Q", data[:8])[0]
    if n > MAX_HEADER:
        raise bad(f"safetensors header of {n} bytes (at most {MAX_HEADER})")
    if 8 + n > len(data):
        raise bad(f"safetensors header of {n} bytes runs past the end of the file ({len(data)} bytes)")
    try:
        text = bytes(data[8:8 + n]).decode("utf-8")
        if not text.startswith("{"):
            raise bad("the safetensors header does not start with '{'")
        header = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_bad_constant)
    except CheckpointError as exc:
        raise bad(f"safetensors header: {exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad(f"the safetensors header is not valid UTF-8 JSON ({type(exc).__name__}: {exc})"[:300]) from None
    if type(header) is not dict:
        raise bad("the safetensors header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is not None and not (type(meta) is dict and all(type(v) is str for v in meta.values())):
        raise bad("__metadata__ must map strings to strings")
    buf_len = len(data) - 8 - n
    entries = []
    for key, e in header.items():
        if type(e) is not dict or set(e) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"tensor {key!r}: an entry needs exactly 'dtype', 'shape' and 'data_offsets'")
        dt, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
        if dt not in DTYPES:
            raise bad(f"tensor {key!r} has dtype {str(dt)[:20]!r}; nnlite reads {', '.join(DTYPES)}")
        if (type(shape) is not list or len(shape) > 64
                or any(type(s) is not int or s < 0 for s in shape)):
            raise bad(f"tensor {key!r}: shape must be a list of at most 64 non-negative integers")
        if type(offs) is not list or len(offs) != 2 or any(type(o) is not int for o in offs) or not (
                0 <= offs[0] <= offs[1]):
            raise bad(f"tensor {key!r}: data_offsets must be [begin, end] with 0 <= begin <= end")
        numel = 1
        for s in shape:
            numel *= s
        if offs[1] - offs[0] != numel * numpy.dtype(DTYPES[dt]).itemsize:
            raise bad(f"tensor {key!r} of shape {shape} and dtype {dt} needs "
                      f"{numel * numpy.dtype(DTYPES[dt]).itemsize} bytes, but its data_offsets span "
                      f"{offs[1] - offs[0]}")
        entries.append((offs[0], offs[1], key, dt, shape))
    pos = 0
    for begin, end, key, _, _ in sorted(entries, key=lambda x: (x[0], x[1])):
        if begin != pos:
            raise bad(f"tensor {key!r} starts at data byte {begin}, not {pos} "
                      f"({'an overlap' if begin < pos else 'a hole'})")
        pos = end
    if pos != buf_len:
        raise bad(f"the tensors cover {pos} data bytes, but the file holds {buf_len} after the header")
    out = {}
    base = 8 + n
    for begin, end, key, dt, shape in entries:
        a = numpy.frombuffer(data, dtype=DTYPES[dt], count=(end - begin) // numpy.dtype(DTYPES[dt]).itemsize,
                             offset=base + begin)
        if dt == "BF16":  # bfloat16 is the top half of a float32: widening is exact
            a = (a.astype(numpy.uint32) << 16).view(numpy.float32)
        elif dt == "BOOL":
            a = a != 0
        else:
            a = a.astype(a.dtype.newbyteorder("="), copy=True)
        out[key] = Tensor._wrap(a.reshape(shape))
    return out


def save(obj, out):
    """Write a flat ``{str: Tensor or numpy array}`` to the binary file ``out`` in the safetensors format."""
    if type(obj) is not dict and not isinstance(obj, dict):
        raise TypeError(f"nnlite.save(format='safetensors') stores a flat dict of tensors, not a "
                        f"{type(obj).__name__}")
    arrays = []
    for k, v in obj.items():
        if type(k) is not str:
            raise TypeError(f"nnlite.save(format='safetensors') needs str keys, got {type(k).__name__}: {k!r}")
        if k == "__metadata__":
            raise ValueError("nnlite.save(format='safetensors'): the key '__metadata__' is reserved by the format")
        a = v._data if isinstance(v, Tensor) else v
        if not (isinstance(a, numpy.ndarray) or _backend.is_cupy_array(a)):
            raise TypeError(f"nnlite.save(format='safetensors') stores tensors and arrays only, but obj[{k!r}] "
                            f"is a {type(v).__name__}")
        a = numpy.asarray(_backend.to_device(a, _backend.CPU))
        dt = _WRITE.get(a.dtype.newbyteorder("="))
        if dt is None:
            raise TypeError(f"nnlite.save(format='safetensors') cannot store dtype {a.dtype} (obj[{k!r}])")
        arrays.append((k, dt, a))
    for i, (k1, _, a1) in enumerate(arrays):
        for k2, _, a2 in arrays[i + 1:]:
            if a1.size and a2.size and numpy.shares_memory(a1, a2):
                raise ValueError(f"nnlite.save(format='safetensors'): {k1!r} and {k2!r} share memory, which "
                                 "the format cannot represent; save a copy (.clone()) of one of them")
    arrays.sort(key=lambda x: (-x[2].itemsize, x[0]))  # larger items first keeps every tensor aligned
    header, pos = {}, 0
    for k, dt, a in arrays:
        header[k] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [pos, pos + a.nbytes]}
        pos += a.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    out.write(struct.pack("<Q", len(raw)) + raw)
    for _, _, a in arrays:
        out.write(numpy.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).reshape(-1).view(numpy.uint8))
