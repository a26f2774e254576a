"""Automatic differentiation: ``Function``, ``backward``, ``grad``, the grad modes and ``gradcheck``."""
from nnlite.autograd.function import Function, BackwardNode  # noqa: F401
from nnlite.autograd.grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: F401
from nnlite.autograd.engine import grad  # noqa: F401
from nnlite.autograd.gradcheck import gradcheck, GradcheckError  # noqa: F401


def backward(tensors, grad_tensors=None, retain_graph=None):
    """Backpropagate from several tensors at once (see ``torch.autograd.backward``)."""
    from nnlite.autograd import engine
    from nnlite._tensor import Tensor
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors]
    grads = [engine._root_grad(t, g) for t, g in zip(tensors, grad_tensors)]
    engine.run_backward(tensors, grads, retain_graph=bool(retain_graph))


__all__ = ["Function", "BackwardNode", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "grad", "gradcheck", "GradcheckError", "backward"]
from nnlite.autograd.variable import Variable  # noqa: F401,E402
from nnlite.autograd.grad_mode import inference_mode  # noqa: F401,E402

__all__ += ["Variable", "inference_mode"]
