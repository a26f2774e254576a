"""nnlite: a lightweight ``torch.nn`` for 1D convolutional networks on numpy and CuPy arrays.

>>> import nnlite, numpy
>>> net = nnlite.nn.Sequential(nnlite.nn.Conv1d(1, 4, 3, padding=1), nnlite.nn.Conv1d(4, 4, 1))
>>> y = net(numpy.zeros((2, 1, 16), dtype=numpy.float32))   # numpy in, Tensor out
>>> y.shape
nnlite.Size([2, 4, 16])
"""
from nnlite._dtype import (float16, float32, float64, int8, int16, int32, int64, uint8, bool_,  # noqa: F401
                           get_default_dtype, set_default_dtype)
from nnlite._backend import device  # noqa: F401
from nnlite._random import manual_seed, seed, initial_seed, get_rng_state, set_rng_state  # noqa: F401
from nnlite._threads import get_num_threads, set_num_threads  # noqa: F401
from nnlite._tensor import (Tensor, Size, tensor, from_numpy, as_tensor, zeros, ones, empty, full,  # noqa: F401
                            zeros_like, ones_like, empty_like, full_like, randn, rand, arange, cat, stack,
                            where, is_tensor)
from nnlite.autograd import no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: F401
from nnlite import autograd, nn, cuda, optim, utils, datasets  # noqa: F401

# PyTorch's short names for dtypes
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
bool = bool_  # noqa: A001

__version__ = "0.1.0"


def _unary(name):
    def f(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    f.__name__ = name
    f.__qualname__ = name
    f.__doc__ = f"``nnlite.{name}(t, ...)`` is ``t.{name}(...)`` (see PyTorch's ``torch.{name}``)."
    return f


for _name in ("abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "clamp", "sum", "mean", "var", "std",
              "max", "min", "argmax", "argmin", "reshape", "flatten", "transpose", "permute", "squeeze",
              "unsqueeze", "matmul", "softmax", "log_softmax", "maximum", "minimum", "clone", "detach"):
    globals()[_name] = _unary(_name)
del _name
from nnlite.serialization import save, load  # noqa: F401
from nnlite._tensor import add, sub, mul, div, randn_like, rand_like, linspace  # noqa: F401,E402
from nnlite.autograd.grad_mode import inference_mode, is_inference_mode_enabled  # noqa: F401,E402
from nnlite._deterministic import (use_deterministic_algorithms, are_deterministic_algorithms_enabled,  # noqa: F401,E402
                                   is_deterministic_algorithms_warn_only_enabled)
from nnlite import backends, xpu  # noqa: F401,E402
for _name in ("chunk", "split", "flip", "roll", "repeat", "topk", "sort", "argsort", "gather", "masked_fill",
              "unbind"):
    globals()[_name] = _unary(_name)
del _name


def __getattr__(name):
    """``nnlite.Generator`` on first use, so that ``import nnlite`` does not load ``numpy.random``."""
    if name == "Generator":
        from nnlite._generator import Generator
        return Generator
    raise AttributeError(f"module 'nnlite' has no attribute {name!r}")
