"""Declares nnlite's compiled extensions; the metadata lives in pyproject.toml.

Every kernel family in ``nnlite/_kernels`` is built once per instruction-set
variant in ``VARIANTS`` (same source, different ``-march``); ``nnlite._kernels``
picks the best variant the running CPU supports at import.  OpenMP is used when
the compiler accepts ``-fopenmp``; otherwise the kernels build single-threaded
with a warning, or the build fails when ``NNLITE_REQUIRE_OPENMP=1``.
``NNLITE_DEBUG_CHECKS=1`` compiles bounds and wraparound checks back in.
"""
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
import warnings

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

KERNELS = os.path.join("nnlite", "_kernels")

# Kernel families compiled per CPU variant: each has stub files
# ``_<family>_<variant>.pyx`` that include ``<family>.pxi``.
VARIANT_FAMILIES = ["conv1d"]
# Modules compiled once, for the baseline architecture.
PLAIN_MODULES = ["_openmp", "_reduce", "_norm1d", "_pool1d", "_activation", "_adam"]


def _is_x86_64():
    return platform.machine().lower() in ("x86_64", "amd64")


VARIANTS = {"base": []}
if _is_x86_64() and os.name != "nt":
    VARIANTS["avx2"] = ["-march=x86-64-v3"]
    VARIANTS["avx512"] = ["-march=x86-64-v4", "-mprefer-vector-width=512"]


def _compiler_accepts(flags, link_flags=()):
    """Compile and link a tiny OpenMP program with the C compiler Python was built with."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.c")
        with open(path, "w") as f:
            f.write(src)
        cmd = cc.split() + list(flags) + [path, "-o", os.path.join(tmp, "t")] + list(link_flags)
        try:
            return subprocess.run(cmd, capture_output=True).returncode == 0
        except OSError:
            return False


def openmp_flags():
    if sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"])]
    elif os.name == "nt":
        candidates = [(["/openmp"], [])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    for cflags, lflags in candidates:
        if _compiler_accepts(cflags, lflags):
            return cflags, lflags
    msg = ("nnlite: the C compiler does not support OpenMP; the kernels are built "
           "single-threaded. Install a compiler with OpenMP (gcc, or clang with libomp) "
           "for parallel kernels.")
    if os.environ.get("NNLITE_REQUIRE_OPENMP") == "1":
        raise RuntimeError(msg + " (NNLITE_REQUIRE_OPENMP=1 makes this fatal)")
    warnings.warn(msg)
    print("*" * 72 + "\n" + msg + "\n" + "*" * 72, file=sys.stderr)
    return [], []


def extensions():
    omp_c, omp_l = openmp_flags()
    # -fno-math-errno: sqrt and friends need not set errno (never read), so loops that call
    # them vectorise; no result changes
    base_c = ["-O3", "-fno-math-errno"] if os.name != "nt" else ["/O2"]
    common = dict(include_dirs=[numpy.get_include(), KERNELS],
                  define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
                  extra_link_args=omp_l)
    exts = []
    for name in PLAIN_MODULES:
        exts.append(Extension(f"nnlite._kernels.{name}", [os.path.join(KERNELS, name + ".pyx")],
                              extra_compile_args=base_c + omp_c, **common))
    for family in VARIANT_FAMILIES:
        for variant, march in VARIANTS.items():
            mod = f"_{family}_{variant}"
            exts.append(Extension(f"nnlite._kernels.{mod}", [os.path.join(KERNELS, mod + ".pyx")],
                                  extra_compile_args=base_c + march + omp_c, **common))
    checks = os.environ.get("NNLITE_DEBUG_CHECKS") == "1"
    return cythonize(
        exts,
        language_level=3,
        compiler_directives={"boundscheck": checks, "wraparound": checks,
                             "cdivision": True, "initializedcheck": checks},
    )


setup(ext_modules=extensions())
