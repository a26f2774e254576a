"""GPU helpers; CuPy is imported only when one of these asks for a GPU.

>>> import nnlite
>>> isinstance(nnlite.cuda.is_available(), bool)
True
"""
from nnlite import _backend

__all__ = ["is_available", "device_count", "current_device", "set_device", "synchronize", "manual_seed", "manual_seed_all"]


def is_available():
    """True when CuPy imports and sees at least one CUDA GPU (never raises)."""
    try:
        _backend.cupy()
    except RuntimeError:
        return False
    return True


def device_count():
    """The number of visible CUDA GPUs (0 without CuPy or a GPU)."""
    if not is_available():
        return 0
    return _backend.cupy().cuda.runtime.getDeviceCount()


def current_device():
    """The index of the current CUDA device."""
    return _backend.cupy().cuda.runtime.getDevice()


def set_device(device):
    """Make ``device`` (an int, 'cuda:i' or a device) the current CUDA device."""
    d = _backend.device(device) if not isinstance(device, int) else _backend.device("cuda", device)
    _backend.cupy().cuda.runtime.setDevice(d.index or 0)


def synchronize(device=None):
    """Wait for all work on the (current) CUDA device to finish."""
    cp = _backend.cupy()
    if device is None:
        cp.cuda.Device().synchronize()
    else:
        d = _backend.device(device) if not isinstance(device, int) else _backend.device("cuda", device)
        cp.cuda.Device(d.index or 0).synchronize()


def manual_seed(seed):
    """Seed the GPU generator (and the CPU one: nnlite seeds them together)."""
    from nnlite import _random
    _random.manual_seed(seed)


def manual_seed_all(seed):
    """Seed every GPU's generator (and the CPU one): the same as :func:`manual_seed` in nnlite.

    See PyTorch's ``torch.cuda.manual_seed_all``.
    """
    manual_seed(seed)
