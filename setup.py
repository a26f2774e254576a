"""Declares nnlite's compiled extensions; the metadata lives in pyproject.toml.

Every kernel family in ``nnlite/_kernels`` is built once per instruction-set
variant in ``VARIANTS`` (same generated C, different ``-march``); ``nnlite._kernels``
picks the best variant the running CPU supports at import.  OpenMP is used when
the compiler accepts ``-fopenmp``; otherwise the kernels build single-threaded
with a warning, or the build fails when ``NNLITE_REQUIRE_OPENMP=1``.
``NNLITE_DEBUG_CHECKS=1`` compiles bounds and wraparound checks back in (and keeps
debug symbols); release builds carry none.

Build speed.  ``build_ext`` runs in parallel by default (one job per CPU; ``-j N``
overrides), and each job runs Cython on its own module just before compiling it, so
that Cython and the C compiler overlap.  Cython runs once per source: the variants of a
family are compiled from one generated C file, and the Cython runtime (memoryviews and
the other utility code) lives in one shared module, ``nnlite._kernels._cyutility``,
instead of a copy in every extension.  Nothing is generated at ``setup.py`` import, so
``sdist`` and the metadata steps need no compiler and run no Cython.
"""
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
import threading
import warnings

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = os.path.join("nnlite", "_kernels")
SHARED = "nnlite._kernels._cyutility"

# Kernel families compiled per CPU variant: the source is ``_<family>_base.pyx``,
# which includes ``<family>.pxi``; the other variants reuse its generated C.
VARIANT_FAMILIES = ["conv1d"]
# Modules compiled once, for the baseline architecture.
PLAIN_MODULES = ["_openmp", "_reduce", "_norm1d", "_pool1d", "_activation", "_adam"]


def _is_x86_64():
    return platform.machine().lower() in ("x86_64", "amd64")


VARIANTS = {"base": []}
if _is_x86_64() and os.name != "nt":
    VARIANTS["avx2"] = ["-march=x86-64-v3"]
    VARIANTS["avx512"] = ["-march=x86-64-v4", "-mprefer-vector-width=512"]


def _debug_checks():
    return os.environ.get("NNLITE_DEBUG_CHECKS") == "1"


def _compiler_accepts(flags, link_flags=()):
    """Compile and link a tiny OpenMP program with the C compiler Python was built with."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.c")
        with open(path, "w") as f:
            f.write(src)
        # CFLAGS/LDFLAGS as the real build sees them (macOS: where Homebrew's libomp lives)
        cmd = (cc.split() + os.environ.get("CFLAGS", "").split() + list(flags) + [path, "-o",
               os.path.join(tmp, "t")] + os.environ.get("LDFLAGS", "").split() + list(link_flags))
        try:
            return subprocess.run(cmd, capture_output=True).returncode == 0
        except OSError:
            return False


def openmp_flags():
    if os.name == "nt":
        return ["/openmp"], []   # MSVC always has it; sysconfig names no compiler to probe
    if sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"])]
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


def _ext(name, pyx, march=(), depends=()):
    ext = Extension(f"nnlite._kernels.{name}", [os.path.join(KERNELS, pyx)] if pyx else [],
                    depends=[os.path.join(KERNELS, f) for f in ("omp_compat.h",) + tuple(depends)])
    ext.march = list(march)
    return ext


def extensions():
    """The extension list, slowest first so that the parallel jobs end together."""
    variants = [_ext(f"_{family}_{variant}", f"_{family}_base.pyx", march, [family + ".pxi"])
                for family in VARIANT_FAMILIES for variant, march in VARIANTS.items()]
    plain = [_ext(name, name + ".pyx") for name in PLAIN_MODULES]
    shared = _ext(SHARED.rsplit(".", 1)[1], None)   # its C comes from ``cython --generate-shared``
    # a first job runs Cython on the family's source while the second starts a plain module
    return variants[:1] + plain[2:3] + [shared] + variants[1:] + plain[:2] + plain[3:]


class BuildExt(build_ext):
    """``build_ext`` that runs Cython per extension, in parallel by default (see the module doc)."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1
        self._locks = {}
        self._locks_guard = threading.Lock()

    def build_extensions(self):
        import numpy
        omp_c, omp_l = openmp_flags()
        if os.name == "nt":
            base_c = ["/O2"]
        else:
            # -fno-math-errno: sqrt and friends need not set errno (never read), so loops that
            # call them vectorise; no result changes.  -g0: no debug symbols in release builds.
            base_c = ["-O3", "-fno-math-errno"] + ([] if _debug_checks() else ["-g0"])
        for ext in self.extensions:
            ext.include_dirs = [numpy.get_include(), KERNELS]
            ext.define_macros = [("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")]
            ext.extra_compile_args = base_c + ext.march + omp_c
            ext.extra_link_args = omp_l
        super().build_extensions()

    def build_extension(self, ext):
        ext.sources = [self._c_source(ext)]
        super().build_extension(ext)

    def _lock(self, key):
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def _c_source(self, ext):
        """The C file for ``ext``, running Cython (once per source) when it is out of date."""
        out_dir = os.path.join(self.build_temp, "cython-checks" if _debug_checks() else "cython")
        os.makedirs(out_dir, exist_ok=True)
        if ext.name == SHARED:
            c_file = os.path.join(out_dir, "_cyutility.c")
            with self._lock(c_file):
                if not os.path.exists(c_file) or self.force:
                    self._cython(["--module-name", SHARED, "--generate-shared", c_file])
            return c_file
        pyx = next(s for s in ext.sources if s.endswith(".pyx"))
        stem = os.path.splitext(os.path.basename(pyx))[0]
        c_base = os.path.join(out_dir, stem + ".c")
        with self._lock(c_base):
            deps = [pyx] + list(ext.depends)
            if self.force or not os.path.exists(c_base) or \
                    os.path.getmtime(c_base) < max(os.path.getmtime(d) for d in deps):
                checks = str(_debug_checks())
                self._cython(["-3", "--shared", SHARED, "-I", KERNELS,
                              "-X", f"boundscheck={checks}", "-X", f"wraparound={checks}",
                              "-X", f"initializedcheck={checks}", "-X", "cdivision=True",
                              "-o", c_base, pyx])
        module = ext.name.rsplit(".", 1)[1]
        if module == stem:
            return c_base
        # Another variant of the family: a two-line C file that compiles the family's C under
        # this module's init name (its functions keep the base's ``__module__``).
        c_file = os.path.join(out_dir, module + ".c")
        text = f"#define PyInit_{stem} PyInit_{module}\n#include \"{stem}.c\"\n"
        if not os.path.exists(c_file) or open(c_file).read() != text:
            with open(c_file, "w") as f:
                f.write(text)
        ext.depends = ext.depends + [c_base]   # recompile when the family's C changes
        return c_file

    def _cython(self, args):
        print("cython " + " ".join(args), flush=True)
        subprocess.run([sys.executable, "-m", "cython"] + args, check=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
