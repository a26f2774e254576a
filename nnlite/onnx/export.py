"""``export``: run a model's forward once, record every operation, write the ONNX graph.

Recording is one hook: while a forward runs under :func:`export`,
``autograd.Function.apply`` hands each op's class, arguments and outputs to a
tape (``nnlite.autograd.function._tracer``, None otherwise, so it costs nothing
when not exporting).  The ops that the outputs depend on are then turned into
ONNX nodes by the table in :mod:`nnlite.onnx.symbolic`; parameters and buffers
become initializers under their ``state_dict`` names.  The ``onnx`` package is
imported when :func:`export` runs (``pip install nnlite[onnx]``).
"""
import os
import threading
import warnings

import numpy

from nnlite import __version__, _backend
from nnlite._tensor import Tensor
from nnlite.autograd import function as _function
from nnlite.autograd import grad_mode
from nnlite.nn.modules.module import Module

__all__ = ["export", "UnsupportedOperatorError", "SUPPORTED_OPSETS"]

SUPPORTED_OPSETS = range(17, 22)


class UnsupportedOperatorError(RuntimeError):
    """An operation of the forward has no ONNX translation (see PyTorch's
    ``torch.onnx.errors.UnsupportedOperatorError``)."""


def _require_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ImportError("nnlite.onnx.export needs the onnx package: pip install nnlite[onnx]") from None
    return onnx, helper, numpy_helper


class _Tape:
    """Collects ``(Function class, args, outputs, input versions)`` for the exporting thread only."""

    def __init__(self):
        self.records = []
        self.thread = threading.get_ident()

    def __call__(self, cls, args, outs):
        if threading.get_ident() != self.thread:
            return
        versions = tuple(a._vc[0] if isinstance(a, Tensor) else None for a in args)
        self.records.append((cls, args, outs, versions, tuple(o._vc[0] if o is not None else None for o in outs)))


class _Unsupported:
    """Stands for output ``index`` of op ``op`` that has no ONNX value (pooling indices); using it raises."""

    def __init__(self, op, index):
        self.op, self.index = op, index


class _Graph:
    """The ONNX graph under construction; the symbolic functions build it through these methods."""

    def __init__(self, helper, numpy_helper, opset, constant_names):
        self.helper, self.numpy_helper, self.opset = helper, numpy_helper, opset
        self.nodes, self.initializers = [], []
        self.values = {}        # id(tensor) -> (ONNX name or _Unsupported, version when produced)
        self.constant_names = constant_names
        self.used_names = set(constant_names.values())
        self.count = 0
        self.current = None     # the op being translated, for error messages

    # -- names --------------------------------------------------------------------------------------------
    def fresh(self, hint):
        self.count += 1
        name = f"/{hint}_{self.count}"
        while name in self.used_names:
            self.count += 1
            name = f"/{hint}_{self.count}"
        self.used_names.add(name)
        return name

    def unsupported(self, what):
        raise UnsupportedOperatorError(f"Exporting the operator '{self.current}' to ONNX opset version {self.opset} "
                                       f"is not supported: {what}")

    def elem_type(self, dtype):
        return self.helper.np_dtype_to_tensor_dtype(numpy.dtype(dtype))

    # -- values ---------------------------------------------------------------------------------------------
    def bind(self, tensor, name, version):
        self.values[id(tensor)] = (name, version)

    def value(self, t, version=None):
        """The ONNX name of tensor ``t``; a tensor no op produced becomes an initializer."""
        entry = self.values.get(id(t))
        if entry is None:
            name = self.constant_names.get(id(t))
            if name is None:
                warnings.warn(f"nnlite.onnx.export: a tensor of shape {list(t.shape)} that no recorded operation "
                              "produced is stored as a constant; if it depends on the input (argmax, comparisons, "
                              ".numpy(), tensors built from data), the exported graph is wrong", UserWarning,
                              stacklevel=2)
                name = self.fresh("constant")
            self.initializers.append(self.numpy_helper.from_array(
                numpy.ascontiguousarray(_backend.to_device(t._data, _backend.CPU)), name))
            entry = (name, t._vc[0])
            self.values[id(t)] = entry
        name, produced = entry
        if isinstance(name, _Unsupported):
            raise UnsupportedOperatorError(
                f"Exporting the operator '{name.op}' to ONNX opset version {self.opset} is not supported: its "
                f"output {name.index} (the indices of return_indices=True) has no ONNX value, and "
                f"'{self.current}' uses it")
        if version is not None and produced is not None and version != produced:
            raise UnsupportedOperatorError(
                f"a tensor of shape {list(t.shape)} was modified in place (add_, mul_, x[...] = ..., copy_) after "
                "the operation that produced it; in-place operations cannot be exported: write x = x + y instead")
        return name

    def operand(self, a, dtype):
        """A Tensor or a Python number as an input of an op computing in ``dtype``."""
        if isinstance(a, Tensor):
            return self.cast(self.value(a), a.dtype, dtype)
        return self.scalar(a, dtype)

    def cast(self, name, from_dtype, to_dtype):
        if numpy.dtype(from_dtype) == numpy.dtype(to_dtype):
            return name
        return self.op("Cast", [name], to=self.elem_type(to_dtype))

    def const(self, array, hint="constant"):
        name = self.fresh(hint)
        self.initializers.append(self.numpy_helper.from_array(numpy.ascontiguousarray(array), name))
        return name

    def scalar(self, value, dtype):
        return self.const(numpy.asarray(value, dtype=dtype))

    def ints(self, values):
        return self.const(numpy.asarray(list(values), dtype=numpy.int64))

    # -- nodes ----------------------------------------------------------------------------------------------
    def op(self, op_type, inputs, n_outputs=1, **attrs):
        outputs = [self.fresh(f"{op_type}_output") for _ in range(n_outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outputs, name=f"/{op_type}_{len(self.nodes)}",
                                                **attrs))
        return outputs[0] if n_outputs == 1 else outputs

    def reduce(self, op_type, x, axes, keepdims):
        """A Reduce* node: ``axes`` None reduces everything; attribute or input form by opset."""
        keep = int(bool(keepdims))
        if axes is None:
            return self.op(op_type, [x], keepdims=keep)
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, [x, self.ints(axes)], keepdims=keep)
        return self.op(op_type, [x], axes=list(axes), keepdims=keep)

    def rename(self, old, new):
        """Call the node value ``old`` ``new`` everywhere (a graph output takes the name of its value)."""
        for node in self.nodes:
            for names in (node.input, node.output):
                for i, n in enumerate(names):
                    if n == old:
                        names[i] = new


def _as_inputs(args):
    if isinstance(args, tuple):
        return args
    if isinstance(args, list):
        return tuple(args)
    return (args,)


def _leaf(a):
    """A fresh leaf Tensor for a tensor or array argument (floats require grad, so that every layer takes
    its recorded path); other arguments pass unchanged."""
    if isinstance(a, Tensor):
        t = Tensor._wrap(a._data)
    elif isinstance(a, numpy.ndarray) or _backend.is_cupy_array(a):
        t = Tensor._wrap(a)
    else:
        return a
    if t.dtype.kind == "f":
        t.requires_grad_(True)
    return t


def _record(model, inputs):
    """Run ``model(*inputs)`` in eval mode with the tape installed; the training flags are restored."""
    if _function._tracer is not None:
        raise RuntimeError("nnlite.onnx.export is already recording a forward")
    modes = [(m, m.training) for m in model.modules()]
    tape = _Tape()
    model.eval()
    _function._tracer = tape
    try:
        with grad_mode.enable_grad():
            result = model(*inputs)
    finally:
        _function._tracer = None
        for m, mode in modes:
            m.training = mode
    return result, tape.records


def _flat_outputs(result):
    outs = result if isinstance(result, (tuple, list)) else (result,)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"nnlite.onnx.export: the model must return a Tensor or a tuple/list of Tensors, but it "
                            f"returned a {type(o).__name__}")
    return tuple(outs)


def _needed(records, outputs):
    """Indices of the records the outputs depend on (the rest, e.g. ops inside other ops, is dropped)."""
    producer = {}
    for i, rec in enumerate(records):
        for o in rec[2]:
            if o is not None:
                producer[id(o)] = i
    needed, stack = set(), [id(t) for t in outputs]
    while stack:
        i = producer.get(stack.pop())
        if i is None or i in needed:
            continue
        needed.add(i)
        stack.extend(id(a) for a in records[i][1] if isinstance(a, Tensor))
    return sorted(needed)


def _names(given, n, default, what):
    names = list(given) if given is not None else []
    if len(names) > n:
        raise ValueError(f"nnlite.onnx.export: {len(names)} {what} names given for {n} {what}s")
    if any(not isinstance(s, str) or not s for s in names):
        raise TypeError(f"nnlite.onnx.export: {what}_names must be non-empty strings, got {names!r}")
    return names + [f"{default}_{i}" if n > 1 else default for i in range(len(names), n)]


def _dynamic(dynamic_axes, names, tensors, known):
    """``{name: {axis: dim name}}`` from torch-style ``dynamic_axes`` (axes as a list or a dict)."""
    dynamic_axes = dict(dynamic_axes or {})
    for key in dynamic_axes:
        if key not in known:
            raise ValueError(f"nnlite.onnx.export: dynamic_axes names {key!r}, which is not an input or output "
                             f"name ({sorted(known)})")
    out = {}
    for name, t in zip(names, tensors):
        axes = dynamic_axes.get(name)
        if axes is None:
            continue
        if not isinstance(axes, dict):
            axes = {int(a): f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
        resolved = {}
        for a, dim_name in axes.items():
            if not -t.ndim <= int(a) < t.ndim:
                raise ValueError(f"nnlite.onnx.export: dynamic axis {a} of {name!r} is out of range for a tensor of "
                                 f"shape {list(t.shape)}")
            resolved[int(a) % t.ndim] = str(dim_name)
        out[name] = resolved
    return out


def _value_info(helper, name, t, dims, unknown):
    shape = [dims[i] if i in dims else (None if unknown else int(s)) for i, s in enumerate(t.shape)]
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(t.dtype), shape)


def _write(data, f):
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        tmp = f"{path}.tmp-{os.getpid()}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    elif hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(f"nnlite.onnx.export: f must be a path or a binary file object, but got {type(f).__name__}")


def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None, opset_version=17):
    """Export ``model`` to ONNX by running ``model(*args)`` once and recording every operation.

    ``args`` is a Tensor (or array) or a tuple of them; ``f`` a path or a binary
    file.  The model runs in eval mode (Dropout is the identity, BatchNorm uses its
    running statistics) and its training flags are restored afterwards.
    ``input_names``/``output_names`` name the graph's inputs and outputs (default
    ``input``/``output``, numbered when there are several); ``dynamic_axes`` maps
    a name to the axes whose size may change, as a list or as ``{axis: name}``.
    Parameters and buffers are stored as initializers under their ``state_dict``
    names.  An operation without an ONNX translation raises
    :class:`UnsupportedOperatorError` naming it.  Returns the ``onnx.ModelProto``
    it wrote.  See PyTorch's ``torch.onnx.export`` and docs/onnx.md.

    >>> import io, nnlite
    >>> from nnlite.onnx import export
    >>> net = nnlite.nn.Sequential(nnlite.nn.Conv1d(1, 2, 3), nnlite.nn.ReLU())
    >>> proto = export(net, nnlite.randn(4, 1, 8), io.BytesIO(), dynamic_axes={"input": [0], "output": [0]})
    >>> [n.op_type for n in proto.graph.node], [i.name for i in proto.graph.initializer]
    (['Conv', 'Relu'], ['0.weight', '0.bias'])
    """
    onnx, helper, numpy_helper = _require_onnx()
    if not isinstance(model, Module):
        raise TypeError(f"nnlite.onnx.export: model must be an nnlite.nn.Module, but got {type(model).__name__}")
    if isinstance(opset_version, bool) or not isinstance(opset_version, int) or opset_version not in SUPPORTED_OPSETS:
        raise ValueError(f"nnlite.onnx.export: opset_version must be an int from {SUPPORTED_OPSETS.start} to "
                         f"{SUPPORTED_OPSETS.stop - 1}, but got {opset_version!r}")
    if opset_version > onnx.defs.onnx_opset_version():
        raise ValueError(f"nnlite.onnx.export: opset_version {opset_version} is newer than the installed onnx "
                         f"{onnx.__version__} knows ({onnx.defs.onnx_opset_version()})")
    inputs = tuple(_leaf(a) for a in _as_inputs(args))
    graph_inputs = [t for t in inputs if isinstance(t, Tensor)]
    in_names = _names(input_names, len(graph_inputs), "input", "input")

    result, records = _record(model, inputs)
    outputs = _flat_outputs(result)
    out_names = _names(output_names, len(outputs), "output", "output")
    if len(set(in_names + out_names)) != len(in_names) + len(out_names):
        raise ValueError(f"nnlite.onnx.export: input and output names must be unique, got {in_names + out_names}")
    dynamic = _dynamic(dynamic_axes, in_names + out_names, graph_inputs + list(outputs), set(in_names + out_names))

    constant_names = {}
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        constant_names.setdefault(id(t), name)
    clash = set(constant_names.values()) & set(in_names + out_names)
    if clash:
        raise ValueError(f"nnlite.onnx.export: the names {sorted(clash)} are also parameter or buffer names")

    from nnlite.onnx.symbolic import SYMBOLIC
    g = _Graph(helper, numpy_helper, opset_version, constant_names)
    g.used_names.update(in_names + out_names)
    for name, t in zip(in_names, graph_inputs):
        g.bind(t, name, t._vc[0])
    for i in _needed(records, outputs):
        cls, rec_args, rec_outs, versions, out_versions = records[i]
        g.current = cls.__name__
        emit = SYMBOLIC.get(cls)
        if emit is None:
            kind = "" if cls.__module__.startswith("nnlite.") else " (a custom nnlite.autograd.Function)"
            raise UnsupportedOperatorError(f"Exporting the operator '{cls.__name__}'{kind} to ONNX opset version "
                                           f"{opset_version} is not supported")
        for a, v in zip(rec_args, versions):
            if isinstance(a, Tensor):
                g.value(a, v)
        names = emit(g, rec_args, rec_outs)
        names = names if isinstance(names, tuple) else (names,)
        for k, (o, name, v) in enumerate(zip(rec_outs, names, out_versions)):
            if o is not None:
                g.bind(o, _Unsupported(cls.__name__, k) if name is None else name, v)
    g.current = "output"
    produced = {o for node in g.nodes for o in node.output}
    for name, t in zip(out_names, outputs):
        src = g.value(t, t._vc[0])
        if src in produced and src.startswith("/"):  # a node's value: it takes the output's name
            g.rename(src, name)
        else:  # a graph input, an initializer or an output already named
            g.nodes.append(helper.make_node("Identity", [src], [name], name=f"/Identity_{len(g.nodes)}"))
        g.values[id(t)] = (name, t._vc[0])

    unknown = bool(any(dynamic.get(n) for n in in_names))
    graph = helper.make_graph(
        g.nodes, type(model).__name__,
        [_value_info(helper, n, t, dynamic.get(n, {}), False) for n, t in zip(in_names, graph_inputs)],
        [_value_info(helper, n, t, dynamic.get(n, {}), unknown) for n, t in zip(out_names, outputs)],
        initializer=g.initializers)
    opset = [helper.make_opsetid("", opset_version)]
    proto = helper.make_model(graph, opset_imports=opset, producer_name="nnlite", producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opset))
    onnx.checker.check_model(proto)
    _write(proto.SerializeToString(), f)
    return proto
