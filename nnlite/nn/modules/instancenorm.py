"""``InstanceNorm1d`` (see PyTorch's ``torch.nn.InstanceNorm1d``)."""
import warnings

from nnlite.nn import functional as F
from nnlite.nn.modules.batchnorm import BatchNorm1d

__all__ = ["InstanceNorm1d"]


class InstanceNorm1d(BatchNorm1d):
    """Normalise each channel of each sample of (N, C, L) or (C, L) input over its length.

    Defaults differ from BatchNorm1d as PyTorch's do: ``affine=False``,
    ``track_running_stats=False``.  With running statistics, eval mode uses them.

    >>> from nnlite.nn.modules.instancenorm import InstanceNorm1d
    >>> InstanceNorm1d(3)
    InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input):
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")
        unbatched = input.dim() == 2
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={1 if not unbatched else 0} to match num_features "
                                 f"({self.num_features}), but got: {x.shape[1]}.")
            warnings.warn(f"input's size at dim={1 if not unbatched else 0} does not match num_features. You can "
                          "silence this warning by not passing in num_features, which is not used because "
                          "affine=False", stacklevel=2)
        use_input_stats = self.training or not self.track_running_stats
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                            self.momentum if self.momentum is not None else 0.0, self.eps)
        return y.squeeze(0) if unbatched else y
