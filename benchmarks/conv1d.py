"""Conv1d speed: nnlite against PyTorch, same process, same threads, alternating runs, medians.

    python benchmarks/conv1d.py [--threads 2] [--repeats 15] [--dtype float32] [--shapes stem,tiny]

Shapes come from ``../shared/bench/conv1d_shapes.json`` when it exists, else from the copy beside this
file.  For each shape it times the forward (under no_grad) and forward+backward (gradients of input,
weight and bias) through ``nn.Conv1d`` in both libraries, and prints median milliseconds, the ratio
nnlite / PyTorch (below 1.0 means nnlite is faster) and GFLOP/s; then numpy's float32 matmul rate on
2048 x 2048 and the per-call time of the tiny convolution through the Module.

OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE slow down a current numpy where they are set: the script restarts
itself without them so the matmul reference is measured at full speed.
"""
import os
import sys

if os.environ.get("OPENBLAS_CORETYPE") or os.environ.get("OPENBLAS_L2_SIZE"):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy  # noqa: E402

import nnlite  # noqa: E402
from _machine import cpu_name  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "bench" / "conv1d_shapes.json"


def load_shapes():
    path = SHARED if SHARED.exists() else HERE / "conv1d_shapes.json"
    spec = json.loads(path.read_text())
    cols = spec["columns"]
    return [dict(zip(cols, row)) for row in spec["shapes"]], path


def flops(s, l_out):
    return 2.0 * s["N"] * s["C_out"] * l_out * (s["C_in"] // s["groups"]) * s["K"]


def timeit(fn, min_time=0.02):
    """Seconds per call: calls ``fn`` in a loop long enough to rise above the timer's resolution."""
    fn()
    n, t = 1, 0.0
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - start
        if t >= min_time:
            return t / n
        n = n * 2 if t < min_time / 8 else int(n * min_time * 1.2 / t) + 1


def matmul_rate(repeats=7):
    a = numpy.random.default_rng(0).standard_normal((2048, 2048)).astype(numpy.float32)
    times = [timeit(lambda: a @ a, 0.2) for _ in range(repeats)]
    return 2 * 2048 ** 3 / numpy.median(times) / 1e9


def blas_info():
    try:
        import threadpoolctl
        info = threadpoolctl.threadpool_info()
        return ", ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
                         f"{i.get('num_threads')} threads)" for i in info if i.get("user_api") == "blas")
    except ImportError:
        return "threadpoolctl not installed"


def bench_shape(s, torch, dtype, repeats):
    from nnlite import nn
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((s["N"], s["C_in"], s["L"])).astype(dtype)
    m = nn.Conv1d(s["C_in"], s["C_out"], s["K"], stride=s["stride"], padding=s["padding"],
                  dilation=s["dilation"], groups=s["groups"], dtype=dtype)
    xt = nnlite.from_numpy(x).requires_grad_()

    def nl_fwd():
        with nnlite.no_grad():
            m(x)

    def nl_fwd_bwd():
        m.weight.grad = m.bias.grad = xt.grad = None
        m(xt).sum().backward()

    fns = {"nnlite": (nl_fwd, nl_fwd_bwd)}
    if torch is not None:
        tm = torch.nn.Conv1d(s["C_in"], s["C_out"], s["K"], stride=s["stride"], padding=s["padding"],
                             dilation=s["dilation"], groups=s["groups"], dtype=getattr(torch, dtype))
        with torch.no_grad():
            tm.weight.copy_(torch.from_numpy(m.weight.detach().numpy()))
            tm.bias.copy_(torch.from_numpy(m.bias.detach().numpy()))
        tx = torch.from_numpy(x)
        txg = tx.clone().requires_grad_()

        def t_fwd():
            with torch.no_grad():
                tm(tx)

        def t_fwd_bwd():
            tm.weight.grad = tm.bias.grad = txg.grad = None
            tm(txg).sum().backward()
        fns["torch"] = (t_fwd, t_fwd_bwd)
        # same answer before timing anything
        with torch.no_grad():
            ref = tm(tx).numpy()
        with nnlite.no_grad():
            got = m(x).numpy()
        tol = 1e-3 if dtype == "float32" else 1e-9
        assert numpy.allclose(got, ref, rtol=tol, atol=tol), f"{s['name']}: nnlite and PyTorch disagree"
    times = {(lib, kind): [] for lib in fns for kind in ("fwd", "fwd+bwd")}
    for _ in range(repeats):  # alternate the libraries so drift on a shared machine hits both alike
        for lib, (fwd, fwd_bwd) in fns.items():
            times[(lib, "fwd")].append(timeit(fwd))
            times[(lib, "fwd+bwd")].append(timeit(fwd_bwd))
    l_out = m(x[:1]).shape[-1] if s["N"] else 0
    return {k: float(numpy.median(v)) for k, v in times.items()}, flops(s, l_out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--shapes", default=None, help="comma-separated names (default: all)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args(argv)
    torch = None
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            print("PyTorch is not installed: timing nnlite alone")
    nnlite.set_num_threads(args.threads)
    shapes, path = load_shapes()
    if args.shapes:
        wanted = set(args.shapes.split(","))
        shapes = [s for s in shapes if s["name"] in wanted]
    from nnlite._kernels import conv1d_cpu
    cpu = cpu_name()
    print(f"machine: {cpu}, {os.cpu_count()} cores; threads {args.threads}; dtype {args.dtype}")
    print(f"nnlite {nnlite.__version__} (kernels {conv1d_cpu.VARIANT}), numpy {numpy.__version__}"
          + (f", PyTorch {torch.__version__}" if torch else "") + f"; shapes from {path}")
    print(f"BLAS: {blas_info()}")
    mm = matmul_rate()
    print(f"numpy float32 matmul 2048x2048: {mm:.1f} GFLOP/s\n")
    header = ("| shape | N | C_in | C_out | L | K | s | p | d | g | fwd nnlite ms | fwd torch ms | fwd ratio | "
              "fwd GFLOP/s | fwd+bwd nnlite ms | fwd+bwd torch ms | fwd+bwd ratio | fwd+bwd GFLOP/s |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    results = []
    for s in shapes:
        t, fl = bench_shape(s, torch, args.dtype, args.repeats)
        nf, nb = t[("nnlite", "fwd")], t[("nnlite", "fwd+bwd")]
        tf, tb = t.get(("torch", "fwd")), t.get(("torch", "fwd+bwd"))
        row = dict(shape=s, nnlite_fwd_ms=nf * 1e3, nnlite_fwd_bwd_ms=nb * 1e3,
                   torch_fwd_ms=tf and tf * 1e3, torch_fwd_bwd_ms=tb and tb * 1e3,
                   fwd_gflops=fl / nf / 1e9, fwd_bwd_gflops=3 * fl / nb / 1e9)
        results.append(row)
        fmt = (lambda v: f"{v:.3f}" if v is not None else "-")
        print(f"| {s['name']} | {s['N']} | {s['C_in']} | {s['C_out']} | {s['L']} | {s['K']} | {s['stride']} | "
              f"{s['padding']} | {s['dilation']} | {s['groups']} | {nf * 1e3:.3f} | {fmt(tf and tf * 1e3)} | "
              f"{fmt(tf and nf / tf)} | {fl / nf / 1e9:.1f} | {nb * 1e3:.3f} | {fmt(tb and tb * 1e3)} | "
              f"{fmt(tb and nb / tb)} | {3 * fl / nb / 1e9:.1f} |", flush=True)
    tiny = [r for r in results if r["shape"]["name"] == "tiny"]
    if tiny:
        print(f"\ntiny forward through the Module: {tiny[0]['nnlite_fwd_ms'] * 1e3:.1f} us per call")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(matmul_gflops=mm, results=results), indent=1))


if __name__ == "__main__":
    main()
