"""Adam and its decoupled-weight-decay form, PyTorch's single-tensor algorithm."""
from nnlite import _dtype
from nnlite._kernels import cpu_floats
from nnlite._threads import threads_for
from nnlite._tensor import tensor, zeros_like
from nnlite.autograd.grad_mode import no_grad
from nnlite.optim.optimizer import Optimizer

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam: first and second moment estimates with bias correction, optionally AMSGrad.

    For each parameter with gradient ``g`` (``-g`` when ``maximize``), at step ``t``::

        g = g + weight_decay * p                   (or p *= 1 - lr * weight_decay if decoupled)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                      (amsgrad; then v_max replaces v below)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    State: ``step`` (a float32 scalar tensor), ``exp_avg``, ``exp_avg_sq`` and,
    with ``amsgrad``, ``max_exp_avg_sq``.  Updates happen in place on the
    parameter's array (numpy or CuPy).

    >>> import nnlite, nnlite.optim
    >>> w = nnlite.nn.Parameter(nnlite.tensor([1.0, -1.0]))
    >>> opt = nnlite.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [0.9, -0.9]

    See PyTorch's ``torch.optim.Adam``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not (isinstance(betas[0], float) and isinstance(betas[1], float)):
            raise ValueError("betas must be either both floats or both Tensors")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize, "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("decoupled_weight_decay", False)

    def _state_for(self, p, amsgrad):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = tensor(0.0, dtype=_dtype.float32)
            state["exp_avg"] = zeros_like(p)
            state["exp_avg_sq"] = zeros_like(p)
            if amsgrad:
                state["max_exp_avg_sq"] = zeros_like(p)
        return state

    def step(self, closure=None):
        """Perform one optimisation step; ``closure`` (run with gradients on) returns the loss.

        See PyTorch's ``torch.optim.Adam.step``.
        """
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                beta1, beta2 = group["betas"]
                lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
                amsgrad, maximize = group["amsgrad"], group["maximize"]
                decoupled = group["decoupled_weight_decay"]
                for p, x, g, xp in self._params_with_grad(group):
                    state = self._state_for(p, amsgrad)
                    step_t = state["step"]
                    step_t._data += 1
                    step = float(step_t._data)
                    m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
                    vmax = state["max_exp_avg_sq"]._data if amsgrad else None
                    step_size = lr / (1 - beta1 ** step)
                    bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
                    kernel = _kernel(x, g, m, v, vmax)
                    if kernel is not None:
                        kernel.adam_step(x.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                                         None if vmax is None else vmax.reshape(-1), lr, beta1, beta2,
                                         eps, wd, decoupled, maximize, step_size,
                                         bias_correction2_sqrt, threads_for(x.size))
                    else:
                        _step_arrays(xp, x, g, m, v, vmax, lr, beta1, beta2, eps, wd, decoupled,
                                     maximize, step_size, bias_correction2_sqrt)
                    p._vc[0] += 1
                    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
                        if key in state:
                            state[key]._vc[0] += 1
        return loss


def _kernel(*arrays):
    """The Cython Adam kernel's module when it can take the arrays (None skipped), else None
    (the array-module path)."""
    if not cpu_floats(*arrays):
        return None
    from nnlite._kernels import _adam
    return _adam


def _step_arrays(xp, x, g, m, v, vmax, lr, beta1, beta2, eps, wd, decoupled, maximize, step_size,
                 bias_correction2_sqrt):
    """One Adam update with array-module operations, in place (the kernel's formulas)."""
    if wd != 0 and decoupled:
        xp.multiply(x, 1 - lr * wd, out=x)
    if wd != 0 and not decoupled:  # g + wd * p (or -g + wd * p)
        d = xp.multiply(x, wd)
        (xp.subtract if maximize else xp.add)(d, g, out=d)
    elif maximize:
        d = xp.negative(g)
    else:
        d = g
    t = xp.subtract(d, m)  # m.lerp_(d, 1 - beta1) = m + (1 - beta1) (d - m)
    xp.multiply(t, 1 - beta1, out=t)
    xp.add(m, t, out=m)
    xp.multiply(v, beta2, out=v)  # v = beta2 v + (1 - beta2) d d
    xp.multiply(d, 1 - beta2, out=t)
    xp.multiply(t, d, out=t)
    xp.add(v, t, out=v)
    if vmax is not None:
        xp.maximum(vmax, v, out=vmax)
        v = vmax
    xp.sqrt(v, out=t)  # denominator
    xp.divide(t, bias_correction2_sqrt, out=t)
    xp.add(t, eps, out=t)
    xp.divide(m, t, out=t)
    xp.multiply(t, -step_size, out=t)
    xp.add(x, t, out=x)
