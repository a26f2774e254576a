"""Which array library holds an array: numpy (CPU) or CuPy (GPU).

This is the one place in nnlite that asks "numpy or CuPy?" (Chainer's
``get_array_module``).  CuPy is imported lazily, only when a GPU is asked for,
so ``import nnlite`` never imports it.
"""
import numpy

__all__ = ["device", "get_array_module", "device_of", "to_device", "cupy", "is_cupy_array"]

_cupy = None          # the cupy module, once imported
_cupy_error = None    # why it could not be imported


class device:
    """Where a tensor's array lives: ``device('cpu')``, ``device('cuda')``, ``device('cuda:1')``.

    >>> import nnlite
    >>> nnlite.device('cuda:1')
    device(type='cuda', index=1)
    >>> str(nnlite.device('cpu'))
    'cpu'

    See PyTorch's ``torch.device``.
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            if index is not None:
                raise ValueError("device(): index given twice")
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device() expects a string, a device or an int, but got {type!r}")
        name = type
        if ":" in name:
            if index is not None:
                raise ValueError(f"type (string) must not include an index because index was passed "
                                 f"explicitly: {name}")
            name, _, idx = name.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(idx)
        if name not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: {type}")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise RuntimeError(f"Device index must not be negative, got {index}")
            if name == "cpu" and index != 0:
                raise RuntimeError(f"CPU device index must be 0, got {index}")
            if name == "cpu":
                index = None
        self.type, self.index = name, index

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, ValueError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")


def cupy():
    """Import and return CuPy, or raise the one error that says what is missing."""
    global _cupy, _cupy_error
    if _cupy is not None:
        return _cupy
    if _cupy_error is None:
        try:
            import cupy as cp
        except Exception as exc:  # ImportError, or a broken CUDA install
            _cupy_error = ("nnlite's GPU path needs CuPy, which is not installed or failed to import "
                           f"({type(exc).__name__}: {exc}). Install the extra that matches your CUDA "
                           "toolkit: pip install nnlite[cuda12] or pip install nnlite[cuda13]")
        else:
            try:
                count = cp.cuda.runtime.getDeviceCount()
            except Exception as exc:
                count, why = 0, f" ({type(exc).__name__}: {exc})"
            else:
                why = ""
            if count < 1:
                _cupy_error = ("nnlite's GPU path found CuPy but no usable CUDA GPU" + why +
                               ". Check the NVIDIA driver and CUDA_VISIBLE_DEVICES, and that the CuPy "
                               "wheel matches the CUDA version (nnlite[cuda12] or nnlite[cuda13])")
            else:
                _cupy = cp
                _seed_cupy_from_pending()
                return cp
    raise RuntimeError(_cupy_error)


def _seed_cupy_from_pending():
    from nnlite import _random
    _random._on_cupy_import(_cupy)


def cupy_if_loaded():
    """The cupy module if nnlite has already imported it, else None (never imports)."""
    return _cupy


def is_cupy_array(a):
    return _cupy is not None and isinstance(a, _cupy.ndarray)


def device_of(a):
    """The :class:`device` of an array (numpy → cpu, cupy → cuda:i)."""
    if isinstance(a, numpy.ndarray):
        return CPU
    if is_cupy_array(a):
        return device("cuda", a.device.id)
    return CPU


def get_array_module(*arrays):
    """numpy or cupy for these arrays; RuntimeError when they live on different devices."""
    xp, dev = numpy, None
    for a in arrays:
        if is_cupy_array(a):
            d = device("cuda", a.device.id)
            if dev is not None and dev != d:
                raise_mixed(dev, d)
            dev, xp = d, _cupy
        elif isinstance(a, numpy.ndarray):
            if dev is not None and dev != CPU:
                raise_mixed(dev, CPU)
            dev = CPU
    return xp


def raise_mixed(a, b):
    raise RuntimeError("Expected all tensors to be on the same device, but found at least two "
                       f"devices, {a} and {b}!")


def to_device(a, dev):
    """Copy an array to ``dev`` (a :class:`device`); returns ``a`` itself when it is already there."""
    if dev.type == "cpu":
        if isinstance(a, numpy.ndarray):
            return a
        return a.get()
    cp = cupy()
    index = dev.index if dev.index is not None else cp.cuda.runtime.getDevice()
    if index >= cp.cuda.runtime.getDeviceCount():
        raise RuntimeError(f"CUDA error: invalid device ordinal (asked for cuda:{index}, "
                           f"{cp.cuda.runtime.getDeviceCount()} device(s) present)")
    if isinstance(a, cp.ndarray) and a.device.id == index:
        return a
    with cp.cuda.Device(index):
        return cp.asarray(a)


def resolve_device(dev):
    """A :class:`device` from a string/int/device/None (None → cpu); 'cuda' gets the current index."""
    if dev is None:
        return CPU
    d = dev if isinstance(dev, device) else device(dev)
    if d.type == "cuda" and d.index is None:
        d = device("cuda", cupy().cuda.runtime.getDevice())
    return d


def array_module_for(dev):
    return numpy if dev.type == "cpu" else cupy()
