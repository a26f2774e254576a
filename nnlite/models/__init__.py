"""Ready-made time-series networks: :class:`FCN`, :class:`ResNet` and :class:`InceptionTime`.

Each is an :class:`nnlite.nn.Module` that takes a batch ``(N, C, L)`` (aeon's
``(n_cases, n_channels, n_timepoints)``) and returns logits ``(N, num_classes)``,
built exactly as in the reference code of its paper (hfawaz/dl-4-tsc,
hfawaz/InceptionTime), so the parameter counts are the papers'.  They use
nothing but ``nnlite.nn``; the fit/predict estimators around them are in
:mod:`nnlite.sklearn`.

>>> import numpy, nnlite.models
>>> net = nnlite.models.ResNet(3, 5)
>>> net(numpy.zeros((2, 3, 40), dtype=numpy.float32)).shape
nnlite.Size([2, 5])
"""
from nnlite.models.fcn import FCN
from nnlite.models.resnet import ResNet
from nnlite.models.inception_time import InceptionTime

__all__ = ["FCN", "ResNet", "InceptionTime"]
