"""The residual network (ResNet) for time series of Wang, Yan and Oates 2017."""
from nnlite import nn
from nnlite.models._head import gap_linear
from nnlite.nn import functional as F
from nnlite.nn.utils.fusion import conv_bn, conv_bn_sequential

__all__ = ["ResNet"]


class _ResidualBlock(nn.Module):
    """Three Conv1d (kernels 8/5/3, ``'same'``) with BatchNorm1d, ReLU after the first two; a shortcut; add; ReLU."""

    def __init__(self, in_channels, out_channels, project):
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, out_channels, 8, padding="same")
        self.bn1 = nn.BatchNorm1d(out_channels)
        self.conv2 = nn.Conv1d(out_channels, out_channels, 5, padding="same")
        self.bn2 = nn.BatchNorm1d(out_channels)
        self.conv3 = nn.Conv1d(out_channels, out_channels, 3, padding="same")
        self.bn3 = nn.BatchNorm1d(out_channels)
        if project:
            self.shortcut = nn.Sequential(nn.Conv1d(in_channels, out_channels, 1), nn.BatchNorm1d(out_channels))
        else:
            self.shortcut = nn.BatchNorm1d(out_channels)

    def forward(self, x):
        # eval mode without a gradient: each BatchNorm1d folded into its Conv1d (nnlite.nn.utils.fusion)
        y = conv_bn(self.conv1, self.bn1, x, relu=True)
        y = conv_bn(self.conv2, self.bn2, y, relu=True)
        return F.relu(conv_bn(self.conv3, self.bn3, y) + conv_bn_sequential(self.shortcut, x))


class ResNet(nn.Module):
    """Residual network for time-series classification.

    Z. Wang, W. Yan, T. Oates, "Time series classification from scratch with deep
    neural networks: a strong baseline", IJCNN 2017; the architecture of
    hfawaz/dl-4-tsc (Ismail Fawaz et al. 2019): three residual blocks of
    64/128/128 filters, each three ``Conv1d`` of kernels 8/5/3 (``'same'``, with
    bias) with ``BatchNorm1d``, ``ReLU`` after the first two and after the sum
    with the shortcut.  The shortcut of the first two blocks is a 1×1 ``Conv1d``
    and ``BatchNorm1d`` (the channel count changes there: in_channels → 64 →
    128; the reference projects in the first block even when ``in_channels`` is
    64, and so does this), that of the third ``BatchNorm1d`` alone (128 → 128).
    Global average pooling; ``Linear`` to ``num_classes`` logits.  ``filters``
    changes the three widths (the paper's is the default).

    >>> import numpy
    >>> from nnlite.models import ResNet
    >>> net = ResNet(1, 2)
    >>> sum(p.numel() for p in net.parameters())
    504258
    >>> net(numpy.zeros((3, 1, 30), dtype=numpy.float32)).shape
    nnlite.Size([3, 2])
    """

    def __init__(self, in_channels, num_classes, *, filters=(64, 128, 128)):
        super().__init__()
        widths = (in_channels,) + tuple(filters)
        self.blocks = nn.Sequential(*(_ResidualBlock(c_in, c_out, i < 2 or c_in != c_out)
                                      for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:]))))
        self.head = nn.Sequential(*gap_linear(filters[-1], num_classes))

    def forward(self, x):
        return self.head(self.blocks(x))
