"""Array-level Conv1d timings per kernel: where the time of ``benchmarks/conv1d.py`` goes.

    python benchmarks/conv1d_kernels.py [--threads 2] [--repeats 7] [--shapes wide,strided]

``benchmarks/conv1d.py`` is the contract benchmark (through ``nn.Conv1d``, Python overhead
included); this one reuses its shape loading, timer and matmul reference and times the four
``nnlite._kernels.conv1d_cpu`` functions one by one (forward, grad input, grad weight,
grad bias; x padded once up front, padding 0) against ``torch.nn.functional.conv1d`` and
``torch.autograd.grad`` on the same arrays, alternating the libraries, medians.  PyTorch
computes its three gradients in one call, so only the sums compare.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conv1d as bench  # noqa: E402  (restarts without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE)

import numpy as np  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--shapes", default=None, help="comma-separated names (default: all)")
    args = p.parse_args(argv)

    import torch
    import torch.nn.functional as F
    import nnlite
    from nnlite._kernels import conv1d_cpu as C

    torch.set_num_threads(args.threads)
    nnlite.set_num_threads(args.threads)
    shapes, path = bench.load_shapes()
    if args.shapes:
        shapes = [s for s in shapes if s["name"] in set(args.shapes.split(","))]
    dt = np.dtype(args.dtype)
    print(f"nnlite kernels {C.VARIANT}, PyTorch {torch.__version__}, {args.threads} threads, {dt}; "
          f"shapes from {path}")
    print(f"numpy float32 matmul 2048x2048: {bench.matmul_rate():.1f} GFLOP/s\n")
    print("| shape | fwd ms | grad input ms | grad weight ms | grad bias ms | sum ms | fwd GFLOP/s | "
          "torch fwd ms | torch fwd+grads ms | fwd ratio | sum ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for sh in shapes:
        s, d, g, pad = sh["stride"], sh["dilation"], sh["groups"], sh["padding"]
        x = rng.standard_normal((sh["N"], sh["C_in"], sh["L"] + 2 * pad)).astype(dt)
        w = rng.standard_normal((sh["C_out"], sh["C_in"] // g, sh["K"])).astype(dt)
        b = rng.standard_normal(sh["C_out"]).astype(dt)
        l_out = C.output_length(x.shape[2], sh["K"], s, d)
        gy = rng.standard_normal((sh["N"], sh["C_out"], l_out)).astype(dt)
        xt, wt, bt, gyt = (torch.from_numpy(a) for a in (x, w, b, gy))
        xr, wr, br = (t.clone().requires_grad_() for t in (xt, wt, bt))

        def t_fwd():
            with torch.no_grad():
                F.conv1d(xt, wt, bt, s, 0, d, g)

        def t_all():
            torch.autograd.grad(F.conv1d(xr, wr, br, s, 0, d, g), (xr, wr, br), gyt)

        fns = {"fwd": lambda: C.forward(x, w, b, s, d, g),
               "gi": lambda: C.grad_input(gy, w, x.shape, s, d, g),
               "gw": lambda: C.grad_weight(x, gy, w.shape, s, d, g),
               "gb": lambda: C.grad_bias(gy),
               "t_fwd": t_fwd, "t_all": t_all}
        np.testing.assert_allclose(C.forward(x, w, b, s, d, g), F.conv1d(xt, wt, bt, s, 0, d, g).numpy(),
                                   rtol=1e-3, atol=1e-3 * np.sqrt(w.shape[1] * w.shape[2]))
        times = {k: [] for k in fns}
        for _ in range(args.repeats):
            for k, fn in fns.items():
                times[k].append(bench.timeit(fn))
        m = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
        total = m["fwd"] + m["gi"] + m["gw"] + m["gb"]
        fl = bench.flops(sh, l_out)
        print(f"| {sh['name']} | {m['fwd']:.3f} | {m['gi']:.3f} | {m['gw']:.3f} | {m['gb']:.3f} | {total:.3f} | "
              f"{fl / m['fwd'] / 1e6:.1f} | {m['t_fwd']:.3f} | {m['t_all']:.3f} | {m['fwd'] / m['t_fwd']:.3f} | "
              f"{total / m['t_all']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
