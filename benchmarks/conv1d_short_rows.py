"""Conv1d on short rows: time per output column against L_out, nnlite kernels and PyTorch.

    python benchmarks/conv1d_short_rows.py [--threads 1] [--repeats 5] [--lengths 4,8,12,16,25,32,64,128]

One layer of issue 14's report (128 -> 256 channels, kernel 5, batch 16, stride 1 and 2) at
several output lengths: forward, grad input and grad weight of ``nnlite._kernels.conv1d_cpu``
and PyTorch's forward and forward+backward, alternating, medians.  A row shorter than the
register tile once fell to a scalar loop (50-100x slower per column); every length should now
cost about the same per column as the long rows, which the "us/col" columns show.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conv1d as bench  # noqa: E402

import numpy as np  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--lengths", default="4,8,12,16,25,32,64,128")
    args = p.parse_args(argv)
    import torch
    import torch.nn.functional as F
    import nnlite
    from nnlite._kernels import conv1d_cpu as C
    torch.set_num_threads(args.threads)
    nnlite.set_num_threads(args.threads)
    print(f"nnlite kernels {C.VARIANT}, PyTorch {torch.__version__}, {args.threads} threads, "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    print("| stride | L_out | fwd ms | grad input ms | grad weight ms | nnlite sum us/col | torch fwd ms | "
          "torch fwd+bwd ms | fwd ratio | sum ratio |\n|---|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    n, c_in, c_out, k = 16, 128, 256, 5
    for s in (1, 2):
        for l_out in (int(v) for v in args.lengths.split(",")):
            x = rng.standard_normal((n, c_in, (l_out - 1) * s + k)).astype(np.float32)
            w = rng.standard_normal((c_out, c_in, k)).astype(np.float32)
            gy = rng.standard_normal((n, c_out, l_out)).astype(np.float32)
            xt, wt, gyt = (torch.from_numpy(a) for a in (x, w, gy))
            xr, wr = xt.clone().requires_grad_(), wt.clone().requires_grad_()

            def t_fwd():
                with torch.no_grad():
                    F.conv1d(xt, wt, None, s)

            fns = {"fwd": lambda: C.forward(x, w, None, s, 1, 1),
                   "gi": lambda: C.grad_input(gy, w, x.shape, s, 1, 1),
                   "gw": lambda: C.grad_weight(x, gy, w.shape, s, 1, 1),
                   "t_fwd": t_fwd,
                   "t_all": lambda: torch.autograd.grad(F.conv1d(xr, wr, None, s), (xr, wr), gyt)}
            times = {key: [] for key in fns}
            for _ in range(args.repeats):
                for key, fn in fns.items():
                    times[key].append(bench.timeit(fn, 0.01))
            m = {key: float(np.median(v)) * 1e3 for key, v in times.items()}
            total = m["fwd"] + m["gi"] + m["gw"]
            print(f"| {s} | {l_out} | {m['fwd']:.3f} | {m['gi']:.3f} | {m['gw']:.3f} | "
                  f"{total / l_out * 1e3:.1f} | {m['t_fwd']:.3f} | {m['t_all']:.3f} | "
                  f"{m['fwd'] / m['t_fwd']:.3f} | {total / m['t_all']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
