"""``Upsample`` (see PyTorch's ``torch.nn.Upsample``): :func:`nnlite.nn.functional.interpolate` as a layer."""
from nnlite.nn import functional as F
from nnlite.nn.modules.module import Module

__all__ = ["Upsample"]


class Upsample(Module):
    """Resample (N, C, L) input to ``size`` or by ``scale_factor`` ('nearest', 'nearest-exact' or 'linear').

    >>> from nnlite.nn.modules.upsampling import Upsample
    >>> Upsample(scale_factor=2)
    Upsample(scale_factor=2.0, mode='nearest')
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) else scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"
