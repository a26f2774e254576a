"""``python -m nnlite``: print what this installation has, then train a tiny 1D conv net for a few steps."""
import platform
import sys
import time

import numpy

import nnlite
import nnlite.nn.functional as F
from nnlite import nn


class TinyNet(nn.Module):
    """Two convolutions and a global average: enough to tell sine waves from square waves."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 8, 9, padding="same")
        self.conv2 = nn.Conv1d(8, 2, 9, padding="same")

    def forward(self, x):
        return self.conv2(F.relu(self.conv1(x))).mean(-1)


def waves(n, length, rng):
    """Noisy sine (class 0) and square (class 1) waves of random frequency and phase."""
    t = numpy.linspace(0, 1, length)
    freq = rng.uniform(2, 6, (n, 1))
    phase = rng.uniform(0, 2 * numpy.pi, (n, 1))
    y = rng.integers(0, 2, n)
    s = numpy.sin(2 * numpy.pi * freq * t + phase)
    x = numpy.where(y[:, None] == 1, numpy.sign(s), s) + 0.3 * rng.standard_normal((n, length))
    return x[:, None, :].astype(numpy.float32), y


def summary():
    from nnlite._kernels import _openmp, conv1d_cpu
    gpu = "available" if nnlite.cuda.is_available() else "not available (CuPy or a CUDA GPU missing)"
    return "\n".join([
        f"nnlite {nnlite.__version__} on Python {platform.python_version()}, numpy {numpy.__version__}",
        f"CPU kernels: variant {conv1d_cpu.VARIANT}, OpenMP {'on' if _openmp.have_openmp() else 'off'}, "
        f"{nnlite.get_num_threads()} thread(s)",
        f"GPU: {gpu}",
    ])


def main(steps=200):
    print(summary())
    rng = numpy.random.default_rng(0)
    nnlite.manual_seed(0)
    x, y = waves(256, 128, rng)
    x_test, y_test = waves(256, 128, rng)
    net = TinyNet()
    print(net)
    targets = nnlite.from_numpy(y)
    lr = 0.5
    start = time.perf_counter()
    for step in range(steps + 1):
        logits = net(x)
        loss = -F.log_softmax(logits, dim=1)[numpy.arange(len(y)), targets].mean()
        net.zero_grad()
        loss.backward()
        with nnlite.no_grad():
            for p in net.parameters():
                p.add_(p.grad, alpha=-lr)
        if step % 50 == 0:
            print(f"step {step:3d}  training loss {loss.item():.4f}")
    elapsed = time.perf_counter() - start
    with nnlite.no_grad():
        accuracy = float((net(x_test).argmax(1).numpy() == y_test).mean())
    print(f"test accuracy {accuracy:.3f} after {steps} steps ({elapsed:.2f} s)")
    return accuracy


if __name__ == "__main__":
    sys.exit(0 if main() > 0.5 else 1)
