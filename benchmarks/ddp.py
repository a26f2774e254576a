"""DistributedDataParallel on one machine: 2 ranks x 1 thread against 1 process x 2 threads.

    python benchmarks/ddp.py [--repeats 5] [--epochs 4] [--steps 8]

The FCN of examples/fcn_ucr.py (Conv1d 128/256/128, kernels 8/5/3, BatchNorm1d, ReLU, global average
pooling, Linear) trains with Adam on random series of length 427: 2 ranks with batch 16 each under
``mpiexec -n 2`` (OMP_NUM_THREADS=1), against one process with batch 32 (the same global batch, so the same
number of steps per epoch) and 2 threads.  The two configurations run alternately, ``--repeats`` launches
each; within a launch the first epoch is a warm-up.  Reported: the median epoch and step time of each, their
ratio, and the share of the DDP step spent communicating (buffer broadcast plus gradient reduction,
waiting for the other rank included), with the bytes each rank sends per step and the load average.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def worker(args):
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import numpy
    import nnlite
    from nnlite import nn
    from nnlite.optim import Adam
    from nnlite.utils.data import DataLoader, TensorDataset
    from fcn_ucr import build_fcn

    ddp = not args.single
    if ddp:
        import nnlite.distributed as dist
        from nnlite.nn.parallel import DistributedDataParallel
        from nnlite.utils.data.distributed import DistributedSampler
        dist.init_process_group("mpi")
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        nnlite.set_num_threads(args.threads)
        rank, world = 0, 1
    n = args.steps * args.batch * 2
    rng = numpy.random.default_rng(0)
    X = rng.standard_normal((n, 1, args.length)).astype(numpy.float32)
    y = rng.integers(0, 2, n)
    nnlite.manual_seed(0)
    model = build_fcn(1, 2)
    data = TensorDataset(X, y)
    if ddp:
        model = DistributedDataParallel(model)
        sampler = DistributedSampler(data, seed=0)
        loader = DataLoader(data, batch_size=args.batch, sampler=sampler)
        bucket_bytes = sum(b.flat.nbytes for b in model._buckets)
        buffer_bytes = sum(b._data.nbytes for b in model.module.buffers())
    else:
        sampler = None
        loader = DataLoader(data, batch_size=args.batch * 2, shuffle=True)
        bucket_bytes = buffer_bytes = 0
    opt = Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    epochs, steps, comms = [], [], []
    for epoch in range(args.epochs + 1):
        if sampler is not None:
            sampler.set_epoch(epoch)
            dist.barrier()
        start = time.perf_counter()
        for xb, yb in loader:
            t0 = time.perf_counter()
            c0 = model._comm_seconds if ddp else 0.0
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if epoch:
                steps.append(time.perf_counter() - t0)
                comms.append((model._comm_seconds - c0) if ddp else 0.0)
        if epoch:
            epochs.append(time.perf_counter() - start)
    if rank == 0:
        print("DDPBENCH " + json.dumps({"epochs": epochs, "steps": steps, "comm": comms, "world": world,
                                         "threads": nnlite.get_num_threads(), "bucket_bytes": bucket_bytes,
                                         "buffer_bytes": buffer_bytes}), flush=True)


def launch(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(next(ln for ln in out.splitlines() if ln.startswith("DDPBENCH ")).split(" ", 1)[1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--epochs", type=int, default=4, help="timed epochs per launch (after one warm-up epoch)")
    p.add_argument("--steps", type=int, default=8, help="steps per epoch")
    p.add_argument("--batch", type=int, default=16, help="batch per rank (the single process takes twice this)")
    p.add_argument("--length", type=int, default=427)
    p.add_argument("--threads", type=int, default=2, help="threads of the single process")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    common = ["--epochs", str(args.epochs), "--steps", str(args.steps), "--batch", str(args.batch),
              "--length", str(args.length)]
    me = [sys.executable, os.path.abspath(__file__), "--worker"] + common
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    env.pop("OMP_NUM_THREADS", None)
    load0 = os.getloadavg()
    single, multi = [], []
    for _ in range(args.repeats):
        single.append(launch(me + ["--single", "--threads", str(args.threads)], env))
        multi.append(launch(["mpiexec", "-n", "2"] + me, dict(env, OMP_NUM_THREADS="1")))
    load1 = os.getloadavg()

    def med(runs, key):
        return statistics.median(v for r in runs for v in r[key])

    e1, e2 = med(single, "epochs"), med(multi, "epochs")
    s1, s2 = med(single, "steps"), med(multi, "steps")
    paired = statistics.median(statistics.median(m["epochs"]) / statistics.median(s["epochs"])
                               for s, m in zip(single, multi))
    share = statistics.median(c / s for r in multi for c, s in zip(r["comm"], r["steps"]))
    comm = med(multi, "comm")
    world = multi[0]["world"]
    grad_bytes = multi[0]["bucket_bytes"]
    sent = 2 * (world - 1) / world * grad_bytes + multi[0]["buffer_bytes"]
    print(f"FCN, length {args.length}, {args.steps} steps per epoch, {args.repeats} launches x {args.epochs} "
          f"epochs each; load average {load0[0]:.2f} before, {load1[0]:.2f} after")
    print("| run | threads per process | batch per process | epoch s (median) | step ms (median) | "
          "communication ms per step (median) | share of step |")
    print("|---|---|---|---|---|---|---|")
    print(f"| 1 process | {single[0]['threads']} | {2 * args.batch} | {e1:.3f} | {1e3 * s1:.1f} | - | - |")
    print(f"| 2 ranks (mpiexec -n 2) | {multi[0]['threads']} | {args.batch} | {e2:.3f} | {1e3 * s2:.1f} | "
          f"{1e3 * comm:.2f} | {100 * share:.1f} % |")
    print(f"2-rank / 1-process epoch: {e2 / e1:.3f} (median of per-launch ratios {paired:.3f}); "
          f"gradient buffer {grad_bytes / 1e6:.3f} MB per step, {sent / 1e6:.3f} MB sent per rank per step")


if __name__ == "__main__":
    main()
