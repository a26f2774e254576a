"""Conv1d on a GPU: nnlite (CuPy kernels) against PyTorch (cuDNN), medians of CUDA-event timings.

    python benchmarks/conv1d_gpu.py [--repeats 15] [--dtype float32] [--shapes wide,tiny] [--json out.json]

Shapes come from ``../shared/bench/conv1d_shapes.json`` (else the copy beside this file), each at
its batch and at 16x its batch.  For each it times forward (no grad) and forward+backward (input,
weight and bias gradients, ``y.backward(gy)`` with a fixed gy) through ``nn.Conv1d``:

* nnlite with its own kernels (``conv1d_cuda.matmul = "never"``) and, for groups == 1, with the
  cuBLAS im2col path (``"always"``): the two columns that the path rule in conv1d_cuda.py
  should be set from;
* PyTorch with TF32 off (``torch.backends.cudnn.allow_tf32 = False`` and
  ``torch.backends.cuda.matmul.allow_tf32 = False``: the same float32 arithmetic as nnlite), and
  again with PyTorch's defaults (cuDNN may use TF32 for float32 convolutions).

Every call is bracketed by a device synchronize and timed with CUDA events; it prints median
milliseconds, ratios nnlite / PyTorch (below 1.0: nnlite faster) and GFLOP/s, then the Python-side
cost of a tiny forward through the Module (microseconds per call, launches not waited for).
A time budget (--budget, default 240 s) skips what is left once it is spent, so a run stays under
5 minutes.  Exits with status 2 and a message when CuPy or a GPU is missing.
"""
import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "bench" / "conv1d_shapes.json"


def load_shapes():
    path = SHARED if SHARED.exists() else HERE / "conv1d_shapes.json"
    spec = json.loads(path.read_text())
    return [dict(zip(spec["columns"], row)) for row in spec["shapes"]], path


def l_out(s):
    return (s["L"] + 2 * s["padding"] - s["dilation"] * (s["K"] - 1) - 1) // s["stride"] + 1


def flops(s):
    return 2.0 * s["N"] * s["C_out"] * l_out(s) * (s["C_in"] // s["groups"]) * s["K"]


def gpu_median_ms(fn, sync, event, elapsed, repeats, warmup=3):
    """Median milliseconds of ``fn`` between two events, with the device idle before each call."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start, end = event(), event()
        start.record()
        fn()
        end.record()
        sync()
        times.append(elapsed(start, end))
    return float(numpy.median(times))


def nnlite_fns(nnlite, cp, s, dtype, x, w, b, gy):
    from nnlite import nn
    m = nn.Conv1d(s["C_in"], s["C_out"], s["K"], stride=s["stride"], padding=s["padding"],
                  dilation=s["dilation"], groups=s["groups"], dtype=dtype).cuda()
    m.weight._data[...] = cp.asarray(w)
    m.bias._data[...] = cp.asarray(b)
    xt = nnlite.tensor(cp.asarray(x), requires_grad=True)
    gyt = nnlite.tensor(cp.asarray(gy))
    return step_fns(nnlite.no_grad, m, xt, gyt)


def torch_fns(torch, s, dtype, x, w, b, gy):
    dev = torch.device("cuda")
    m = torch.nn.Conv1d(s["C_in"], s["C_out"], s["K"], stride=s["stride"], padding=s["padding"],
                        dilation=s["dilation"], groups=s["groups"], dtype=getattr(torch, dtype), device=dev)
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(w))
        m.bias.copy_(torch.from_numpy(b))
    xt = torch.from_numpy(x).to(dev).requires_grad_()
    gyt = torch.from_numpy(gy).to(dev)
    return step_fns(torch.no_grad, m, xt, gyt)


def step_fns(no_grad, m, xt, gyt):
    """(forward under ``no_grad``, forward+backward from ``gyt``) of module ``m`` on ``xt``: the same
    two closures for either library."""
    def fwd():
        with no_grad():
            return m(xt)

    def fwd_bwd():
        m.weight.grad = m.bias.grad = xt.grad = None
        m(xt).backward(gyt)
    return fwd, fwd_bwd


def set_torch_tf32(torch, cudnn, matmul):
    torch.backends.cudnn.allow_tf32 = cudnn
    torch.backends.cuda.matmul.allow_tf32 = matmul


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--shapes", default=None, help="comma-separated names (default: all)")
    p.add_argument("--scales", default="1,16", help="batch multipliers (default 1,16)")
    p.add_argument("--budget", type=float, default=240.0, help="seconds; what is left after it is skipped")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args(argv)
    t_begin = time.perf_counter()

    try:
        import nnlite
        from nnlite._kernels import conv1d_cuda
    except Exception as exc:
        print(f"conv1d_gpu.py: cannot import nnlite ({type(exc).__name__}: {exc}); run pip install -e . first",
              file=sys.stderr)
        return 2
    if not nnlite.cuda.is_available():
        try:
            nnlite._backend.cupy()
        except RuntimeError as exc:
            print(f"conv1d_gpu.py needs CuPy and a CUDA GPU: {exc}", file=sys.stderr)
        return 2
    cp = nnlite._backend.cupy()
    torch = None
    if not args.no_torch:
        try:
            import torch
            if not torch.cuda.is_available():
                print("PyTorch has no CUDA device here: timing nnlite only", file=sys.stderr)
                torch = None
        except ImportError:
            print("PyTorch is not installed: timing nnlite only", file=sys.stderr)

    shapes, path = load_shapes()
    if args.shapes:
        wanted = args.shapes.split(",")
        shapes = [s for s in shapes if s["name"] in wanted]
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    print(f"GPU: {name} (sm_{props['major']}{props['minor']}), CuPy {cp.__version__}, CUDA runtime "
          f"{cp.cuda.runtime.runtimeGetVersion()}, torch {torch.__version__ if torch else '-'}"
          f"{', cuDNN ' + str(torch.backends.cudnn.version()) if torch else ''}")
    print(f"Python {platform.python_version()}, numpy {numpy.__version__}, dtype {args.dtype}, shapes from {path}")
    print("median ms over", args.repeats, "runs; ratio = nnlite kernels / PyTorch (TF32 off); GFLOP/s of the "
          "nnlite kernels\n")

    cp_sync = cp.cuda.Device().synchronize

    def cp_time(fn):
        return gpu_median_ms(fn, cp_sync, cp.cuda.Event, cp.cuda.get_elapsed_time, args.repeats)

    if torch is not None:
        torch_defaults = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)

        def torch_time(fn):
            return gpu_median_ms(fn, torch.cuda.synchronize, lambda: torch.cuda.Event(enable_timing=True),
                                 lambda a, b: a.elapsed_time(b), args.repeats)

    header = (f"{'shape':<10}{'N':>5} {'pass':<8}{'kernels':>9}{'matmul':>9}{'torch':>9}{'torch dflt':>11}"
              f"{'ratio':>7}{'GFLOP/s':>9}  path(auto)")
    print(header)
    print("-" * len(header))
    results, skipped = [], []
    for scale in [int(v) for v in args.scales.split(",")]:
        for base in shapes:
            s = dict(base, N=base["N"] * scale)
            if time.perf_counter() - t_begin > args.budget:
                skipped.append(f"{s['name']} x{scale}")
                continue
            rng = numpy.random.default_rng(0)
            x = rng.standard_normal((s["N"], s["C_in"], s["L"]), dtype=args.dtype)
            w = rng.standard_normal((s["C_out"], s["C_in"] // s["groups"], s["K"]), dtype=args.dtype) * 0.1
            b = rng.standard_normal(s["C_out"], dtype=args.dtype)
            gy = rng.standard_normal((s["N"], s["C_out"], l_out(s)), dtype=args.dtype)
            row = {"name": s["name"], "N": s["N"], "gflop": flops(s) / 1e9}
            nl = nnlite_fns(nnlite, cp, s, args.dtype, x, w, b, gy)
            saved = conv1d_cuda.matmul
            try:
                conv1d_cuda.matmul = "never"
                row["kernels"] = [cp_time(nl[0]), cp_time(nl[1])]
                if s["groups"] == 1:
                    conv1d_cuda.matmul = "always"
                    row["matmul"] = [cp_time(nl[0]), cp_time(nl[1])]
                conv1d_cuda.matmul = "auto"
                dt = numpy.dtype(args.dtype)
                row["auto_path"] = ("matmul" if conv1d_cuda._use_matmul(
                    cp, dt, s["groups"], s["N"], s["C_in"], s["C_out"], s["K"], l_out(s)) else "kernels")
                y_nl = cp.asnumpy(nl[0]()._data)
            finally:
                conv1d_cuda.matmul = saved
            if torch is not None:
                tf = torch_fns(torch, s, args.dtype, x, w, b, gy)
                set_torch_tf32(torch, False, False)
                row["torch"] = [torch_time(tf[0]), torch_time(tf[1])]
                y_t = tf[0]().cpu().numpy()
                set_torch_tf32(torch, *torch_defaults)
                row["torch_default"] = [torch_time(tf[0]), torch_time(tf[1])]
                scale_ = max(float(numpy.abs(y_t).max()), 1.0)
                row["max_abs_diff_vs_torch"] = float(numpy.abs(y_nl - y_t).max()) / scale_
                del tf
            results.append(row)
            for i, kind in enumerate(("fwd", "fwd+bwd")):
                k_ms = row["kernels"][i]
                mm = f"{row['matmul'][i]:9.3f}" if "matmul" in row else f"{'-':>9}"
                tt = f"{row['torch'][i]:9.3f}" if "torch" in row else f"{'-':>9}"
                td = f"{row['torch_default'][i]:11.3f}" if "torch_default" in row else f"{'-':>11}"
                ratio = f"{k_ms / row['torch'][i]:7.2f}" if "torch" in row else f"{'-':>7}"
                gf = row["gflop"] * (1 if i == 0 else 3) / (k_ms / 1e3)
                print(f"{s['name']:<10}{s['N']:>5} {kind:<8}{k_ms:9.3f}{mm}{tt}{td}{ratio}{gf:9.0f}  "
                      f"{row['auto_path'] if i == 0 else ''}")
            if "max_abs_diff_vs_torch" in row:
                print(f"{'':<16}forward max |nnlite - torch| / max|y| = {row['max_abs_diff_vs_torch']:.2e}")
            del nl
            cp.get_default_memory_pool().free_all_blocks()
            if torch is not None:
                torch.cuda.empty_cache()
    if skipped:
        print(f"\nskipped after the {args.budget:.0f} s budget: {', '.join(skipped)}")

    # Python-side cost: the tiny shape through the Module, launches queued but not waited for
    from nnlite import nn
    tiny = nn.Conv1d(8, 8, 3, padding=1).cuda()
    xt = nnlite.tensor(cp.asarray(numpy.ones((1, 8, 128), numpy.float32)))
    overhead = {}
    with nnlite.no_grad():
        for _ in range(50):
            tiny(xt)
        cp_sync()
        n = 2000
        t0 = time.perf_counter()
        for _ in range(n):
            tiny(xt)
        overhead["nnlite_us"] = (time.perf_counter() - t0) / n * 1e6
        cp_sync()
    if torch is not None:
        tm = torch.nn.Conv1d(8, 8, 3, padding=1).cuda()
        tx = torch.ones(1, 8, 128, device="cuda")
        with torch.no_grad():
            for _ in range(50):
                tm(tx)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(n):
                tm(tx)
            overhead["torch_us"] = (time.perf_counter() - t0) / n * 1e6
            torch.cuda.synchronize()
    print(f"\nPython-side time of a tiny forward (1x8x128, k=3) through the Module: nnlite "
          f"{overhead['nnlite_us']:.1f} us" + (f", PyTorch {overhead['torch_us']:.1f} us" if torch else ""))
    print(f"total {time.perf_counter() - t_begin:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": name, "dtype": args.dtype, "rows": results,
                                               "overhead": overhead, "skipped": skipped}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
