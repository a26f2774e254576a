"""Smoke test of an installed nnlite wheel (run by .ci/wheel_smoke and cibuildwheel's test-command).

Run it in an environment where nnlite was installed from a wheel: it checks that nnlite is the
installed copy, that no build tool is importable (with ``--clean``), that
``python -m nnlite`` and ``python -m nnlite.demo`` succeed, that the conv1d kernel variant is
the best one this CPU's own flags allow, that every supported variant computes the same
convolution, and, on Linux, that OpenMP is on and its runtime is the copy inside the wheel.
Exits non-zero on the first failure.
"""
import importlib.util
import os
import subprocess
import sys
import tempfile


def fail(msg):
    print(f"wheel_check: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def expected_variant():
    """The variant from the CPU's flags alone (x86-64 Linux), independently of nnlite's code."""
    import platform
    if platform.machine().lower() not in ("x86_64", "amd64") or not os.path.exists("/proc/cpuinfo"):
        return None
    with open("/proc/cpuinfo") as f:
        flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= set(flags):
        return "avx512"
    return "avx2" if {"avx2", "fma"} <= set(flags) else "base"


def main():
    import numpy as np

    import nnlite
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.dirname(os.path.dirname(os.path.abspath(nnlite.__file__))) == os.path.dirname(here):
        fail(f"nnlite was imported from the source tree ({nnlite.__file__}), not from the wheel")
    if "site-packages" not in nnlite.__file__:
        fail(f"nnlite is not an installed copy: {nnlite.__file__}")
    for tool in ("Cython", "setuptools") if "--clean" in sys.argv else ():
        if importlib.util.find_spec(tool) is not None:
            fail(f"{tool} is importable: this is not a clean environment")

    for cmd in (["-m", "nnlite"], ["-m", "nnlite.demo"]):
        print("+ python " + " ".join(cmd), flush=True)
        # from a neutral directory: the current one could hold a source tree
        if subprocess.run([sys.executable] + cmd, cwd=tempfile.gettempdir()).returncode != 0:
            fail(f"python {' '.join(cmd)} failed")

    from nnlite._kernels import _openmp, conv1d_cpu
    want = expected_variant()
    if want is not None and conv1d_cpu.VARIANT != want and "NNLITE_KERNEL_VARIANT" not in os.environ:
        fail(f"kernel variant {conv1d_cpu.VARIANT!r} chosen, but this CPU's flags call for {want!r}")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 50)).astype(np.float32)
    w = rng.standard_normal((4, 3, 5)).astype(np.float32)
    ref = np.stack([np.stack([sum(np.convolve(x[n, c], w[o, c, ::-1], "valid") for c in range(3))
                              for o in range(4)]) for n in range(2)])
    for variant in conv1d_cpu.supported_variants():
        conv1d_cpu.set_variant(variant)
        got = conv1d_cpu.forward(x, w, None, 1, 1, 1)
        if got.shape != ref.shape or not np.allclose(got, ref, rtol=1e-4, atol=1e-4):
            fail(f"variant {variant}: forward differs from numpy's convolution")
    print(f"variants {conv1d_cpu.supported_variants()} agree with numpy; chosen: {want or 'n/a'}")

    if sys.platform.startswith("linux"):
        if not _openmp.have_openmp():
            fail("the kernels were built without OpenMP")
        with open("/proc/self/maps") as f:
            gomp = {line.split()[-1] for line in f if "libgomp" in line}
        if not gomp or not all("nnlite.libs" in p for p in gomp):
            fail(f"libgomp is not the copy inside the wheel (nnlite.libs/): {sorted(gomp)}")
        print(f"OpenMP runtime: {sorted(gomp)[0]}")
    print("wheel_check: OK")


if __name__ == "__main__":
    main()
