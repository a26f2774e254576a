"""The layers and containers of ``nnlite.nn`` (PyTorch's ``torch.nn.modules``)."""
from nnlite.nn.modules.module import Module
from nnlite.nn.modules.container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]
# layers: from .conv import Conv1d  (added by the integrator, with "Conv1d" in __all__)
