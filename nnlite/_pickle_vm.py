"""A restricted pickle virtual machine: reads the data part of a pickle, never runs or imports anything.

``pickle.load`` resolves every ``GLOBAL`` with ``find_class`` (an import) and
calls whatever ``REDUCE`` names, so a pickle is a program.  This VM is a
separate interpreter of the opcodes that plain data needs.  A ``GLOBAL`` or
``STACK_GLOBAL`` is looked up in an exact table of ``(module, name)`` pairs
given by the caller, each mapped to an inert :class:`Builder` (or a constant);
anything else is refused.  ``REDUCE`` calls only a Builder, ``BUILD`` only sets
``_metadata`` on an OrderedDict, and the opcodes that create arbitrary objects
(``INST``, ``OBJ``, ``NEWOBJ``, ``NEWOBJ_EX``, ``EXT*``) are refused outright.

Every read is bounds-checked against the data, and the stack, mark stack,
memo, integer sizes, nesting depth and object count are capped, so a hostile
pickle costs time and memory linear in its size.  After ``STOP`` the result is
walked once, sharing-aware, to refuse self-references and structures whose
expanded size (a tree with every shared part counted again) passes the cap.

>>> from nnlite._pickle_vm import unpickle
>>> unpickle(b'\\x80\\x02}q\\x00X\\x01\\x00\\x00\\x00aK\\x01s.', "<doc>", {})
({'a': 1}, 15)
"""
import collections
import struct

__all__ = ["unpickle", "Builder", "PickleRefused", "LIMITS"]

LIMITS = {
    "stack": 1_000_000,        # items on the stack and under marks together
    "memo": 1_000_000,         # memo entries
    "objects": 10_000_000,     # nodes of the result, counted as a tree (shared parts again)
    "depth": 200,              # nesting depth of containers in the result
    "int_bytes": 64,           # longest LONG1/LONG4 integer, in bytes
}


class PickleRefused(Exception):
    """Raised by the VM with a message and the byte offset of the opcode; callers turn it into CheckpointError."""

    def __init__(self, msg, offset):
        super().__init__(msg)
        self.msg, self.offset = msg, offset


class Builder:
    """An allow-listed global: ``REDUCE`` calls ``fn(*args)``; ``fn`` checks its arguments itself."""

    def __init__(self, name, fn):
        self.name, self.fn = name, fn

    def __repr__(self):
        return f"<builder {self.name}>"


class _Mark:
    pass


_SCALAR_KEYS = (str, int, float, bool, bytes, type(None))


def unpickle(data, where, table, persistent_load=None, start=0, limits=None):
    """Run the pickle at ``data[start:]``; return ``(object, offset just past STOP)``.

    ``table`` maps ``(module, name)`` to a :class:`Builder` or a constant;
    ``persistent_load(pid)`` turns a ``BINPERSID`` record into an object (None:
    persistent ids are refused).  Raises :class:`PickleRefused`.
    """
    lim = dict(LIMITS, **(limits or {}))
    vm = _VM(data, where, table, persistent_load, start, lim)
    obj = vm.run()
    _check_tree(obj, lim, vm.pos)
    return obj, vm.pos


class _VM:
    def __init__(self, data, where, table, persistent_load, start, lim):
        self.data = memoryview(data)
        self.where, self.table, self.pload, self.lim = where, table, persistent_load, lim
        self.pos = start
        self.stack = []
        self.marks = []
        self.memo = {}
        self.op_pos = start
        self.metadata_dicts = set()  # ids of OrderedDicts we built (BUILD may set _metadata on them only)

    # -- helpers ----------------------------------------------------------------------------------
    def refuse(self, msg):
        raise PickleRefused(msg, self.op_pos)

    def read(self, n):
        end = self.pos + n
        if n < 0 or end > len(self.data):
            self.refuse(f"truncated pickle: needs {n} bytes but {len(self.data) - self.pos} remain")
        b = self.data[self.pos:end]
        self.pos = end
        return b

    def readline(self):
        data = self.data
        i = self.pos
        end = min(len(data), i + 4096)  # text arguments are short; a missing newline is an error, not a scan
        tail = bytes(data[i:end])
        j = tail.find(b"\n")
        if j < 0:
            self.refuse("truncated pickle: a text argument has no end of line within 4096 bytes")
        self.pos = i + j + 1
        return tail[:j]

    def push(self, obj):
        if len(self.stack) >= self.lim["stack"]:
            self.refuse(f"the pickle stack passes {self.lim['stack']} items")
        self.stack.append(obj)

    def pop(self):
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            self.refuse("stack underflow (an opcode needs an argument that is not there)")
        return self.stack.pop()

    def top(self):
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            self.refuse("stack underflow (an opcode needs an argument that is not there)")
        return self.stack[-1]

    def pop_mark(self):
        if not self.marks:
            self.refuse("no MARK on the stack")
        k = self.marks.pop()
        items = self.stack[k:]
        del self.stack[k:]
        return items

    def memo_put(self, idx):
        if idx not in self.memo and len(self.memo) >= self.lim["memo"]:
            self.refuse(f"the pickle memo passes {self.lim['memo']} entries")
        self.memo[idx] = self.top()

    def memo_get(self, idx):
        try:
            obj = self.memo[idx]
        except KeyError:
            self.refuse(f"memo entry {idx} is read before it is written")
        self.push(obj)

    def text(self, b, how="utf-8"):
        try:
            return bytes(b).decode(how, "surrogatepass" if how == "utf-8" else "strict")
        except UnicodeDecodeError as exc:
            self.refuse(f"a string is not valid {how} ({exc.reason})")

    def integer(self, n):
        if n > self.lim["int_bytes"]:
            self.refuse(f"an integer of {n} bytes (at most {self.lim['int_bytes']} are read)")
        return int.from_bytes(self.read(n), "little", signed=True)

    def size(self, fmt):
        n = struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]
        if n > len(self.data) - self.pos:
            self.refuse(f"a length of {n} bytes passes the end of the pickle "
                        f"({len(self.data) - self.pos} bytes remain)")
        return n

    def glob(self, module, name):
        key = (module, name)
        if type(module) is not str or type(name) is not str:
            self.refuse("STACK_GLOBAL needs two strings")
        if key not in self.table:
            self.refuse(_refusal(module, name))
        return self.table[key]

    def container(self, kind):
        obj = self.top()
        if type(obj) is not kind and not (kind is dict and type(obj) is collections.OrderedDict):
            self.refuse(f"{kind.__name__} opcode applied to a {type(obj).__name__}")
        return obj

    def setitems(self, d, items):
        if len(items) % 2:
            self.refuse("SETITEMS needs key-value pairs (an odd number of items)")
        for i in range(0, len(items), 2):
            key = items[i]
            if type(key) not in _SCALAR_KEYS:
                self.refuse(f"a dict key of type {type(key).__name__!r} (keys must be str, int, float, bool, "
                            "bytes or None)")
            d[key] = items[i + 1]

    # -- the interpreter ----------------------------------------------------------------------------
    def run(self):
        data = self.data
        n = len(data)
        ops = _OPS
        while True:
            if self.pos >= n:
                self.op_pos = self.pos
                self.refuse("truncated pickle: no STOP opcode")
            self.op_pos = self.pos
            code = data[self.pos]
            self.pos += 1
            op = ops.get(code)
            if op is None:
                self.refuse(f"opcode {bytes([code])!r} ({_NAMES.get(code, 'unknown')}) is not allowed")
            if op(self):
                if self.marks:
                    self.refuse("STOP with an open MARK")
                if len(self.stack) != 1:
                    self.refuse(f"STOP with {len(self.stack)} items on the stack (one expected)")
                return self.stack[0]


def _refusal(module, name):
    what = f"{module}.{name}"
    if module.startswith("torch.jit") or module.startswith("__torch__"):
        why = "TorchScript objects are code; nnlite reads only weights and plain data"
    elif name in ("_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_sparse_csr_tensor",
                  "_rebuild_nested_tensor", "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass",
                  "_rebuild_device_tensor_from_numpy", "_rebuild_xla_tensor", "_rebuild_mtia_tensor"):
        why = "quantized, sparse, nested, meta and device-only tensors are not supported"
    elif module.startswith("torch.nn") or module == "__main__" or name[:1].isupper():
        why = ("a custom class or a whole pickled model (torch.save(model)), which only code can rebuild; "
               "save model.state_dict() instead")
    else:
        why = "only tensors, torch.Size, OrderedDict and plain data are understood"
    return f"refused global {what!r}: {why}"


# Opcode implementations: each takes the VM and returns True only for STOP.
def _proto(vm):
    p = vm.read(1)[0]
    if p > 5:
        vm.refuse(f"pickle protocol {p} (at most 5 is known)")


def _frame(vm):
    vm.size("<Q")  # frames only group opcodes; the length is checked and otherwise ignored


def _mark(vm):
    if len(vm.marks) + len(vm.stack) >= vm.lim["stack"]:
        vm.refuse(f"the pickle stack passes {vm.lim['stack']} items")
    vm.marks.append(len(vm.stack))


def _stop(vm):
    return True


def _pop(vm):
    if vm.marks and len(vm.stack) == vm.marks[-1]:
        vm.marks.pop()  # POP of a bare MARK, as pickle does
    else:
        vm.pop()


def _pop_mark(vm):
    vm.pop_mark()


def _dup(vm):
    vm.push(vm.top())


def _int_text(vm):
    line = vm.readline()
    if line == b"00":
        return vm.push(False)
    if line == b"01":
        return vm.push(True)
    if len(line) > 40 or not line.lstrip(b"-").isdigit():
        vm.refuse(f"bad INT argument {bytes(line[:40])!r}")
    vm.push(int(line))


def _long_text(vm):
    line = vm.readline().rstrip(b"L")
    if len(line) > 40 or not line.lstrip(b"-").isdigit():
        vm.refuse(f"bad LONG argument {bytes(line[:40])!r}")
    vm.push(int(line))


def _float_text(vm):
    line = vm.readline()
    try:
        vm.push(float(bytes(line[:64]).decode("ascii")))
    except (ValueError, UnicodeDecodeError):
        vm.refuse(f"bad FLOAT argument {bytes(line[:40])!r}")


def _unicode_text(vm):
    vm.push(vm.text(vm.readline(), "raw-unicode-escape"))


def _get_text(vm):
    line = vm.readline()
    if not line.isdigit() or len(line) > 10:
        vm.refuse(f"bad GET argument {bytes(line[:40])!r}")
    vm.memo_get(int(line))


def _put_text(vm):
    line = vm.readline()
    if not line.isdigit() or len(line) > 10:
        vm.refuse(f"bad PUT argument {bytes(line[:40])!r}")
    vm.memo_put(int(line))


def _global(vm):
    module = vm.text(vm.readline())
    name = vm.text(vm.readline())
    vm.push(vm.glob(module, name))


def _stack_global(vm):
    name = vm.pop()
    module = vm.pop()
    vm.push(vm.glob(module, name))


def _reduce(vm):
    args = vm.pop()
    fn = vm.pop()
    if type(fn) is not Builder:
        vm.refuse(f"REDUCE calls a {type(fn).__name__}, not an allowed builder")
    if type(args) is not tuple:
        vm.refuse(f"REDUCE arguments for {fn.name} are a {type(args).__name__}, not a tuple")
    try:
        obj = fn.fn(*args)
    except PickleRefused as exc:
        vm.refuse(exc.msg)
    except (TypeError, ValueError, OverflowError) as exc:  # wrong argument count or types, said by the builder
        vm.refuse(f"bad arguments for {fn.name}: {exc}")
    if type(obj) is collections.OrderedDict:
        vm.metadata_dicts.add(id(obj))
    vm.push(obj)


def _build(vm):
    state = vm.pop()
    obj = vm.top()
    if type(obj) is not collections.OrderedDict or id(obj) not in vm.metadata_dicts:
        vm.refuse(f"BUILD on a {type(obj).__name__} (only an OrderedDict's _metadata may be set)")
    if type(state) is not dict or set(state) - {"_metadata"}:
        vm.refuse("BUILD state other than {'_metadata': ...} on an OrderedDict")
    if "_metadata" in state:
        obj._metadata = state["_metadata"]


def _binpersid(vm):
    pid = vm.pop()
    if vm.pload is None:
        vm.refuse("a persistent id (external storage) where none is allowed")
    try:
        vm.push(vm.pload(pid))
    except PickleRefused as exc:
        vm.refuse(exc.msg)
    except (TypeError, ValueError, OverflowError) as exc:
        vm.refuse(f"bad persistent record: {exc}")


def _empty(kind):
    def op(vm):
        vm.push(kind())
    return op


def _const(value):
    def op(vm):
        vm.push(value)
    return op


def _fixed_int(fmt):
    def op(vm):
        vm.push(struct.unpack(fmt, vm.read(struct.calcsize(fmt)))[0])
    return op


def _long(fmt):
    def op(vm):
        vm.push(vm.integer(struct.unpack(fmt, vm.read(struct.calcsize(fmt)))[0]))
    return op


def _binfloat(vm):
    vm.push(struct.unpack(">d", vm.read(8))[0])


def _string(fmt, kind):
    def op(vm):
        raw = vm.read(vm.size(fmt))
        vm.push(bytes(raw) if kind is bytes else vm.text(raw))
    return op


def _append(vm):
    item = vm.pop()
    vm.container(list).append(item)


def _appends(vm):
    items = vm.pop_mark()
    vm.container(list).extend(items)


def _list(vm):
    vm.push(vm.pop_mark())


def _tuple(vm):
    vm.push(tuple(vm.pop_mark()))


def _tuple_n(n):
    def op(vm):
        items = [vm.pop() for _ in range(n)]
        vm.push(tuple(reversed(items)))
    return op


def _dict(vm):
    d = {}
    vm.setitems(d, vm.pop_mark())
    vm.push(d)


def _setitem(vm):
    value = vm.pop()
    key = vm.pop()
    vm.setitems(vm.container(dict), [key, value])


def _setitems(vm):
    items = vm.pop_mark()
    vm.setitems(vm.container(dict), items)


def _memoize(vm):
    vm.memo_put(len(vm.memo))


def _binget(fmt):
    def op(vm):
        vm.memo_get(struct.unpack(fmt, vm.read(struct.calcsize(fmt)))[0])
    return op


def _binput(fmt):
    def op(vm):
        vm.memo_put(struct.unpack(fmt, vm.read(struct.calcsize(fmt)))[0])
    return op


_OPS = {
    0x80: _proto, 0x95: _frame, ord("."): _stop, ord("("): _mark, ord("0"): _pop, ord("1"): _pop_mark,
    ord("2"): _dup, ord("N"): _const(None), 0x88: _const(True), 0x89: _const(False),
    ord("I"): _int_text, ord("L"): _long_text, ord("F"): _float_text, ord("V"): _unicode_text,
    ord("J"): _fixed_int("<i"), ord("K"): _fixed_int("<B"), ord("M"): _fixed_int("<H"),
    0x8a: _long("<B"), 0x8b: _long("<i"), ord("G"): _binfloat,
    ord("T"): _string("<I", str), ord("U"): _string("<B", str),
    ord("X"): _string("<I", str), 0x8c: _string("<B", str), 0x8d: _string("<Q", str),
    ord("B"): _string("<I", bytes), ord("C"): _string("<B", bytes), 0x8e: _string("<Q", bytes),
    ord("]"): _empty(list), ord("a"): _append, ord("e"): _appends, ord("l"): _list,
    ord(")"): _const(()), ord("t"): _tuple, 0x85: _tuple_n(1), 0x86: _tuple_n(2), 0x87: _tuple_n(3),
    ord("}"): _empty(dict), ord("d"): _dict, ord("s"): _setitem, ord("u"): _setitems,
    ord("g"): _get_text, ord("h"): _binget("<B"), ord("j"): _binget("<I"),
    ord("p"): _put_text, ord("q"): _binput("<B"), ord("r"): _binput("<I"), 0x94: _memoize,
    ord("c"): _global, 0x93: _stack_global, ord("R"): _reduce, ord("b"): _build, ord("Q"): _binpersid,
}
_NAMES = {ord("i"): "INST", ord("o"): "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x82: "EXT1", 0x83: "EXT2",
          0x84: "EXT4", ord("P"): "PERSID", ord("S"): "STRING", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS",
          0x91: "FROZENSET", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER"}


def _check_tree(root, lim, offset):
    """Refuse cycles, nesting deeper than the cap and an expanded size (shared parts recounted) over the cap."""
    sizes = {}      # id -> (expanded size, depth) of finished containers
    active = set()  # ids on the current path
    keep = []       # objects whose ids are in sizes stay alive (they are, inside root; this is belt and braces)
    todo = [(root, False)]
    while todo:
        obj, done = todo.pop()
        children = _children(obj)
        if children is None:
            continue
        i = id(obj)
        if done:
            active.discard(i)
            size, depth = 1, 1
            for c in children:
                cs, cd = sizes.get(id(c), (1, 0))
                size += cs
                depth = max(depth, cd + 1)
            if size > lim["objects"]:
                raise PickleRefused(f"the structure expands to more than {lim['objects']} objects "
                                    "(exponentially shared parts?)", offset)
            if depth > lim["depth"]:
                raise PickleRefused(f"containers nest deeper than {lim['depth']} levels", offset)
            sizes[i] = (size, depth)
            keep.append(obj)
            continue
        if i in sizes:
            continue
        if i in active:
            raise PickleRefused(f"a {type(obj).__name__} contains itself (a self-referencing structure)", offset)
        if len(active) > lim["depth"]:
            raise PickleRefused(f"containers nest deeper than {lim['depth']} levels", offset)
        active.add(i)
        todo.append((obj, True))
        todo.extend((c, False) for c in children if id(c) not in sizes)


def _children(obj):
    t = type(obj)
    if t is list or t is tuple:
        return obj
    if t is dict:
        return list(obj.values())
    if t is collections.OrderedDict:
        out = list(obj.values())
        meta = getattr(obj, "_metadata", None)
        if meta is not None:
            out.append(meta)
        return out
    return None
