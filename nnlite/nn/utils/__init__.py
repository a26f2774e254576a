"""Helpers around modules and their parameters (see PyTorch's ``torch.nn.utils``)."""
from nnlite.nn.utils.receptive_field import ReceptiveField, receptive_field  # noqa: F401
