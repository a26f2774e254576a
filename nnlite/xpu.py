"""``nnlite.xpu``: Intel GPUs, which nnlite does not support (kept for device-selection boilerplate).

>>> import nnlite
>>> nnlite.xpu.is_available(), nnlite.xpu.device_count()
(False, 0)

See PyTorch's ``torch.xpu``.
"""
__all__ = ["is_available", "device_count"]


def is_available():
    """False: nnlite runs on CPUs and CUDA GPUs only."""
    return False


def device_count():
    """0: no XPU is ever visible to nnlite."""
    return 0
