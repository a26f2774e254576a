"""Whole-network speed: nnlite.models against the same networks in PyTorch (and onnxruntime).

    python benchmarks/models.py [--threads 2] [--repeats 7] [--models fcn,resnet,inception]
                                [--no-memory] [--infer-batch 256]

For every model and shape of issue 14 (FCN and ResNet at batch 16 x 1 x 427 and 64 x 1 x 500;
InceptionTime at 64 x 1 x 500 and 16 x 6 x 100; float32):

- training: one step (forward, cross-entropy, backward, Adam) in nnlite and in PyTorch, same
  process, same weights (nnlite's ``state_dict`` copied into the PyTorch definitions of
  ``tests/torch_models.py``), the libraries alternating, median seconds of ``--repeats`` steps;
- inference: eval mode under ``no_grad``, series per second at batch ``--infer-batch`` for
  nnlite, PyTorch and onnxruntime (the model exported by ``nnlite.onnx.export``,
  ``intra_op_num_threads`` = threads), medians; onnxruntime's column is skipped when onnx,
  onnxruntime or ``nnlite.onnx`` is missing;
- peak memory of a training step: each library in a fresh process (``--memory`` mode below);
  the peak resident set (VmHWM) over one step, reset (``/proc/self/clear_refs``) after a
  warm-up step, minus the resident set before the step: what the step itself allocates.

Ratios are nnlite / other (below 1.0 nnlite is faster or smaller).  The machine line (CPU,
kernel variant, threads, load average) is printed first; the tables are Markdown.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

from _machine import cpu_name

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

CASES = [("fcn", 16, 1, 427), ("fcn", 64, 1, 500), ("resnet", 16, 1, 427), ("resnet", 64, 1, 500),
         ("inception", 64, 1, 500), ("inception", 16, 6, 100)]
N_CLASSES = 5


def build_nnlite(name, c_in):
    import nnlite
    from nnlite import models
    nnlite.manual_seed(0)
    return {"fcn": models.FCN, "resnet": models.ResNet, "inception": models.InceptionTime}[name](c_in, N_CLASSES)


def build_torch(name, c_in, source=None):
    import torch_models as tm
    net = {"fcn": tm.torch_fcn, "resnet": tm.TorchResNet, "inception": tm.TorchInceptionTime}[name](c_in, N_CLASSES)
    if source is not None:
        tm.copy_weights(source, net)
    return net


def data(n, c, length, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c, length)).astype(np.float32), rng.integers(0, N_CLASSES, n)


def step_fn(lib, net, x, y):
    """One training step (forward, loss, backward, Adam) in ``lib``: the nnlite or the torch module,
    which spell all four the same way."""
    opt = lib.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = lib.nn.CrossEntropyLoss()
    xt, yt = lib.from_numpy(x), lib.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()
        return loss
    return step


def machine_line(threads):
    from nnlite._kernels import conv1d_cpu
    cpu = cpu_name()
    return (f"{cpu}, {os.cpu_count()} CPUs, nnlite kernels {conv1d_cpu.VARIANT}, {threads} threads, "
            f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


def med(ts):
    return float(np.median(ts))


def bench_training(cases, repeats, torch):
    rows = []
    for name, n, c, length in cases:
        x, y = data(n, c, length)
        a = build_nnlite(name, c)
        b = build_torch(name, c, a)
        import nnlite
        fa, fb = step_fn(nnlite, a.train(), x, y), step_fn(torch, b.train(), x, y)
        la, lb = float(fa().item()), float(fb().item())   # same weights: same first loss
        assert abs(la - lb) < 1e-3 * max(1.0, abs(lb)), (name, la, lb)
        fa(), fb()
        ta, tb = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fa()
            t1 = time.perf_counter()
            fb()
            t2 = time.perf_counter()
            ta.append(t1 - t0)
            tb.append(t2 - t1)
        rows.append((name, n, c, length, med(ta) * 1e3, med(tb) * 1e3, med(ta) / med(tb)))
        print(f"| {name} | {n}x{c}x{length} | {rows[-1][4]:.1f} | {rows[-1][5]:.1f} | {rows[-1][6]:.3f} |", flush=True)
    return rows


def onnx_session(net, c, length, threads):
    try:
        import io
        import onnxruntime as ort
        import nnlite
        from nnlite.onnx import export
    except ImportError as e:
        return None, f"skipped ({e})"
    buf = io.BytesIO()
    export(net, nnlite.from_numpy(np.zeros((2, c, length), np.float32)), buf,
           dynamic_axes={"input": [0], "output": [0]})
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return (lambda x: sess.run(None, {name: x})[0]), None


def bench_inference(cases, repeats, batch, threads, torch):
    import nnlite
    rows = []
    seen = set()
    for name, _, c, length in cases:
        if (name, c, length) in seen:
            continue
        seen.add((name, c, length))
        x, _ = data(batch, c, length, seed=1)
        a = build_nnlite(name, c).eval()
        b = build_torch(name, c, a).eval()
        sess, why = onnx_session(a, c, length, threads)
        xa, xb = nnlite.from_numpy(x), torch.from_numpy(x)

        def fa():
            with nnlite.no_grad():
                return a(xa).numpy()

        def fb():
            with torch.no_grad():
                return b(xb).numpy()
        ref = fb()
        np.testing.assert_allclose(fa(), ref, rtol=1e-3, atol=1e-3)
        fns = [fa, fb]
        if sess is not None:
            np.testing.assert_allclose(sess(x), ref, rtol=1e-3, atol=1e-3)
            fns.append(lambda: sess(x))
        times = [[] for _ in fns]
        for _ in range(repeats):
            for i, f in enumerate(fns):
                t0 = time.perf_counter()
                f()
                times[i].append(time.perf_counter() - t0)
        rate = [batch / med(t) for t in times]
        ort_rate = f"{rate[2]:.0f}" if sess is not None else why
        ort_ratio = f"{rate[2] / rate[0]:.3f}" if sess is not None else "-"
        rows.append((name, c, length, rate, ort_ratio))
        print(f"| {name} | {batch}x{c}x{length} | {rate[0]:.0f} | {rate[1]:.0f} | {ort_rate} | "
              f"{rate[1] / rate[0]:.3f} | {ort_ratio} |", flush=True)
    return rows


def _vm(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def memory_child(lib, name, n, c, length, threads):
    """Run in a fresh process: bytes of the peak resident set over one training step above
    the resident set before it, and the process's peak."""
    x, y = data(n, c, length)
    if lib == "nnlite":
        import nnlite
        nnlite.set_num_threads(threads)
        step = step_fn(nnlite, build_nnlite(name, c).train(), x, y)
    else:
        import torch
        torch.set_num_threads(threads)
        step = step_fn(torch, build_torch(name, c).train(), x, y)
    step()
    before = _vm("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")       # resets VmHWM to the current resident set
    step()
    print(_vm("VmHWM") - before, _vm("VmHWM"))


def bench_memory(cases, threads):
    rows = []
    for name, n, c, length in cases:
        out = []
        for lib in ("nnlite", "torch"):
            r = subprocess.run([sys.executable, __file__, "--memory", lib, name, str(n), str(c), str(length),
                                "--threads", str(threads)], capture_output=True, text=True, timeout=600)
            if r.returncode:
                raise RuntimeError(r.stderr)
            out.append([int(v) / 2 ** 20 for v in r.stdout.split()])
        rows.append((name, n, c, length, out))
        print(f"| {name} | {n}x{c}x{length} | {out[0][0]:.1f} | {out[1][0]:.1f} | {out[0][0] / out[1][0]:.3f} | "
              f"{out[0][1]:.0f} | {out[1][1]:.0f} |", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--infer-batch", type=int, default=256)
    p.add_argument("--models", default="fcn,resnet,inception")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--memory", nargs=5, metavar=("LIB", "MODEL", "N", "C", "L"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory:
        lib, name, n, c, length = args.memory
        return memory_child(lib, name, int(n), int(c), int(length), args.threads)

    import torch
    import nnlite
    torch.set_num_threads(args.threads)
    nnlite.set_num_threads(args.threads)
    cases = [cs for cs in CASES if cs[0] in args.models.split(",")]
    print(f"Machine: {machine_line(args.threads)}; PyTorch {torch.__version__}, numpy {np.__version__}, "
          f"median of {args.repeats}\n")
    print("Training step (forward, cross-entropy, backward, Adam), ms\n")
    print("| model | N x C x L | nnlite | PyTorch | ratio |\n|---|---|---|---|---|")
    bench_training(cases, args.repeats, torch)
    print(f"\nInference (eval, no_grad), series/s at batch {args.infer_batch}\n")
    print("| model | N x C x L | nnlite | PyTorch | onnxruntime | nnlite / PyTorch time | "
          "nnlite / onnxruntime time |\n|---|---|---|---|---|---|---|")
    bench_inference(cases, args.repeats, args.infer_batch, args.threads, torch)
    if not args.no_memory:
        print("\nPeak memory of a training step (MiB above the resident set before the step; "
              "process peaks)\n")
        print("| model | N x C x L | nnlite | PyTorch | ratio | nnlite process peak | PyTorch process peak |"
              "\n|---|---|---|---|---|---|---|")
        bench_memory(cases, args.threads)
    print(f"\nload average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
