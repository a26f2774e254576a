"""``BatchNorm1d`` (see PyTorch's ``torch.nn.BatchNorm1d``)."""
from nnlite import _backend
from nnlite._dtype import as_dtype, get_default_dtype, int64
from nnlite._tensor import empty, ones, tensor, zeros
from nnlite.autograd.grad_mode import no_grad
from nnlite.nn import functional as F
from nnlite.nn import init
from nnlite.nn.modules.module import Module
from nnlite.nn.parameter import Parameter

__all__ = ["BatchNorm1d"]


class BatchNorm1d(Module):
    """Batch normalisation over (N, C) or (N, C, L) input, per channel.

    In training mode the batch statistics normalise (biased variance) and the
    running statistics are updated with the unbiased variance:
    ``running = (1 - momentum) * running + momentum * batch``, or the cumulative
    average when ``momentum=None``.  In eval mode the running statistics are
    used (the batch statistics when ``track_running_stats=False``).  Buffers
    ``running_mean``, ``running_var`` and ``num_batches_tracked`` (int64) are
    registered in that order, so ``state_dict`` keys match PyTorch's.  The
    keyword-only ``bias`` follows the installed PyTorch (2.13).
    See PyTorch's ``torch.nn.BatchNorm1d``.

    >>> from nnlite.nn.modules.batchnorm import BatchNorm1d
    >>> import nnlite
    >>> m = BatchNorm1d(3)
    >>> m
    BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> list(m.state_dict())
    ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    >>> _ = m(nnlite.randn(8, 3, 5)); int(m.num_batches_tracked)
    1
    """

    _version = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dt = get_default_dtype() if dtype is None else as_dtype(dtype)
        dev = _backend.resolve_device(device)
        if affine:
            self.weight = Parameter(empty(num_features, dtype=dt, device=dev))
            if bias:
                self.bias = Parameter(empty(num_features, dtype=dt, device=dev))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dt, device=dev))
            self.register_buffer("running_var", ones(num_features, dtype=dt, device=dev))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=int64, device=dev))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        """Running mean 0, running variance 1, ``num_batches_tracked`` 0."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        """Reset the running statistics; weight 1 and bias 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input):
        if input.dim() != 2 and input.dim() != 3:
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        bn_training = True if self.training else (self.running_mean is None and self.running_var is None)
        use_running = not self.training or self.track_running_stats
        return self._batch_norm(input, self.running_mean if use_running else None,
                                self.running_var if use_running else None, bn_training, factor)

    def _batch_norm(self, input, running_mean, running_var, bn_training, factor):
        # the one step SyncBatchNorm replaces: normalise (with statistics over all ranks there)
        return F.batch_norm(input, running_mean, running_var, self.weight, self.bias, bn_training, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # checkpoints older than version 2 have no num_batches_tracked: it loads as 0, as in PyTorch
        version = local_metadata.get("version", None)
        if (version is None or version < 2) and self.track_running_stats:
            key = prefix + "num_batches_tracked"
            if key not in state_dict:
                state_dict[key] = (self.num_batches_tracked if self.num_batches_tracked is not None
                                   else tensor(0, dtype=int64))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
