"""Neural-network building blocks: ``Module``, ``Parameter``, the containers and the layers."""
from nnlite.nn.parameter import Parameter, Buffer  # noqa: F401
from nnlite.nn.modules import *  # noqa: F401,F403

try:  # guarded until nnlite/nn/functional.py is merged; the integrator removes the guard
    from nnlite.nn import functional  # noqa: F401
except ImportError:
    pass
try:
    from nnlite.nn import init  # noqa: F401
except ImportError:
    pass
