"""Helpers around modules and their parameters (see PyTorch's ``torch.nn.utils``)."""
from nnlite.nn.utils.receptive_field import ReceptiveField, receptive_field  # noqa: F401
from nnlite.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, get_total_norm, clip_grads_with_norm_  # noqa: F401,E501
from nnlite.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from nnlite.nn.utils.weight_norm import weight_norm, remove_weight_norm  # noqa: F401
from nnlite.nn.utils import parametrize, parametrizations, rnn  # noqa: F401
