"""Shared fixtures: the ``device`` parameter runs a test body on the CPU and, when present, a GPU."""
import os
from pathlib import Path

import numpy
import pytest

import nnlite

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _gpu_reason():
    if os.environ.get("NNLITE_TEST_GPU", "1") == "0":
        return "GPU tests disabled by NNLITE_TEST_GPU=0"
    if not nnlite.cuda.is_available():
        return "no CuPy or no CUDA GPU"
    return None


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """The device a parametrised test runs on; GPU cases skip cleanly without CuPy or a GPU."""
    if request.param == "cuda":
        reason = _gpu_reason()
        if reason:
            pytest.skip(reason)
    return nnlite.device(request.param)


@pytest.fixture
def shared_dir():
    """``../shared`` beside the checkout; tests that need it skip where it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED


def to_device(array, device):
    """A numpy array as a Tensor on ``device``."""
    return nnlite.tensor(array, device=device)


def host(t):
    """A Tensor's values as a numpy array, from any device."""
    return t.detach().cpu().numpy() if isinstance(t, nnlite.Tensor) else numpy.asarray(t)


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: runs on a CUDA device (skipped without one)")


def call_with(m, params):
    """fn(x, *p) that runs module ``m`` with its parameters swapped for ``p`` (gradcheck perturbs copies)."""
    names = [n for n, _ in m.named_parameters()]

    def fn(x, *ps):
        for n, p in zip(names, ps):
            m._parameters[n] = p
        return m(x)
    return fn


def t64(a, device, grad=True):
    """``a`` as a float64 Tensor on ``device`` (requiring grad by default): a gradcheck input."""
    return nnlite.tensor(a, dtype=nnlite.float64, device=device, requires_grad=grad)


def rng_for(name):
    """A numpy Generator seeded from ``name``."""
    return numpy.random.default_rng(abs(hash(name)) % 2 ** 32)
