"""The classification head the three networks share: global average pooling over time, then Linear."""
from nnlite import nn


def gap_linear(in_features, num_classes):
    """``AdaptiveAvgPool1d(1)``, ``Flatten()``, ``Linear(in_features, num_classes)`` as a list of layers."""
    return [nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(in_features, num_classes)]
