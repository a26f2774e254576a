"""``SyncBatchNorm``: batch normalisation with the statistics of all ranks' samples (see PyTorch's
``torch.nn.SyncBatchNorm``).

In training, each rank computes the per-channel count, mean and biased
variance of its own samples; every rank gathers all of them (in rank order)
and combines them in float64 the same way, so the statistics, the output and
the running statistics are bitwise identical on every rank and equal (to float
rounding) to ``BatchNorm1d`` on the concatenated batch.  The backward pass adds
the ranks' per-channel sums of the gradient and of ``gradient * (x - mean)``
(in rank order) to form the input gradient; the weight and bias gradients stay
local, as in PyTorch, for DistributedDataParallel to average.
"""
import numpy

from nnlite.autograd.function import Function
from nnlite.autograd.grad_mode import no_grad
from nnlite.nn import _norm
from nnlite.nn.modules.batchnorm import BatchNorm1d

__all__ = ["SyncBatchNorm"]


def _combine(stats, dt):
    """Per-channel (total count, mean, biased variance) from the ranks' rows of [count, mean..., var...]."""
    c = (stats.shape[1] - 1) // 2
    counts = stats[:, 0]
    total = 0.0
    for n in counts:
        total += n
    mean = numpy.zeros(c)
    for n, row in zip(counts, stats):
        mean += n * row[1:1 + c]
    mean /= total
    var = numpy.zeros(c)
    for n, row in zip(counts, stats):
        d = row[1:1 + c] - mean
        var += n * (row[1 + c:] + d * d)
    var /= total
    return int(total), mean.astype(dt), var.astype(dt)


class SyncBatchNormFunction(Function):
    """Training-mode batch norm of (N, C, L) numpy arrays with statistics over every rank of ``group``."""

    _array_backward = True

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps, group):
        from nnlite.distributed import collectives
        MPI = collectives._pg._mpi()
        x3 = numpy.ascontiguousarray(x._data)
        n, c, length = x3.shape
        dt = x3.dtype
        local = numpy.zeros(1 + 2 * c)
        local[0] = n * length
        if x3.size:
            mean, var = _norm._stats(numpy, x3)
            local[1:1 + c], local[1 + c:] = mean, var
        stats = numpy.empty((group.size, 1 + 2 * c))
        group.comm.Allgather([local, MPI.DOUBLE], [stats, MPI.DOUBLE])
        m, mean, var = _combine(stats, dt)
        if m <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got {m} over all ranks")
        if running_mean is not None:
            _norm._update_running(running_mean, running_var, mean, var, m, momentum)
        invstd = (1 / numpy.sqrt(var + eps)).astype(dt, copy=False)
        w = weight._data if weight is not None else None
        y = _norm._normalize(numpy, x3, mean, invstd, w, None if bias is None else bias._data)
        ctx.saved = (x3, mean, invstd, w, m, group)
        return y

    @staticmethod
    def backward(ctx, gy):
        from nnlite.distributed import collectives
        x3, mean, invstd, w, m, group = ctx.saved
        gy = numpy.ascontiguousarray(gy.astype(x3.dtype, copy=False))
        c = x3.shape[1]
        if x3.size:
            sum_dy, sum_dy_xmu = _norm._backward_sums(numpy, gy, x3, mean)
        else:
            sum_dy, sum_dy_xmu = numpy.zeros(c, x3.dtype), numpy.zeros(c, x3.dtype)
        needs = ctx.needs_input_grad
        gx = None
        if needs[0]:
            total = collectives.reduce_flat(group, numpy.concatenate([sum_dy, sum_dy_xmu]))
            gx = _norm._grad_input(numpy, gy, x3, mean, invstd, w, total[:c], total[c:], m, True) if x3.size \
                else numpy.empty_like(x3)
        gw = sum_dy_xmu * invstd if needs[1] else None
        gb = sum_dy if needs[2] else None
        return gx, gw, gb, None, None, None, None, None


class SyncBatchNorm(BatchNorm1d):
    """``BatchNorm1d`` whose training statistics span the samples of every rank of ``nnlite.distributed``.

    Takes (N, C, ...) input.  Outside training, or when no process group of
    more than one rank is running, it is exactly ``BatchNorm1d``.  Each rank
    may hold a different number of samples.  Convert a model's batch norms
    with :meth:`convert_sync_batchnorm`.  CPU tensors only.

    >>> import nnlite
    >>> net = nnlite.nn.Sequential(nnlite.nn.Conv1d(1, 4, 3), nnlite.nn.BatchNorm1d(4))
    >>> nnlite.nn.SyncBatchNorm.convert_sync_batchnorm(net)[1]
    SyncBatchNorm(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)

    See PyTorch's ``torch.nn.SyncBatchNorm``.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None, *, bias=True):
        if process_group is not None:
            raise NotImplementedError("nnlite.distributed has one group, the default one: pass process_group=None")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        self.process_group = None

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def _batch_norm(self, input, running_mean, running_var, bn_training, factor):
        from nnlite.distributed import process_group as pg
        group = pg._group
        if not (bn_training and self.training and group is not None and group.size > 1):
            return super()._batch_norm(input, running_mean, running_var, bn_training, factor)
        if not isinstance(input._data, numpy.ndarray) or any(
                t is not None and not isinstance(t._data, numpy.ndarray)
                for t in (self.weight, self.bias, running_mean, running_var)):
            raise TypeError("SyncBatchNorm across ranks works on CPU tensors; got a tensor on another device")
        from nnlite.distributed import collectives
        collectives._agree(group, "SyncBatchNorm", numpy.empty(input.shape[1], input._data.dtype))  # channels, dtype
        shape = tuple(input.shape)
        x3 = input.reshape(shape[0], shape[1], -1) if input.dim() != 3 else input
        if self.eps <= 0.0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {self.eps}")
        y = SyncBatchNormFunction.apply(x3, self.weight, self.bias, running_mean, running_var, float(factor),
                                        float(self.eps), group)
        return y.reshape(shape) if input.dim() != 3 else y

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Return ``module`` with every ``BatchNorm1d`` in it replaced by a ``SyncBatchNorm``.

        The new layers share the old ones' parameters and buffers (same
        tensors) and training mode; a ``BatchNorm1d`` passed itself comes back
        converted.  See PyTorch's ``torch.nn.SyncBatchNorm.convert_sync_batchnorm``.
        """
        out = module
        if isinstance(module, BatchNorm1d):
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group, bias=module.bias is not None or not module.affine)
            if module.affine:
                with no_grad():
                    out.weight = module.weight
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out

