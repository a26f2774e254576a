"""nnlite's dtypes are numpy dtype objects: ``nnlite.float32 == numpy.dtype('float32')``."""
import numpy

__all__ = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool_",
           "get_default_dtype", "set_default_dtype", "as_dtype"]

float16 = numpy.dtype("float16")
float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
int8 = numpy.dtype("int8")
int16 = numpy.dtype("int16")
int32 = numpy.dtype("int32")
int64 = numpy.dtype("int64")
uint8 = numpy.dtype("uint8")
bool_ = numpy.dtype("bool")

_default = [float32]


def get_default_dtype():
    """The dtype of floating-point tensors created without one (float32 at start).

    >>> import nnlite
    >>> nnlite.get_default_dtype()
    dtype('float32')

    See PyTorch's ``torch.get_default_dtype``.
    """
    return _default[0]


def set_default_dtype(d):
    """Set the default floating-point dtype: ``nnlite.float32`` or ``nnlite.float64``.

    >>> import nnlite
    >>> nnlite.set_default_dtype(nnlite.float64); nnlite.zeros(1).dtype
    dtype('float64')
    >>> nnlite.set_default_dtype(nnlite.float32)
    """
    d = as_dtype(d)
    if d not in (float32, float64):
        raise TypeError(f"only floating-point types float32 and float64 are supported as the default "
                        f"type, but got {d}")
    _default[0] = d


def as_dtype(d):
    """A numpy dtype from a dtype, a type or a name; TypeError for anything else."""
    if isinstance(d, numpy.dtype):
        return d
    try:
        return numpy.dtype(d)
    except TypeError:
        raise TypeError(f"expected a dtype (e.g. nnlite.float32), but got {d!r}") from None
