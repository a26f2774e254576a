"""The backend switches PyTorch scripts set at the top: ``backends.cudnn``, ``backends.mps``.

nnlite has no cuDNN and no Metal backend.  ``cudnn.deterministic`` and
``cudnn.benchmark`` are plain settable flags (nnlite's kernels are always
deterministic, so they change nothing); ``mps.is_available()`` is False.

>>> import nnlite
>>> nnlite.backends.cudnn.deterministic = True
>>> nnlite.backends.cudnn.benchmark = False
>>> nnlite.backends.mps.is_available()
False

See PyTorch's ``torch.backends``.
"""
from nnlite.backends import cudnn, mps  # noqa: F401

__all__ = ["cudnn", "mps"]
