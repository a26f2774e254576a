"""Neural-network building blocks: ``Module``, ``Parameter``, the containers and the layers."""
from nnlite.nn.parameter import Parameter, Buffer  # noqa: F401
from nnlite.nn.modules import *  # noqa: F401,F403
from nnlite.nn import functional, init  # noqa: F401
from nnlite.nn import utils  # noqa: F401,E402
