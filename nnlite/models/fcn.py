"""The fully convolutional network (FCN) of Wang, Yan and Oates 2017."""
from nnlite import nn
from nnlite.models._head import gap_linear
from nnlite.nn.utils.fusion import can_fold, folded_conv, has_hooks, relu_

__all__ = ["FCN"]


class FCN(nn.Sequential):
    """Fully convolutional network for time-series classification.

    Z. Wang, W. Yan, T. Oates, "Time series classification from scratch with deep
    neural networks: a strong baseline", IJCNN 2017; the architecture of
    hfawaz/dl-4-tsc (Ismail Fawaz et al. 2019): three ``Conv1d`` of 128/256/128
    filters with kernels 8/5/3 and ``padding='same'`` (with bias), each followed
    by ``BatchNorm1d`` and ``ReLU``; global average pooling; ``Linear`` to
    ``num_classes`` logits.  ``filters`` changes the widths (a smaller network for
    quick runs; the paper's is the default).

    A ``Sequential``, so its ``state_dict`` keys are the layer indices
    (``'0.weight'`` is the first convolution's weight).

    >>> import numpy, nnlite
    >>> from nnlite.models import FCN
    >>> net = FCN(1, 3)
    >>> sum(p.numel() for p in net.parameters())
    265091
    >>> net(numpy.zeros((4, 1, 50), dtype=numpy.float32)).shape
    nnlite.Size([4, 3])
    """

    def __init__(self, in_channels, num_classes, *, filters=(128, 256, 128)):
        layers = []
        for c_in, c_out, k in zip((in_channels,) + tuple(filters[:-1]), filters, (8, 5, 3)):
            layers += [nn.Conv1d(c_in, c_out, k, padding="same"), nn.BatchNorm1d(c_out), nn.ReLU()]
        super().__init__(*layers, *gap_linear(filters[-1], num_classes))

    def forward(self, input):
        # Sequential's forward, but a Conv1d, BatchNorm1d, ReLU run folded into one convolution
        # in eval mode without a gradient (nnlite.nn.utils.fusion); any other layer as it is
        mods = list(self._modules.values())
        x, i = input, 0
        while i < len(mods):
            if (i + 2 < len(mods) and type(mods[i]) is nn.Conv1d and type(mods[i + 1]) is nn.BatchNorm1d
                    and type(mods[i + 2]) is nn.ReLU and not has_hooks(mods[i + 2])
                    and can_fold(mods[i], mods[i + 1])):
                x = relu_(folded_conv(mods[i], mods[i + 1], x))
                i += 3
            else:
                x = mods[i](x)
                i += 1
        return x
