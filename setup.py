"""Declares nnlite's compiled extensions; the metadata lives in pyproject.toml.

Every kernel family in ``nnlite/_kernels`` is built once per instruction-set
variant in ``VARIANTS`` (same generated C, different ``-march``); ``nnlite._kernels``
picks the best variant the running CPU supports at import.  OpenMP is used when
the compiler accepts ``-fopenmp``; otherwise the kernels build single-threaded
with a warning, or the build fails when ``NNLITE_REQUIRE_OPENMP=1``.
``NNLITE_DEBUG_CHECKS=1`` compiles bounds and wraparound checks back in (and keeps
debug symbols); release builds carry none.

Build speed.  ``build_ext`` runs in parallel by default (one job per CPU; ``-j N``
overrides).  Cython runs inside this process, once per source, in a thread of its own that
translates the sources in the order the jobs need them while the jobs already run the C compiler
on the modules that are ready (one Cython process per module cost about 1.2 s of start-up each).
The variants of a family are compiled from one generated C file, and the Cython runtime
(memoryviews and the other utility code) lives in one shared module,
``nnlite._kernels._cyutility``, instead of a copy in every extension.  Optimisation levels per
module: ``-O2`` for the conv1d family, whose hot loops are written as explicit vector tiles
(``-O3`` gave bitwise the same results at the same speed and cost 1.6x the compile time),
``-O1`` for the shared Cython runtime (glue, no loops), ``-O3`` for the rest, whose loops
rely on the auto-vectoriser.  Nothing is generated at ``setup.py`` import, so ``sdist`` and the
metadata steps need no compiler and run no Cython.
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
PLAIN_MODULES = ["_openmp", "_reduce", "_adam", "_pool1d", "_norm1d", "_activation"]
# Optimisation level per module (see the module doc); the rest get -O3.
OPT_LEVEL = {"conv1d": "-O2", "_cyutility": "-O1"}


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


def _ext(name, pyx, march=(), depends=(), family=None):
    ext = Extension(f"nnlite._kernels.{name}", [os.path.join(KERNELS, pyx)] if pyx else [],
                    depends=[os.path.join(KERNELS, f) for f in ("omp_compat.h",) + tuple(depends)])
    ext.march = list(march)
    ext.opt = OPT_LEVEL.get(family or name, "-O3")
    return ext


def extensions():
    """The extension list in the order the jobs take them, which is also the order Cython
    translates them in: five small modules (their C is ready within two seconds, and compiling it
    keeps the jobs busy while the family's source is translated), the family variants (the
    longest compiles), then the rest, which fill the job that ends first."""
    variants = [_ext(f"_{family}_{variant}", f"_{family}_base.pyx", march, [family + ".pxi"], family)
                for family in VARIANT_FAMILIES for variant, march in VARIANTS.items()]
    plain = [_ext(name, name + ".pyx") for name in PLAIN_MODULES]
    shared = _ext(SHARED.rsplit(".", 1)[1], None)   # its C comes from ``cython --generate-shared``
    return plain[:5] + variants + plain[5:] + [shared]


class BuildExt(build_ext):
    """``build_ext`` with Cython in a translator thread and parallel jobs (see the module doc)."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        import numpy
        omp_c, omp_l = openmp_flags()
        for ext in self.extensions:
            if os.name == "nt":
                base_c = ["/O2"]
            else:
                # -fno-math-errno: sqrt and friends need not set errno (never read), so loops
                # that call them vectorise; no result changes.  -g0: no debug symbols in
                # release builds.
                base_c = [ext.opt, "-fno-math-errno"] + ([] if _debug_checks() else ["-g0"])
            ext.include_dirs = [numpy.get_include(), KERNELS]
            ext.define_macros = [("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")]
            ext.extra_compile_args = base_c + ext.march + omp_c
            ext.extra_link_args = omp_l
        self._out_dir = os.path.join(self.build_temp, "cython-checks" if _debug_checks() else "cython")
        os.makedirs(self._out_dir, exist_ok=True)
        # one translation per C file, in the jobs' order; a job waits only for its own file
        self._pending = {}
        for ext in self.extensions:
            ext.c_base, args, deps = self._translation(ext)
            self._pending.setdefault(ext.c_base, [threading.Event(), args, deps, None])
        translator = threading.Thread(target=self._translate_all, daemon=True)
        translator.start()
        try:
            super().build_extensions()
        finally:
            translator.join()

    def _translation(self, ext):
        """(C file, Cython arguments, dependencies) of the Cython run that makes ``ext``'s C."""
        if ext.name == SHARED:
            c_file = os.path.join(self._out_dir, "_cyutility.c")
            return c_file, ["--module-name", SHARED, "--generate-shared", c_file], []
        pyx = next(s for s in ext.sources if s.endswith(".pyx"))
        c_file = os.path.join(self._out_dir, os.path.splitext(os.path.basename(pyx))[0] + ".c")
        checks = str(_debug_checks())
        args = ["-3", "--shared", SHARED, "-I", KERNELS,
                "-X", f"boundscheck={checks}", "-X", f"wraparound={checks}",
                "-X", f"initializedcheck={checks}", "-X", "cdivision=True", "-o", c_file, pyx]
        return c_file, args, [pyx] + list(ext.depends)

    def _translate_all(self):
        """Run Cython (in this process: one start-up for all) on every out-of-date source."""
        error = None
        for c_file, entry in self._pending.items():
            done, args, deps, _ = entry
            try:
                if error is None and (self.force or not os.path.exists(c_file) or (
                        deps and os.path.getmtime(c_file) < max(map(os.path.getmtime, deps)))):
                    _cython(args)
            except BaseException as e:   # handed to the job that waits for this file
                error = e
            entry[3] = error
            done.set()

    def build_extension(self, ext):
        ext.sources = [self._c_source(ext)]
        super().build_extension(ext)

    def _c_source(self, ext):
        """The C file for ``ext``, once the translator thread has made it."""
        c_base = ext.c_base
        entry = self._pending[c_base]
        entry[0].wait()
        if entry[3] is not None:
            raise RuntimeError(f"Cython failed on the source of {ext.name}") from entry[3]
        stem = os.path.splitext(os.path.basename(c_base))[0]
        module = ext.name.rsplit(".", 1)[1]
        if module == stem:
            return c_base
        # Another variant of the family: a two-line C file that compiles the family's C under
        # this module's init name (its functions keep the base's ``__module__``).
        c_file = os.path.join(self._out_dir, module + ".c")
        text = f"#define PyInit_{stem} PyInit_{module}\n#include \"{stem}.c\"\n"
        if not os.path.exists(c_file) or open(c_file).read() != text:
            with open(c_file, "w") as f:
                f.write(text)
        ext.depends = ext.depends + [c_base]   # recompile when the family's C changes
        return c_file


def _cython(args):
    """``cython ARGS``, run in this process."""
    from Cython.Compiler import Main
    from Cython.Compiler.CmdLine import parse_command_line
    print("cython " + " ".join(args), flush=True)
    options, sources = parse_command_line(args)
    if options.shared_c_file_path:
        from Cython.Build.SharedModule import generate_shared_module
        generate_shared_module(options)
    elif Main.compile(sources, options).num_errors:
        raise RuntimeError("cython " + " ".join(args) + ": failed")


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
