"""Optimizers and learning-rate schedulers (PyTorch's ``torch.optim``).

>>> import nnlite, nnlite.optim
>>> w = nnlite.nn.Parameter(nnlite.zeros(3))
>>> opt = nnlite.optim.Adam([w], lr=1e-2)
>>> sched = nnlite.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
>>> sched.get_last_lr()
[0.01]
"""
from nnlite.optim.optimizer import Optimizer  # noqa: F401
from nnlite.optim.sgd import SGD  # noqa: F401
from nnlite.optim.adam import Adam  # noqa: F401
from nnlite.optim.adamw import AdamW  # noqa: F401
from nnlite.optim import lr_scheduler  # noqa: F401
from nnlite.optim.rmsprop import RMSprop  # noqa: F401
from nnlite.optim.adagrad import Adagrad  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler", "RMSprop", "Adagrad"]
