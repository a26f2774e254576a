"""Stochastic gradient descent with momentum, dampening, Nesterov momentum, weight decay and maximize."""
from nnlite._tensor import Tensor
from nnlite.autograd.grad_mode import no_grad
from nnlite.optim.optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), PyTorch's single-tensor algorithm.

    For each parameter with a gradient ``g`` (``-g`` when ``maximize``)::

        g = g + weight_decay * p
        b = g                                  on the first step, else
        b = momentum * b + (1 - dampening) * g
        g = g + momentum * b   (nesterov)      or   g = b
        p = p - lr * g

    The parameter's array is updated in place (numpy or CuPy alike); the state
    keeps ``momentum_buffer`` when ``momentum != 0``.

    >>> import nnlite, nnlite.optim
    >>> w = nnlite.nn.Parameter(nnlite.tensor([1.0]))
    >>> opt = nnlite.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> round(w.item(), 4)
    0.46

    See PyTorch's ``torch.optim.SGD``.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)

    def step(self, closure=None):
        """Perform one optimisation step; ``closure`` (run with gradients on) returns the loss.

        See PyTorch's ``torch.optim.SGD.step``.
        """
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                lr, wd, momentum = group["lr"], group["weight_decay"], group["momentum"]
                dampening, nesterov, maximize = group["dampening"], group["nesterov"], group["maximize"]
                for p, x, g, xp in self._params_with_grad(group):
                    scratch = None  # our one temporary, once we need it
                    if wd != 0:  # g + wd * p (or -g + wd * p)
                        scratch = xp.multiply(x, wd)
                        (xp.subtract if maximize else xp.add)(scratch, g, out=scratch)
                        d = scratch
                    elif maximize:
                        d = scratch = xp.negative(g)
                    else:
                        d = g
                    if momentum != 0:
                        state = self.state[p]
                        buf = state.get("momentum_buffer")
                        if buf is None:
                            buf = state["momentum_buffer"] = Tensor(d.copy())
                            b = buf._data
                        else:
                            b = buf._data
                            xp.multiply(b, momentum, out=b)
                            if dampening == 0:
                                xp.add(b, d, out=b)
                            else:
                                if scratch is None:
                                    scratch = xp.empty_like(d)
                                xp.multiply(d, 1 - dampening, out=scratch)
                                xp.add(b, scratch, out=b)
                            buf._vc[0] += 1
                        if nesterov:  # g + momentum * b (dampening is 0, so d is the gradient or scratch)
                            if scratch is None:
                                scratch = xp.multiply(b, momentum)
                                xp.add(d, scratch, out=scratch)
                            else:
                                xp.add(d, xp.multiply(b, momentum), out=scratch)
                            d = scratch
                        else:
                            d = b
                    if scratch is None:
                        scratch = xp.empty_like(d)
                    xp.multiply(d, -lr, out=scratch)
                    xp.add(x, scratch, out=x)
                    p._vc[0] += 1
        return loss
