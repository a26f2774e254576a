"""Loss modules: thin stateful wrappers over ``nnlite.nn._loss_functional`` (PyTorch's ``torch.nn`` losses).

Each holds its options (``reduction``, and ``weight``/``pos_weight`` as
buffers, so ``.to()`` and ``state_dict()`` carry them) and calls the function
in ``forward(input, target)``.

>>> import nnlite
>>> from nnlite.nn.modules.loss import CrossEntropyLoss
>>> loss_fn = CrossEntropyLoss(label_smoothing=0.1)
>>> loss_fn
CrossEntropyLoss()
>>> round(loss_fn(nnlite.tensor([[2.0, 0.0, -1.0]]), nnlite.tensor([0])).item(), 4)
0.3365
"""
from nnlite.nn import _loss_functional as F
from nnlite.nn.modules.module import Module

__all__ = ["MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
           "BCEWithLogitsLoss"]


class _Loss(Module):
    """Base of the losses: keeps ``reduction`` (the deprecated ``size_average``/``reduce`` win when given)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = F._legacy_reduction(size_average, reduce)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with a per-class ``weight``, registered as a buffer (None allowed)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error between ``input`` and ``target``; see :func:`~nnlite.nn.functional.mse_loss`.

    >>> import nnlite
    >>> from nnlite.nn.modules.loss import MSELoss
    >>> MSELoss()(nnlite.tensor([1.0, 2.0]), nnlite.tensor([1.0, 0.0])).item()
    2.0

    See PyTorch's ``torch.nn.MSELoss``.
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error; see :func:`~nnlite.nn.functional.l1_loss`.

    >>> import nnlite
    >>> from nnlite.nn.modules.loss import L1Loss
    >>> L1Loss(reduction='sum')(nnlite.tensor([1.0, 2.0]), nnlite.tensor([1.0, 0.0])).item()
    2.0

    See PyTorch's ``torch.nn.L1Loss``.
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Squared error below ``beta``, absolute error above it; see :func:`~nnlite.nn.functional.smooth_l1_loss`.

    >>> import nnlite
    >>> from nnlite.nn.modules.loss import SmoothL1Loss
    >>> SmoothL1Loss(beta=2.0)(nnlite.tensor([1.0]), nnlite.tensor([0.0])).item()
    0.25

    See PyTorch's ``torch.nn.SmoothL1Loss``.
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Squared error below ``delta``, ``delta``-scaled absolute error above it.

    See :func:`~nnlite.nn.functional.huber_loss`.

    >>> import nnlite
    >>> from nnlite.nn.modules.loss import HuberLoss
    >>> HuberLoss(delta=0.5)(nnlite.tensor([3.0]), nnlite.tensor([0.0])).item()
    1.375

    See PyTorch's ``torch.nn.HuberLoss``.
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class-index targets, given log-probabilities.

    See :func:`~nnlite.nn.functional.nll_loss`.

    >>> import nnlite
    >>> from nnlite.nn.modules.loss import NLLLoss
    >>> NLLLoss(reduction='sum')(nnlite.tensor([[-0.5, -1.0]]), nnlite.tensor([1])).item()
    1.0

    See PyTorch's ``torch.nn.NLLLoss``.
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy of logits against class indices or class probabilities.

    Input (N, C), (N, C, d1, ...) or (C,); target int64 indices (N, d1, ...)
    or probabilities of the input's shape.  ``weight`` (C,) rescales classes,
    ``ignore_index`` drops targets ('mean' divides by the kept targets'
    summed weights), ``label_smoothing`` mixes in the uniform distribution.
    See :func:`~nnlite.nn.functional.cross_entropy`.

    >>> import nnlite
    >>> from nnlite.nn.modules.loss import CrossEntropyLoss
    >>> loss = CrossEntropyLoss(weight=nnlite.tensor([1.0, 3.0]), ignore_index=-1)
    >>> round(loss(nnlite.tensor([[0.0, 0.0], [1.0, 0.0]]), nnlite.tensor([1, -1])).item(), 4)
    0.6931

    See PyTorch's ``torch.nn.CrossEntropyLoss``.
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class BCELoss(_WeightedLoss):
    """Binary cross entropy of probabilities; see :func:`~nnlite.nn.functional.binary_cross_entropy`.

    >>> import nnlite
    >>> from nnlite.nn.modules.loss import BCELoss
    >>> round(BCELoss()(nnlite.tensor([0.5]), nnlite.tensor([1.0])).item(), 4)
    0.6931

    See PyTorch's ``torch.nn.BCELoss``.
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross entropy of logits, computed stably (log-sigmoid form).

    ``weight`` and ``pos_weight`` are buffers.  See
    :func:`~nnlite.nn.functional.binary_cross_entropy_with_logits`.

    >>> import nnlite
    >>> from nnlite.nn.modules.loss import BCEWithLogitsLoss
    >>> round(BCEWithLogitsLoss(pos_weight=nnlite.tensor([2.0]))(nnlite.tensor([0.0]), nnlite.tensor([1.0])).item(), 4)
    1.3863

    See PyTorch's ``torch.nn.BCEWithLogitsLoss``.
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, pos_weight=self.pos_weight,
                                                  reduction=self.reduction)
