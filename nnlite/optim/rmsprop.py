"""RMSprop, PyTorch's single-tensor algorithm."""
from nnlite._tensor import tensor, zeros_like
from nnlite import _dtype
from nnlite.autograd.grad_mode import no_grad
from nnlite.optim.optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Divide the gradient by a running root mean square of recent gradients.

    For each parameter with gradient ``g`` (``-g`` when ``maximize``)::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - mean_g ** 2) + eps   (centered; mean_g = lerp(mean_g, g, 1 - alpha))   or sqrt(v) + eps
        b = momentum * b + g / avg;  p = p - lr * b     (momentum > 0)   or   p = p - lr * g / avg

    State: ``step``, ``square_avg``, and ``momentum_buffer`` / ``grad_avg`` when used.

    >>> import nnlite, nnlite.optim
    >>> w = nnlite.nn.Parameter(nnlite.tensor([1.0]))
    >>> opt = nnlite.optim.RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward(); opt.step()
    >>> round(w.item(), 4)
    0.9

    See PyTorch's ``torch.optim.RMSprop``.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Perform one optimisation step; ``closure`` (run with gradients on) returns the loss."""
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                lr, alpha, eps, wd = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
                momentum, centered, maximize = group["momentum"], group["centered"], group["maximize"]
                for p, x, g, xp in self._params_with_grad(group):
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = tensor(0.0, dtype=_dtype.float32)
                        state["square_avg"] = zeros_like(p)
                        if momentum > 0:
                            state["momentum_buffer"] = zeros_like(p)
                        if centered:
                            state["grad_avg"] = zeros_like(p)
                    state["step"]._data += 1
                    d = -g if maximize else g
                    if wd != 0:
                        d = d + wd * x
                    v = state["square_avg"]._data
                    xp.multiply(v, alpha, out=v)
                    v += (1 - alpha) * d * d
                    if centered:
                        ga = state["grad_avg"]._data
                        ga += (d - ga) * (1 - alpha)
                        avg = xp.sqrt(v - ga * ga) + eps
                    else:
                        avg = xp.sqrt(v) + eps
                    if momentum > 0:
                        b = state["momentum_buffer"]._data
                        xp.multiply(b, momentum, out=b)
                        b += d / avg
                        x -= lr * b
                    else:
                        x -= lr * (d / avg)
                    p._vc[0] += 1
        return loss
