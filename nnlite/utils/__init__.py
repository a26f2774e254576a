"""Utilities around the networks: ``nnlite.utils.data`` (datasets and the DataLoader).

>>> from nnlite.utils.data import DataLoader
>>> len(DataLoader(range(10), batch_size=3))
4

See PyTorch's ``torch.utils``.
"""
from nnlite.utils import data  # noqa: F401
