"""AdamW: Adam with decoupled weight decay."""
from nnlite.optim.adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    """Adam whose weight decay shrinks the parameters directly (``p *= 1 - lr * weight_decay``).

    Same state and options as :class:`~nnlite.optim.Adam`; the weight decay
    defaults to 1e-2 and never enters the moment estimates.

    >>> import nnlite, nnlite.optim
    >>> w = nnlite.nn.Parameter(nnlite.tensor([1.0]))
    >>> opt = nnlite.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = nnlite.tensor([0.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    0.95

    See PyTorch's ``torch.optim.AdamW``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
