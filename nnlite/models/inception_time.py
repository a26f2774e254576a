"""InceptionTime of Ismail Fawaz et al. 2020: one network of the ensemble."""
import nnlite
from nnlite import nn
from nnlite.models._head import gap_linear
from nnlite.nn import functional as F
from nnlite.nn.utils.fusion import can_fold, conv_bn_sequential, folded_conv, relu_

__all__ = ["InceptionTime"]


class _InceptionModule(nn.Module):
    """Bottleneck, three wide convolutions and a max-pool branch, concatenated; BatchNorm1d; ReLU."""

    def __init__(self, in_channels, n_filters, bottleneck, kernel_sizes):
        super().__init__()
        # the reference skips the bottleneck for a one-channel input (nothing to compress)
        if bottleneck and in_channels > 1:
            self.bottleneck = nn.Conv1d(in_channels, bottleneck, 1, bias=False)
            width = bottleneck
        else:
            self.bottleneck = None
            width = in_channels
        self.convs = nn.ModuleList(nn.Conv1d(width, n_filters, k, padding="same", bias=False)
                                   for k in kernel_sizes)
        self.pool = nn.MaxPool1d(3, stride=1, padding=1)
        self.pool_conv = nn.Conv1d(in_channels, n_filters, 1, bias=False)
        self.bn = nn.BatchNorm1d(n_filters * (len(kernel_sizes) + 1))

    def forward(self, x):
        z = x if self.bottleneck is None else self.bottleneck(x)
        convs = list(self.convs) + [self.pool_conv]
        inputs = [z] * len(self.convs) + [self.pool(x)]
        if all(can_fold(conv, self.bn) for conv in convs):
            # eval mode without a gradient: each branch's channels of the BatchNorm1d folded into it
            nf = self.pool_conv.out_channels
            y = nnlite.cat([folded_conv(conv, self.bn, v, slice(i * nf, (i + 1) * nf))
                            for i, (conv, v) in enumerate(zip(convs, inputs))], 1)
            return relu_(y)
        return F.relu(self.bn(nnlite.cat([conv(v) for conv, v in zip(convs, inputs)], 1)))


class InceptionTime(nn.Module):
    """One InceptionTime network for time-series classification.

    H. Ismail Fawaz, B. Lucas, G. Forestier, C. Pelletier, D. F. Schmidt,
    J. Weber, G. I. Webb, L. Idoumghar, P.-A. Muller, F. Petitjean,
    "InceptionTime: finding AlexNet for time series classification", Data
    Mining and Knowledge Discovery 34, 2020; the architecture of
    hfawaz/InceptionTime.  ``depth`` Inception modules, each: a 1×1 bottleneck
    ``Conv1d`` to ``bottleneck`` channels (skipped when the module's input has
    one channel, or when ``bottleneck`` is 0 or None) feeding one ``Conv1d`` of
    ``n_filters`` per kernel in ``kernel_sizes`` (``'same'``; even kernels pad
    one more on the right, as Keras does), plus a branch taking the module's own
    input through ``MaxPool1d(3, stride=1, padding=1)`` and a 1×1 ``Conv1d``;
    the branches concatenated (``4 * n_filters`` channels with three kernels),
    ``BatchNorm1d``, ``ReLU``.  After every third module a shortcut: a 1×1
    ``Conv1d`` from the input of that block of three, ``BatchNorm1d``, added,
    ``ReLU``.  No ``Conv1d`` has a bias.  Global average pooling; ``Linear`` to
    ``num_classes`` logits.  The paper's ensemble averages five of these
    (:class:`nnlite.sklearn.InceptionTimeClassifier`).

    >>> import numpy
    >>> from nnlite.models import InceptionTime
    >>> net = InceptionTime(1, 2)
    >>> sum(p.numel() for p in net.parameters())
    420450
    >>> net(numpy.zeros((2, 1, 60), dtype=numpy.float32)).shape
    nnlite.Size([2, 2])
    """

    def __init__(self, in_channels, num_classes, depth=6, n_filters=32, bottleneck=32, kernel_sizes=(40, 20, 10)):
        super().__init__()
        width = n_filters * (len(kernel_sizes) + 1)
        self.blocks = nn.ModuleList()
        self.shortcuts = nn.ModuleList()
        c_in, c_res = in_channels, in_channels
        for d in range(depth):
            self.blocks.append(_InceptionModule(c_in, n_filters, bottleneck, kernel_sizes))
            c_in = width
            if d % 3 == 2:
                self.shortcuts.append(nn.Sequential(nn.Conv1d(c_res, width, 1, bias=False), nn.BatchNorm1d(width)))
                c_res = width
        self.head = nn.Sequential(*gap_linear(width, num_classes))

    def forward(self, x):
        residual = x
        for d, block in enumerate(self.blocks):
            x = block(x)
            if d % 3 == 2:
                x = F.relu(x + conv_bn_sequential(self.shortcuts[d // 3], residual))
                residual = x
        return self.head(x)
