"""The layers and containers of ``nnlite.nn`` (PyTorch's ``torch.nn.modules``)."""
from nnlite.nn.modules.module import Module
from nnlite.nn.modules.container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
from nnlite.nn.modules.conv import Conv1d

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "Conv1d"]
