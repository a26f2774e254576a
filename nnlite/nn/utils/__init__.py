"""Helpers around modules and their parameters (see PyTorch's ``torch.nn.utils``)."""
