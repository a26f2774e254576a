"""Zip archives from untrusted files: the checks ``zipfile`` does not make, then bounded member reads.

``zipfile`` trusts the central directory: it allows duplicate names, members
whose bytes overlap (one local record read under several names, the trick
behind quadratic "zip bombs"), names like ``../x`` and any compression ratio.
:func:`members` refuses all of these before any member is decompressed;
:func:`read` then reads one member with its declared size as a hard limit
(zipfile stops there and checks the CRC).

>>> import io, zipfile
>>> from nnlite._zip import members, read
>>> buf = io.BytesIO()
>>> with zipfile.ZipFile(buf, "w") as zf: zf.writestr("a/b.txt", "hi")
>>> zf = zipfile.ZipFile(buf); infos = members(zf, buf, "<doc>")
>>> read(zf, infos["a/b.txt"], "<doc>")
b'hi'
"""
import struct
import zipfile
import zlib

__all__ = ["open_zip", "members", "read", "LIMITS", "MEMBER_ERRORS"]

# what reading a damaged member can raise, inside zipfile and zlib
MEMBER_ERRORS = (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, zlib.error)

LIMITS = {
    "members": 100_000,            # entries in the central directory
    "member_bytes": 64 * 2 ** 30,  # uncompressed size of one member
    "total_bytes": 256 * 2 ** 30,  # uncompressed size of all members together
    "ratio": 200,                  # uncompressed / compressed size of a deflated member
}


def _error(name, msg):
    from nnlite.serialization import CheckpointError
    return CheckpointError(f"{name}: {msg}")


def open_zip(fileobj, name):
    """``zipfile.ZipFile(fileobj)``, with every way it fails on a bad central directory as CheckpointError."""
    try:
        return zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, struct.error) as exc:
        raise _error(name, f"a truncated or corrupt zip archive ({type(exc).__name__}: {exc})") from None


def members(zf, fileobj, name, limits=None):
    """``{member name: ZipInfo}`` after the checks; ``fileobj`` is the seekable file ``zf`` reads."""
    lim = dict(LIMITS, **(limits or {}))
    infos = zf.infolist()
    if len(infos) > lim["members"]:
        raise _error(name, f"the zip archive has {len(infos)} members (at most {lim['members']} are read)")
    out = {}
    total = 0
    for info in infos:
        n = info.filename
        parts = n.split("/")
        if (not n or n.startswith("/") or "\\" in n or "\0" in n or ":" in parts[0]
                or any(p in ("..", ".") for p in parts)):
            raise _error(name, f"refused zip member name {n!r} (absolute path or path traversal)")
        if n in out:
            raise _error(name, f"the zip archive has two members named {n!r}")
        if info.flag_bits & 0x61:  # bit 0 and 6: encrypted; bit 5: patched data
            raise _error(name, f"zip member {n!r} is encrypted or patched (flags {info.flag_bits:#x})")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _error(name, f"zip member {n!r} uses compression method {info.compress_type} "
                               "(only stored and deflated are read)")
        if info.file_size > lim["member_bytes"]:
            raise _error(name, f"zip member {n!r} declares {info.file_size} bytes "
                               f"(at most {lim['member_bytes']} are read)")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise _error(name, f"stored zip member {n!r} has size {info.file_size} but occupies "
                               f"{info.compress_size} bytes")
        if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > lim["ratio"] * info.compress_size + 4096:
            raise _error(name, f"zip member {n!r} expands {info.compress_size} bytes to {info.file_size} "
                               f"(a compression bomb? the ratio is capped at {lim['ratio']})")
        total += info.file_size
        if total > lim["total_bytes"]:
            raise _error(name, f"the zip members add up to more than {lim['total_bytes']} bytes")
        out[n] = info
    _check_layout(infos, zf, fileobj, name)
    return out


def _check_layout(infos, zf, fileobj, name):
    """Each member's local record and data must lie before the central directory and overlap no other."""
    end_of_records = zf.start_dir
    spans = []
    for info in infos:
        if not 0 <= info.header_offset < end_of_records:
            raise _error(name, f"zip member {info.filename!r}: local header offset {info.header_offset} lies "
                               f"outside the archive's records (0 to {end_of_records})")
        fileobj.seek(info.header_offset)
        head = fileobj.read(30)
        if len(head) != 30 or head[:4] != b"PK\x03\x04":
            raise _error(name, f"zip member {info.filename!r}: no local header at offset {info.header_offset}")
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        if fileobj.read(name_len) != info.filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"):
            raise _error(name, f"zip member {info.filename!r}: the local header at offset {info.header_offset} "
                               "names another file")
        start = info.header_offset + 30 + name_len + extra_len
        spans.append((info.header_offset, start + info.compress_size, info.filename))
    spans.sort()
    prev_end, prev_name = 0, None
    for begin, end, n in spans:
        if begin < prev_end:
            raise _error(name, f"zip members {prev_name!r} and {n!r} overlap (at offset {begin})")
        prev_end, prev_name = end, n
    if prev_end > end_of_records:
        raise _error(name, f"zip member {prev_name!r} runs into the central directory (offset {end_of_records})")


def read(zf, info, name, limit=None):
    """The bytes of one checked member; ``limit`` refuses members larger than that."""
    if limit is not None and info.file_size > limit:
        raise _error(name, f"zip member {info.filename!r} has {info.file_size} bytes (at most {limit} expected)")
    try:
        with zf.open(info) as member:
            data = member.read(info.file_size + 1)
    except MEMBER_ERRORS as exc:
        raise _error(name, f"zip member {info.filename!r} is corrupt ({exc})") from None
    if len(data) != info.file_size:
        raise _error(name, f"zip member {info.filename!r} holds {len(data)} bytes, not the {info.file_size} "
                           "its directory entry says")
    return data
