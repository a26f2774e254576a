"""Array-level Conv1d benchmark: nnlite's CPU kernels against PyTorch, same process.

Times ``nnlite._kernels.conv1d_cpu`` (forward, and forward + grad input + grad weight +
grad bias) against ``torch.nn.functional.conv1d`` (forward, and forward +
``torch.autograd.grad`` for the same three gradients) on the shapes of
``conv1d_shapes.json``, float32, both on the same number of threads (default 2).
Calls alternate nnlite / torch; the table gives medians.  x is padded once up front
and both libraries convolve the padded array with padding 0, so they do the same work.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv1d_kernels.py

GFLOP/s counts 2*N*C_out*L_out*(C_in/groups)*K per forward and three times that for
forward + backward.  The last line is numpy's float32 2048x2048 matmul rate in this run.
"""
import argparse
import json
import os
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPE_FILES = [os.path.join(HERE, "..", "..", "shared", "bench", "conv1d_shapes.json"),
               os.path.join(HERE, "conv1d_shapes.json")]


def load_shapes():
    for path in SHAPE_FILES:
        if os.path.exists(path):
            with open(path) as f:
                spec = json.load(f)
            cols = spec["columns"]
            return [dict(zip(cols, row)) for row in spec["shapes"]]
    raise FileNotFoundError(f"no conv1d_shapes.json in {SHAPE_FILES}")


def median_times(fns, min_time, min_reps=5, max_reps=200):
    """Alternate the callables; return each one's median seconds."""
    for fn in fns:       # warm up
        fn()
    times = [[] for _ in fns]
    start = time.perf_counter()
    while (len(times[0]) < min_reps or time.perf_counter() - start < min_time) \
            and len(times[0]) < max_reps:
        for t, fn in zip(times, fns):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times]


def matmul_gflops(n=2048, reps=7):
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.T.copy()
    (t,) = median_times([lambda: a @ b], 0.5, min_reps=reps)
    return 2 * n ** 3 / t / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shapes", default="", help="comma-separated shape names (default all)")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per measurement")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F
    from nnlite._threads import set_num_threads
    from nnlite._kernels import conv1d_cpu as C

    torch.set_num_threads(args.threads)
    set_num_threads(args.threads)
    dt = np.dtype(args.dtype)
    wanted = set(filter(None, args.shapes.split(",")))
    print(f"nnlite variant {C.VARIANT}, torch {torch.__version__}, {args.threads} threads, {dt}")
    head = (f"{'shape':10} {'op':8} {'nnlite ms':>10} {'torch ms':>10} {'ratio':>6} "
            f"{'nnlite GF/s':>11} {'torch GF/s':>10}")
    print(head)
    print("-" * len(head))
    rng = np.random.default_rng(0)
    for sh in load_shapes():
        if wanted and sh["name"] not in wanted:
            continue
        n, ci, co, length, k = sh["N"], sh["C_in"], sh["C_out"], sh["L"], sh["K"]
        s, p, d, g = sh["stride"], sh["padding"], sh["dilation"], sh["groups"]
        x = rng.standard_normal((n, ci, length + 2 * p)).astype(dt)
        w = rng.standard_normal((co, ci // g, k)).astype(dt)
        b = rng.standard_normal(co).astype(dt)
        l_out = C.output_length(x.shape[2], k, s, d)
        gy = rng.standard_normal((n, co, l_out)).astype(dt)
        xt, wt, bt, gyt = (torch.from_numpy(a) for a in (x, w, b, gy))
        xr, wr, br = (t.clone().requires_grad_() for t in (xt, wt, bt))
        flops = 2 * n * co * l_out * (ci // g) * k

        def nn_fwd():
            return C.forward(x, w, b, s, d, g)

        def nn_fb():
            C.forward(x, w, b, s, d, g)
            C.grad_input(gy, w, x.shape, s, d, g)
            C.grad_weight(x, gy, w.shape, s, d, g)
            C.grad_bias(gy)

        def th_fwd():
            with torch.no_grad():
                return F.conv1d(xt, wt, bt, s, 0, d, g)

        def th_fb():
            y = F.conv1d(xr, wr, br, s, 0, d, g)
            torch.autograd.grad(y, (xr, wr, br), gyt)

        # sanity: same numbers before timing them
        np.testing.assert_allclose(nn_fwd(), th_fwd().numpy(), rtol=1e-3, atol=1e-3 * np.sqrt(ci // g * k))
        for op, fns, fl in (("fwd", (nn_fwd, th_fwd), flops), ("fwd+bwd", (nn_fb, th_fb), 3 * flops)):
            tn, tt = median_times(fns, args.min_time)
            print(f"{sh['name']:10} {op:8} {tn * 1e3:10.3f} {tt * 1e3:10.3f} {tn / tt:6.2f} "
                  f"{fl / tn / 1e9:11.1f} {fl / tt / 1e9:10.1f}", flush=True)
    print(f"numpy matmul 2048x2048 {dt}: {matmul_gflops():.1f} GFLOP/s")


if __name__ == "__main__":
    main()
