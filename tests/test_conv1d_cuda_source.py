"""The GPU Conv1d (``nnlite/_kernels/conv1d_cuda.{cu,py}``): compile checks, launch checks, GPU parity.

* nvcc compiles the source for sm_90 with every ``NAME_EXPRESSIONS`` instance (skips without nvcc);
  NVRTC, CuPy's compiler, does the same where CuPy imports (no GPU needed).
* Without a GPU: the launcher runs against a numpy stand-in for CuPy that records every kernel launch
  and checks each argument's type against the kernel's C signature parsed from the ``.cu`` file (a
  Python int where the kernel takes ``long long`` is the classic silent CuPy bug); the stand-in also
  runs the cuBLAS (matmul) formulation on numpy, checked against the CPU kernels.
* Without a GPU, with g++ (C++20): the ``.cu`` kernels themselves, compiled for the host with the CUDA
  built-ins emulated (one std::thread per CUDA thread, a std::barrier for __syncthreads, blocks one
  after another), launched through the same stand-in and checked against ``conv1d_cpu``; once more
  under AddressSanitizer, which catches reads and writes outside any array or shared-memory buffer.
  This checks the index arithmetic, not the GPU: warps, the memory model, NVRTC's code and speed are
  only tested by the GPU tests.
* With a GPU (``gpu`` mark; skipped without CuPy or a GPU, or with NNLITE_TEST_GPU=0): forward and
  the three gradients against ``conv1d_cpu`` on random configurations, N = 0, depthwise with and
  without shared-memory staging, split reductions, and bitwise run-to-run determinism.
"""
import itertools
import os
import re
import shutil
import subprocess
import sys
import types

import numpy
import pytest

from conftest import _gpu_reason
from nnlite import _backend
from nnlite._kernels import conv1d_cpu, conv1d_cuda

NVCC_CMD = ["nvcc", "--cubin", "-arch=sm_90", "-std=c++17"]


def _instantiating_source():
    """The .cu text plus one address-of per name expression, which makes nvcc instantiate each."""
    refs = ",\n".join(f"    (void*)&{e}" for e in conv1d_cuda.NAME_EXPRESSIONS)
    return conv1d_cuda.SOURCE.read_text() + f"\nvoid* nnlite_instances[] = {{\n{refs}\n}};\n"


def _mangled_prefix(expr):
    """``conv1d_forward<float, 4>`` -> ``14conv1d_forwardIfLi4EE`` (Itanium mangling of the instance)."""
    name, args = re.fullmatch(r"(\w+)<(.*)>", expr).groups()
    parts = [{"float": "f", "double": "d"}.get(a.strip()) or f"Li{a.strip()}E" for a in args.split(",")]
    return f"{len(name)}{name}I{''.join(parts)}E"


# -- compile checks ----------------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on PATH")
def test_nvcc_compiles_every_instance_for_sm90(tmp_path):
    src = tmp_path / "conv1d_cuda_instances.cu"
    src.write_text(_instantiating_source())
    out = tmp_path / "conv1d_cuda.cubin"
    cmd = NVCC_CMD + ["-Xptxas", "-v", "-o", str(out), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "warning" not in proc.stderr.lower(), proc.stderr
    cubin = out.read_bytes()
    for expr in conv1d_cuda.NAME_EXPRESSIONS:
        assert _mangled_prefix(expr).encode() in cubin, f"{expr} is missing from the cubin"
    # the GEMM kernels must not spill (a spill there means the register tile is too large)
    for entry in re.findall(r"Compiling entry function '(\w+)'.*?(\d+) bytes spill stores", proc.stderr, re.S):
        name, spilled = entry
        if "conv1d_forward" in name or "conv1d_grad_input" in name or "conv1d_grad_weight" in name:
            assert spilled == "0", f"{name} spills {spilled} bytes"


def test_nvrtc_compiles_name_expressions():
    """CuPy's own compiler (NVRTC), as RawModule uses it; needs CuPy but no GPU."""
    try:
        from cupy.cuda import compiler
        program = compiler._NVRTCProgram
    except Exception as exc:  # no CuPy, a CuPy without NVRTC, or a private API that moved
        pytest.skip(f"CuPy's NVRTC is not usable here ({type(exc).__name__})")
    prog = program(conv1d_cuda.SOURCE.read_text(), "conv1d_cuda.cu",
                   name_expressions=list(conv1d_cuda.NAME_EXPRESSIONS), method="cubin")
    try:
        cubin, mapping = prog.compile(tuple(conv1d_cuda.OPTIONS) +
                                      ("-arch=sm_90", "--device-as-default-execution-space"))
    except Exception as exc:
        if "nvrtc" in type(exc).__module__.lower() and "libnvrtc" in str(exc):
            pytest.skip(f"libnvrtc is not installed ({exc})")
        raise
    assert len(cubin) > 0
    assert set(mapping) == set(conv1d_cuda.NAME_EXPRESSIONS)
    for expr, lowered in mapping.items():
        assert _mangled_prefix(expr) in lowered


# -- launches against the C signatures, on a numpy stand-in for CuPy -----------------------------------------
_C_TYPES = {"int": numpy.int32, "long long": numpy.int64}


def _signatures():
    """{kernel name: [parameter type, ...]} from the __global__ templates in the .cu file."""
    src = conv1d_cuda.SOURCE.read_text()
    sigs = {}
    for name, params in re.findall(r"__global__ void __launch_bounds__\(\w+\)\s*(\w+)\(([^)]*)\)", src):
        types_ = []
        for p in params.split(","):
            p = " ".join(p.replace("__restrict__", "").split())
            ptype = p.rsplit(" ", 1)[0]
            types_.append("T*" if "*" in ptype else ptype)
        sigs[name] = types_
    return sigs


SIGNATURES = _signatures()


class _FakeArray(numpy.ndarray):
    device = types.SimpleNamespace(id=0)


class _FakeCupy(types.ModuleType):
    """Just enough of CuPy for conv1d_cuda.py: arrays are numpy, kernel launches are recorded and checked."""

    def __init__(self):
        super().__init__("fake_cupy")
        self.ndarray = _FakeArray
        self.launches = []
        self.execute = None  # set by the emulator tests: runs each launch on the CPU
        self.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
            as_strided=lambda a, shape, strides: numpy.lib.stride_tricks.as_strided(a, shape, strides)))
        self.cuda = types.SimpleNamespace(Device=lambda i: _Nothing())
        fake = self

        class RawModule:
            def __init__(self, code, options, name_expressions):
                assert options == conv1d_cuda.OPTIONS and name_expressions == conv1d_cuda.NAME_EXPRESSIONS
                assert "conv1d_forward" in code

            def get_function(self, expr):
                assert expr in conv1d_cuda.NAME_EXPRESSIONS, expr
                return lambda grid, block, args, shared_mem=0: fake.record(expr, grid, block, args, shared_mem)

        self.RawModule = RawModule

    @staticmethod
    def _wrap(a):
        return numpy.asarray(a).view(_FakeArray)

    def ascontiguousarray(self, a):
        return self._wrap(numpy.ascontiguousarray(a))

    def empty(self, shape, dtype):
        return self._wrap(numpy.full(shape, numpy.nan, dtype))  # NaN: a result a kernel never wrote shows

    def zeros(self, shape, dtype):
        return self._wrap(numpy.zeros(shape, dtype))

    def matmul(self, a, b):
        return self._wrap(numpy.matmul(a, b))

    @staticmethod
    def asnumpy(a):
        return numpy.asarray(a)

    def tensordot(self, a, b, axes):
        return self._wrap(numpy.tensordot(a, b, axes))

    def record(self, expr, grid, block, args, shared_mem):
        name, targs = re.fullmatch(r"(\w+)<(.*)>", expr).groups()
        dtype = numpy.dtype(numpy.float32 if targs.split(",")[0] == "float" else numpy.float64)
        sig = SIGNATURES[name]
        assert len(args) == len(sig), f"{expr}: {len(args)} arguments for {len(sig)} parameters"
        for i, (a, t) in enumerate(zip(args, sig)):
            if t == "T*":
                assert isinstance(a, _FakeArray) and a.dtype == dtype and a.flags.c_contiguous, (expr, i)
            else:
                assert type(a) is _C_TYPES[t], f"{expr} argument {i}: {type(a).__name__} for C type {t}"
        assert block == (conv1d_cuda.THREADS,) and len(grid) == 1 and 1 <= grid[0] < 2 ** 31, (expr, grid)
        assert 0 <= shared_mem <= 48 * 1024
        self.launches.append((expr, grid, args))
        if self.execute is not None:
            self.execute(expr, grid, block, args, shared_mem)


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def fake_cupy(monkeypatch):
    fake = _FakeCupy()
    monkeypatch.setattr(_backend, "cupy", lambda: fake)
    monkeypatch.setattr(conv1d_cuda, "_module", None)
    monkeypatch.setattr(conv1d_cuda, "_functions", {})
    monkeypatch.delenv("CUPY_TF32", raising=False)
    return fake


LAUNCH_CASES = [  # (N, C_in, C_out, Lp, K, stride, dilation, groups)
    (2, 4, 6, 20, 3, 1, 1, 1),       # tile height 16
    (3, 8, 40, 33, 2, 2, 3, 1),      # 64, strided and dilated
    (2, 64, 24, 19, 5, 3, 1, 2),     # 32, grouped
    (4, 6, 6, 50, 7, 1, 2, 6),       # depthwise, shared-memory staging
    (1, 3, 3, 15000, 2, 1, 14000, 3),  # depthwise with a span too wide for shared memory
    (64, 3, 5, 4100, 3, 1, 1, 1),    # grad weight / bias reductions split across blocks
    (0, 4, 4, 10, 3, 1, 1, 1),       # empty batch: no launch
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", LAUNCH_CASES, ids=lambda c: "n{}-ci{}-co{}-L{}-k{}-s{}-d{}-g{}".format(*c))
def test_launch_arguments_match_the_c_signatures(fake_cupy, monkeypatch, case, dtype):
    monkeypatch.setattr(conv1d_cuda, "matmul", "never")
    n, c_in, c_out, lp, k, s, d, g = case
    rng = numpy.random.default_rng(0)
    x = fake_cupy._wrap(rng.standard_normal((n, c_in, lp)).astype(dtype))
    w = fake_cupy._wrap(rng.standard_normal((c_out, c_in // g, k)).astype(dtype))
    b = fake_cupy._wrap(rng.standard_normal(c_out).astype(dtype))
    l_out = conv1d_cuda.output_length(lp, k, s, d)
    gy = fake_cupy._wrap(rng.standard_normal((n, c_out, l_out)).astype(dtype))
    y = conv1d_cuda.forward(x, w, b, s, d, g)
    conv1d_cuda.forward(x[:, :, ::1], w, None, s, d, g)
    gx = conv1d_cuda.grad_input(gy, w, x.shape, s, d, g)
    gw = conv1d_cuda.grad_weight(x, gy, w.shape, s, d, g)
    gb = conv1d_cuda.grad_bias(gy)
    assert y.shape == (n, c_out, l_out) and gx.shape == x.shape and gw.shape == w.shape and gb.shape == (c_out,)
    assert all(a.dtype == numpy.dtype(dtype) for a in (y, gx, gw, gb))
    names = [e.split("<")[0] for e, _, _ in fake_cupy.launches]
    if n == 0:
        assert names == [] and not gx.any() and not gw.any() and not gb.any()
        return
    dw = c_in == c_out == g
    pre = "conv1d_dw_" if dw else "conv1d_"
    assert names[:4] == [pre + "forward", pre + "forward", pre + "grad_input", pre + "grad_weight"]
    if c_in == 3 and dw:  # the dilated depthwise case cannot stage its span: use_smem = 0, no dynamic smem
        assert int(fake_cupy.launches[0][2][-1]) == 0
    if n == 64:
        assert "conv1d_sum_splits" in names  # split reductions, added in a second pass
        assert names.count("conv1d_sum_splits") == 2


def test_splits_depend_on_shapes_only_and_cover_the_reduction():
    for tiles, total, min_chunk in itertools.product((1, 3, 64, 5000), (1, 100, 4096, 131072, 10 ** 9),
                                                     (1024, 2048, 4096)):
        s, chunk = conv1d_cuda._splits(tiles, total, min_chunk)
        assert s >= 1 and (s - 1) * chunk < total <= s * chunk  # no empty split, nothing left out
        assert s == 1 or chunk >= min_chunk


@pytest.mark.parametrize("case", LAUNCH_CASES[:3] + LAUNCH_CASES[5:6])
def test_matmul_formulation_matches_the_cpu_kernels(fake_cupy, monkeypatch, case):
    """The cuBLAS path's algebra (im2col, the tap-ordered scatter back, tensordot), run on numpy."""
    n, c_in, c_out, lp, k, s, d, g = case
    if g != 1:
        c_in, g = c_in // g, 1
    monkeypatch.setattr(conv1d_cuda, "matmul", "always")
    rng = numpy.random.default_rng(1)
    x = rng.standard_normal((n, c_in, lp))
    w = rng.standard_normal((c_out, c_in, k))
    b = rng.standard_normal(c_out)
    gy = rng.standard_normal((n, c_out, conv1d_cuda.output_length(lp, k, s, d)))
    fx, fw, fb, fgy = (fake_cupy._wrap(a) for a in (x, w, b, gy))
    tol = dict(rtol=1e-10, atol=1e-10)
    numpy.testing.assert_allclose(conv1d_cuda.forward(fx, fw, fb, s, d, g), conv1d_cpu.forward(x, w, b, s, d, g),
                                  **tol)
    numpy.testing.assert_allclose(conv1d_cuda.grad_input(fgy, fw, x.shape, s, d, g),
                                  conv1d_cpu.grad_input(gy, w, x.shape, s, d, g), **tol)
    numpy.testing.assert_allclose(conv1d_cuda.grad_weight(fx, fgy, w.shape, s, d, g),
                                  conv1d_cpu.grad_weight(x, gy, w.shape, s, d, g), **tol)
    assert fake_cupy.launches == []  # no custom kernel ran


def test_matmul_rule_and_tf32_switch(fake_cupy, monkeypatch):
    f32, f64 = numpy.dtype(numpy.float32), numpy.dtype(numpy.float64)
    use = conv1d_cuda._use_matmul
    assert use(fake_cupy, f32, 1, 16, 128, 128, 9, 2048)          # "wide": deep reduction, wide output
    assert not use(fake_cupy, f32, 1, 32, 64, 64, 3, 1024)        # "mid": reduction of 192
    assert not use(fake_cupy, f32, 128, 32, 128, 128, 7, 2048)    # grouped: never
    monkeypatch.setenv("CUPY_TF32", "1")                          # CuPy would use TF32: not while disallowed
    assert not use(fake_cupy, f32, 1, 16, 128, 128, 9, 2048)
    assert use(fake_cupy, f64, 1, 16, 128, 128, 9, 2048)
    monkeypatch.setattr(conv1d_cuda, "allow_tf32", True)
    assert use(fake_cupy, f32, 1, 16, 128, 128, 9, 2048)
    monkeypatch.setattr(conv1d_cuda, "matmul", "sometimes")
    with pytest.raises(ValueError, match="'auto', 'always' or 'never'"):
        use(fake_cupy, f64, 1, 16, 128, 128, 9, 2048)


def test_checks_before_launch(fake_cupy):
    x = fake_cupy._wrap(numpy.zeros((1, 4, 10), numpy.float32))
    with pytest.raises(TypeError, match="dtype float32, but got float64"):
        conv1d_cuda.forward(x, fake_cupy._wrap(numpy.zeros((2, 4, 3))), None, 1, 1, 1)
    with pytest.raises(TypeError, match="CuPy arrays"):
        conv1d_cuda.forward(x, numpy.zeros((2, 4, 3), numpy.float32), None, 1, 1, 1)
    with pytest.raises(ValueError, match="groups=2"):
        conv1d_cuda.forward(x, fake_cupy._wrap(numpy.zeros((2, 4, 3), numpy.float32)), None, 1, 1, 2)
    with pytest.raises(TypeError, match="float32 or float64"):
        h = fake_cupy._wrap(numpy.zeros((1, 4, 10), numpy.float16))
        conv1d_cuda.forward(h, h[:, :, :3].copy().reshape(1, 4, 3), None, 1, 1, 1)
    assert fake_cupy.launches == []


def test_module_import_does_not_import_cupy():
    code = "import sys, nnlite._kernels.conv1d_cuda; print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_without_cupy_the_kernels_raise_the_install_hint():
    if _backend.cupy_if_loaded() is not None or _gpu_reason() is None:
        pytest.skip("CuPy with a GPU is present")
    with pytest.raises(RuntimeError, match=r"CuPy|GPU"):
        conv1d_cuda.forward(numpy.zeros((1, 1, 4), numpy.float32), numpy.ones((1, 1, 3), numpy.float32),
                            None, 1, 1, 1)


# -- shared by the emulated and the GPU checks ---------------------------------------------------------------
TOL = {"float32": 1e-4, "float64": 1e-10}


def _arrays(case, dtype):
    n, c_in, c_out, lp, k, s, d, g = case
    rng = numpy.random.default_rng(sum(case) * 7919 + len(dtype))
    x = rng.standard_normal((n, c_in, lp)).astype(dtype)
    w = rng.standard_normal((c_out, c_in // g, k)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    gy = rng.standard_normal((n, c_out, max(conv1d_cuda.output_length(lp, k, s, d), 0))).astype(dtype)
    return x, w, b, gy


def _assert_close(cp, got, want, dtype, what):
    assert isinstance(got, cp.ndarray), what
    assert got.shape == want.shape and got.dtype == want.dtype, (what, got.shape, got.dtype, want.shape)
    scale = max(float(numpy.abs(want).max(initial=0.0)), 1.0)
    numpy.testing.assert_allclose(cp.asnumpy(got), want, rtol=TOL[dtype], atol=TOL[dtype] * scale, err_msg=what)


# -- the kernels run on the CPU, CUDA's thread model emulated ------------------------------------------------
_EMU_PRELUDE = r"""
#include <barrier>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>
struct nnl_dim3 { unsigned int x = 0, y = 0, z = 0; };
static thread_local nnl_dim3 threadIdx;
static nnl_dim3 blockIdx, gridDim, blockDim;
static std::barrier<>* nnl_bar = nullptr;
static inline void __syncthreads() { nnl_bar->arrive_and_wait(); }
unsigned char (*nnl_dyn_holder)[] = nullptr;   // dynamic shared memory: exactly shared_mem bytes
#define nnl_dyn (*nnl_dyn_holder)
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static                       // one block at a time: statics are the block's smem
#define __align__(n)
#define __launch_bounds__(n)
"""

_EMU_LAUNCHER = r"""
template <typename... A, std::size_t... I>
static void nnl_call(void (*k)(A...), void** p, std::index_sequence<I...>)
{
    k(*static_cast<std::remove_reference_t<A>*>(p[I])...);
}
template <typename... A>
static void nnl_launch(void (*k)(A...), unsigned grid, unsigned block, std::size_t shmem, void** p)
{
    gridDim.x = grid;
    blockDim.x = block;
    for (unsigned b = 0; b < grid; ++b) {
        blockIdx.x = b;
        unsigned char* dyn = shmem ? static_cast<unsigned char*>(std::malloc(shmem)) : nullptr;
        if (dyn) std::memset(dyn, 0xff, shmem);  // garbage, like uninitialised shared memory
        nnl_dyn_holder = reinterpret_cast<unsigned char (*)[]>(dyn);
        std::barrier<> bar(block);
        nnl_bar = &bar;
        std::vector<std::thread> ts;
        for (unsigned t = 0; t < block; ++t)
            ts.emplace_back([=] { threadIdx.x = t; nnl_call(k, p, std::index_sequence_for<A...>{}); });
        for (auto& t : ts) t.join();
        std::free(dyn);
    }
}
"""


def _build_emulator(directory, sanitize):
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ is not on PATH")
    table = "\n".join(f'    if (n == "{e}") {{ nnl_launch(&{e}, grid, block, shmem, p); return 0; }}'
                      for e in conv1d_cuda.NAME_EXPRESSIONS)
    src = (_EMU_PRELUDE + conv1d_cuda.SOURCE.read_text().replace("extern __shared__ __align__(16)", "extern") +
           _EMU_LAUNCHER + 'extern "C" int nnl_emulate(const char* name, unsigned grid, unsigned block, '
           'unsigned long shmem, void** p)\n{\n    const std::string n(name);\n' + table + "\n    return 1;\n}\n")
    cpp, lib = directory / "emu.cpp", directory / ("emu_asan.so" if sanitize else "emu.so")
    cpp.write_text(src)
    flags = ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1", "-g"] if sanitize else ["-O2"]
    proc = subprocess.run([gxx, "-std=c++20", "-pthread", "-shared", "-fPIC", "-Wall", "-Wno-unknown-pragmas",
                           *flags, "-o", str(lib), str(cpp)], capture_output=True, text=True)
    if proc.returncode and "barrier" in proc.stderr and "No such file" in proc.stderr:
        pytest.skip("this g++ has no C++20 <barrier>")
    assert proc.returncode == 0, proc.stderr
    return lib


def _emulating(fake, lib_path, grid_cap):
    import ctypes
    lib = ctypes.CDLL(str(lib_path))
    lib.nnl_emulate.argtypes = [ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong,
                                ctypes.POINTER(ctypes.c_void_p)]

    def execute(expr, grid, block, args, shared_mem):
        cells = [ctypes.c_void_p(a.ctypes.data) if isinstance(a, numpy.ndarray) else
                 (ctypes.c_int32 if type(a) is numpy.int32 else ctypes.c_int64)(int(a)) for a in args]
        params = (ctypes.c_void_p * len(cells))(*[ctypes.addressof(c) for c in cells])
        # the tile kernels loop over their tiles, so a small grid still does all the work (and must give
        # the same bits); sum_splits has one thread per output and gets its whole grid
        g = grid[0] if "sum_splits" in expr else min(grid[0], grid_cap)
        assert lib.nnl_emulate(expr.encode(), g, block[0], shared_mem, params) == 0, expr
    fake.execute = execute


EMU_CASES = [c for c in LAUNCH_CASES if c[0] and c[0] * c[3] < 100000] + [
    (8, 3, 5, 1100, 3, 1, 1, 1), (9, 2, 2, 1000, 3, 1, 1, 2),  # split reductions (8 and 2 chunks; 4 depthwise)
    (3, 32, 52, 304, 7, 2, 2, 1), (2, 24, 48, 123, 6, 3, 2, 4), (1, 140, 8, 173, 1, 3, 2, 4),
    (2, 4, 4, 2000, 11, 3, 2, 4), (2, 8, 16, 100, 3, 1, 1, 8), (1, 72, 72, 236, 6, 3, 1, 4)]


@pytest.fixture(scope="module")
def emulator_lib(tmp_path_factory):
    return _build_emulator(tmp_path_factory.mktemp("conv1d_emu"), os.environ.get("NNLITE_EMU_ASAN") == "1")


@pytest.mark.parametrize("case", EMU_CASES, ids=lambda c: "n{}-ci{}-co{}-L{}-k{}-s{}-d{}-g{}".format(*c))
def test_emulated_kernels_match_cpu(fake_cupy, emulator_lib, monkeypatch, case):
    monkeypatch.setattr(conv1d_cuda, "matmul", "never")
    n, c_in, c_out, lp, k, s, d, g = case
    results = {}
    for cap in (1, 3):
        fake_cupy.launches.clear()
        _emulating(fake_cupy, emulator_lib, cap)
        for dtype in ("float32", "float64"):
            x, w, b, gy = _arrays(case, dtype)
            fx, fw, fb, fgy = (fake_cupy._wrap(a) for a in (x, w, b, gy))
            got = {"forward": conv1d_cuda.forward(fx, fw, fb, s, d, g),
                   "forward without bias": conv1d_cuda.forward(fx, fw, None, s, d, g),
                   "grad_input": conv1d_cuda.grad_input(fgy, fw, x.shape, s, d, g),
                   "grad_weight": conv1d_cuda.grad_weight(fx, fgy, w.shape, s, d, g),
                   "grad_bias": conv1d_cuda.grad_bias(fgy)}
            want = {"forward": conv1d_cpu.forward(x, w, b, s, d, g),
                    "forward without bias": conv1d_cpu.forward(x, w, None, s, d, g),
                    "grad_input": conv1d_cpu.grad_input(gy, w, x.shape, s, d, g),
                    "grad_weight": conv1d_cpu.grad_weight(x, gy, w.shape, s, d, g),
                    "grad_bias": conv1d_cpu.grad_bias(gy)}
            for what in got:
                _assert_close(fake_cupy, got[what], want[what], dtype, what)
            results[cap, dtype] = got
    for dtype in ("float32", "float64"):  # the grid size changes nothing, to the bit
        for what, a in results[1, dtype].items():
            assert numpy.array_equal(a, results[3, dtype][what]), what


def test_emulated_kernels_under_address_sanitizer():
    """The emulated test again in a process with ASan preloaded: no access outside any buffer."""
    if os.environ.get("NNLITE_EMU_ASAN") == "1":
        pytest.skip("already the sanitized run")
    gcc = shutil.which("gcc")
    asan = gcc and subprocess.run([gcc, "-print-file-name=libasan.so"], capture_output=True,
                                  text=True).stdout.strip()
    if not asan or not os.path.isabs(asan):
        pytest.skip("libasan is not available")
    env = dict(os.environ, NNLITE_EMU_ASAN="1", LD_PRELOAD=asan, ASAN_OPTIONS="detect_leaks=0")
    cases = ["n2-ci4-co6-L20-k3-s1-d1-g1", "n3-ci8-co40-L33-k2-s2-d3-g1", "n4-ci6-co6-L50-k7-s1-d2-g6",
             "n1-ci3-co3-L15000-k2-s1-d14000-g3", "n2-ci24-co48-L123-k6-s3-d2-g4"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
                           "-k", " or ".join(f"test_emulated_kernels_match_cpu and {c}" for c in cases)],
                          capture_output=True, text=True, env=env, cwd=os.path.dirname(__file__))
    out = proc.stdout + proc.stderr
    if "passed" not in out and "skipped" in out:
        pytest.skip("the sanitized run skipped: " + out[-300:])
    assert proc.returncode == 0 and "AddressSanitizer" not in out, out[-4000:]
    assert f"{len(cases)} passed" in out, out[-2000:]


# -- on a GPU ------------------------------------------------------------------------------------------------
requires_gpu = pytest.mark.skipif(_gpu_reason() is not None, reason=str(_gpu_reason()))
def _random_configs(count, seed=0):
    rng = numpy.random.default_rng(seed)
    out = []
    while len(out) < count:
        groups = int(rng.choice([1, 1, 2, 4]))
        c_in = groups * int(rng.integers(1, 40))
        c_out = groups * int(rng.integers(1, 80 // groups + 1))
        k, s, d = int(rng.integers(1, 8)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        lp = d * (k - 1) + 1 + int(rng.integers(0, 300))
        out.append((int(rng.integers(1, 5)), c_in, c_out, lp, k, s, d, groups))
    return out


GPU_CASES = _random_configs(24) + [c for c in LAUNCH_CASES if c[0]] + [
    (3, 16, 16, 300, 7, 1, 1, 16),       # depthwise
    (2, 16, 16, 300, 7, 2, 3, 16),       # depthwise, strided and dilated
    (2, 4, 4, 2000, 11, 3, 2, 4),        # depthwise, several taps chunks and position tiles
    (2, 8, 16, 100, 3, 1, 1, 8),         # channel multiplier 2: the general kernels
    (2, 128, 128, 600, 9, 1, 1, 1),      # "wide": the matmul rule's side
    (1, 2, 3, 70000, 3, 1, 1, 1),        # many forward tiles, split reductions
]


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("path", ["never", "always"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", GPU_CASES, ids=lambda c: "n{}-ci{}-co{}-L{}-k{}-s{}-d{}-g{}".format(*c))
def test_gpu_matches_cpu(case, dtype, path, monkeypatch):
    """Custom kernels ("never") and, for groups == 1, the cuBLAS path ("always") against conv1d_cpu."""
    if path == "always" and case[-1] != 1:
        pytest.skip("the matmul path is for groups == 1")
    cp = _backend.cupy()
    monkeypatch.setattr(conv1d_cuda, "matmul", path)
    monkeypatch.setattr(conv1d_cuda, "allow_tf32", False)
    n, c_in, c_out, lp, k, s, d, g = case
    x, w, b, gy = _arrays(case, dtype)
    dx, dw, db, dgy = (cp.asarray(a) for a in (x, w, b, gy))
    _assert_close(cp, conv1d_cuda.forward(dx, dw, db, s, d, g), conv1d_cpu.forward(x, w, b, s, d, g), dtype,
                  "forward")
    _assert_close(cp, conv1d_cuda.forward(dx, dw, None, s, d, g), conv1d_cpu.forward(x, w, None, s, d, g), dtype,
                  "forward without bias")
    _assert_close(cp, conv1d_cuda.grad_input(dgy, dw, x.shape, s, d, g),
                  conv1d_cpu.grad_input(gy, w, x.shape, s, d, g), dtype, "grad_input")
    _assert_close(cp, conv1d_cuda.grad_weight(dx, dgy, w.shape, s, d, g),
                  conv1d_cpu.grad_weight(x, gy, w.shape, s, d, g), dtype, "grad_weight")
    _assert_close(cp, conv1d_cuda.grad_bias(dgy), conv1d_cpu.grad_bias(gy), dtype, "grad_bias")


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("groups", [1, 4])
def test_gpu_empty_batch(groups):
    cp = _backend.cupy()
    x = cp.zeros((0, 4, 10), cp.float32)
    w = cp.ones((4, 4 // groups, 3), cp.float32)
    gy = cp.zeros((0, 4, 8), cp.float32)
    assert conv1d_cuda.forward(x, w, cp.ones(4, cp.float32), 1, 1, groups).shape == (0, 4, 8)
    assert conv1d_cuda.grad_input(gy, w, x.shape, 1, 1, groups).shape == (0, 4, 10)
    gw = conv1d_cuda.grad_weight(x, gy, w.shape, 1, 1, groups)
    gb = conv1d_cuda.grad_bias(gy)
    assert gw.shape == w.shape and not gw.any() and gb.shape == (4,) and not gb.any()


@pytest.mark.gpu
@requires_gpu
def test_gpu_non_contiguous_inputs():
    cp = _backend.cupy()
    x, w, b, _ = _arrays((2, 6, 6, 80, 3, 2, 2, 1), "float64")
    dx = cp.asarray(numpy.repeat(x, 2, axis=2))[:, :, ::2]   # strided view
    dw = cp.asfortranarray(cp.asarray(w))
    assert not dx.flags.c_contiguous and not dw.flags.c_contiguous
    _assert_close(cp, conv1d_cuda.forward(dx, dw, cp.asarray(b), 2, 2, 1), conv1d_cpu.forward(x, w, b, 2, 2, 1),
                  "float64", "forward of views")


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("path", ["never", "always"])
@pytest.mark.parametrize("case", [(32, 64, 64, 1026, 3, 1, 1, 1), (16, 128, 128, 2048, 7, 1, 1, 128),
                                  (64, 3, 5, 4100, 3, 1, 1, 1)])
def test_gpu_gradients_are_bitwise_reproducible(case, path, monkeypatch):
    """No float atomics: grad weight and grad bias give the same bits on every run."""
    if path == "always" and case[-1] != 1:
        pytest.skip("the matmul path is for groups == 1")
    cp = _backend.cupy()
    monkeypatch.setattr(conv1d_cuda, "matmul", path)
    n, c_in, c_out, lp, k, s, d, g = case
    x, w, _, gy = _arrays(case, "float32")
    dx, dgy = cp.asarray(x), cp.asarray(gy)
    first_w = conv1d_cuda.grad_weight(dx, dgy, w.shape, s, d, g)
    first_b = conv1d_cuda.grad_bias(dgy)
    for _ in range(5):
        assert (conv1d_cuda.grad_weight(dx, dgy, w.shape, s, d, g) == first_w).all()
        assert (conv1d_cuda.grad_bias(dgy) == first_b).all()
