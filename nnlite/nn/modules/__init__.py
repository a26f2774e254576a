"""The layers and containers of ``nnlite.nn`` (PyTorch's ``torch.nn.modules``)."""
from nnlite.nn.modules.module import Module
from nnlite.nn.modules.container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
from nnlite.nn.modules.conv import Conv1d
from nnlite.nn.modules.conv_transpose import ConvTranspose1d
from nnlite.nn.modules.linear import Linear, Identity
from nnlite.nn.modules.flatten import Flatten, Unflatten
from nnlite.nn.modules.activation import ReLU, LeakyReLU, GELU, ELU, Tanh, Sigmoid, Softmax, LogSoftmax
from nnlite.nn.modules.dropout import Dropout
from nnlite.nn.modules.batchnorm import BatchNorm1d
from nnlite.nn.modules.syncbatchnorm import SyncBatchNorm
from nnlite.nn.modules.normalization import GroupNorm, LayerNorm
from nnlite.nn.modules.pooling import MaxPool1d, AvgPool1d, AdaptiveAvgPool1d, AdaptiveMaxPool1d
from nnlite.nn.modules.loss import (MSELoss, L1Loss, SmoothL1Loss, HuberLoss, CrossEntropyLoss, NLLLoss, BCELoss,
                                    BCEWithLogitsLoss)

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "Conv1d",
           "ConvTranspose1d", "Linear", "Identity", "Flatten", "Unflatten", "ReLU", "LeakyReLU", "GELU", "ELU",
           "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Dropout", "BatchNorm1d", "GroupNorm", "LayerNorm",
           "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "MSELoss", "L1Loss", "SmoothL1Loss",
           "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss"]
__all__ += ["SyncBatchNorm"]
from nnlite.nn.modules.activation import PReLU, SiLU, Mish, Hardswish, Softplus, Hardtanh, ReLU6  # noqa: E402
from nnlite.nn.modules.dropout import Dropout1d  # noqa: E402
from nnlite.nn.modules.instancenorm import InstanceNorm1d  # noqa: E402
from nnlite.nn.modules.padding import ConstantPad1d, ZeroPad1d, ReflectionPad1d, ReplicationPad1d, CircularPad1d  # noqa: E402,E501
from nnlite.nn.modules.pooling import MaxUnpool1d  # noqa: E402
from nnlite.nn.modules.upsampling import Upsample  # noqa: E402

__all__ += ["PReLU", "SiLU", "Mish", "Hardswish", "Softplus", "Hardtanh", "ReLU6", "Dropout1d", "InstanceNorm1d",
            "ConstantPad1d", "ZeroPad1d", "ReflectionPad1d", "ReplicationPad1d", "CircularPad1d", "MaxUnpool1d",
            "Upsample"]
