"""ONNX export: ``nnlite.onnx.export(model, args, f, ...)``, as PyTorch's ``torch.onnx.export``.

The ``onnx`` package (``pip install nnlite[onnx]``) is imported only when
:func:`export` runs, so ``import nnlite`` and ``import nnlite.onnx`` stay light.
See docs/onnx.md for the API, the op table and the dynamic-size rules.
"""
from nnlite.onnx.export import SUPPORTED_OPSETS, UnsupportedOperatorError, export

__all__ = ["export", "UnsupportedOperatorError", "SUPPORTED_OPSETS"]
