"""Adagrad, PyTorch's single-tensor algorithm."""
from nnlite._tensor import full_like, tensor
from nnlite import _dtype
from nnlite.autograd.grad_mode import no_grad
from nnlite.optim.optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Per-element learning rates from the running sum of squared gradients.

    At step ``t``, with gradient ``g`` (``-g`` when ``maximize``)::

        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g;   p = p - clr * g / (sqrt(s) + eps)

    State (created with the optimizer, as PyTorch's): ``step`` and ``sum``
    (starting at ``initial_accumulator_value``).

    >>> import nnlite, nnlite.optim
    >>> w = nnlite.nn.Parameter(nnlite.tensor([1.0]))
    >>> opt = nnlite.optim.Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward(); opt.step()
    >>> round(w.item(), 4)
    0.5

    See PyTorch's ``torch.optim.Adagrad``.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = tensor(0.0, dtype=_dtype.float32)
                state["sum"] = full_like(p, group["initial_accumulator_value"])

    def step(self, closure=None):
        """Perform one optimisation step; ``closure`` (run with gradients on) returns the loss."""
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                lr, lr_decay, eps, wd = group["lr"], group["lr_decay"], group["eps"], group["weight_decay"]
                for p, x, g, xp in self._params_with_grad(group):
                    state = self.state[p]
                    state["step"]._data += 1
                    step = float(state["step"]._data)
                    d = -g if group["maximize"] else g
                    if wd != 0:
                        d = d + wd * x
                    clr = lr / (1 + (step - 1) * lr_decay)
                    s = state["sum"]._data
                    s += d * d
                    x -= clr * (d / (xp.sqrt(s) + eps))
                    p._vc[0] += 1
        return loss
