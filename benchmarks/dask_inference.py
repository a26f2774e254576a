"""Chunked inference on a signal larger than memory: nnlite.dask.predict over a float32 zarr signal on disk.

A benchmark, not a test.  It writes a (1, C, L) float32 signal of ``--gb`` GB (default 8.6: C=8,
L=2**28) as uncompressed zarr under ``--dir`` (default /tmp, never the repository), then

1. the whole signal: ``predict`` from zarr to zarr (``da.store``, 8 chunks per call) in a fresh
   subprocess, whose peak resident memory (``VmHWM``) and throughput are reported;
2. on a 1 GB piece (unless ``--no-piece``): in-memory nnlite (the piece loaded as one numpy array,
   ``net(x)``) against ``predict`` reading the same piece from zarr chunk by chunk, alternating,
   ``--repeat`` times each; the ratio of medians, and of the whole run's throughput to in-memory.

The files are deleted at the end (``--keep`` keeps them).  The scheduler is dask's threaded one with
as many workers as nnlite threads; each task then runs its kernels on one thread.  Run it niced:

    nice python benchmarks/dask_inference.py            # --gb 1 for a quick look
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

import numpy

CHUNK = 1 << 20          # positions per chunk: 32 MiB of input for 8 channels
SLAB = 8                 # chunks stored per da.store call in the whole-signal run


def _net():
    from nnlite import nn
    import nnlite
    nnlite.manual_seed(0)
    # a stride-1 detector: 8 channels in, one score per sample out
    return nn.Sequential(nn.Conv1d(8, 8, 7, padding=3), nn.ReLU(), nn.Conv1d(8, 1, 1)).eval()


def _write_signal(path, channels, length):
    import dask
    import dask.array as da
    import zarr
    z = zarr.create_array(store=path, shape=(1, channels, length), chunks=(1, channels, CHUNK), dtype="float32",
                          compressors=None, overwrite=True)
    x = da.random.default_rng(0).standard_normal((1, channels, length), dtype=numpy.float32,
                                                 chunks=(1, channels, CHUNK))
    with dask.config.set(scheduler="threads"):
        da.store(x, z, lock=False)


def _peak_rss_mb():
    """This process's peak resident memory: VmHWM, which starts afresh at exec (ru_maxrss does not: after
    fork and exec it still holds the parent's resident size, as the first 8.6 GB run found out)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _chunked(src, dst, length):
    """Child process: predict the whole signal from zarr to zarr; print JSON with the time and peak RSS."""
    import dask
    import dask.array as da
    import zarr
    import nnlite
    from nnlite.dask import predict
    x = da.from_zarr(src)
    y = predict(_net(), x)
    out = zarr.create_array(store=dst, shape=y.shape, chunks=(1, y.shape[1], CHUNK), dtype="float32",
                            compressors=None, overwrite=True)
    t = time.perf_counter()
    # slabs of SLAB chunks, one after another: the threaded scheduler reads ready zarr chunks ahead of the
    # convolutions (a first 8.6 GB run in one da.store peaked at 2.97 GB resident under a load of 150-340)
    step = SLAB * CHUNK
    with dask.config.set(scheduler="threads", num_workers=nnlite.get_num_threads()):
        for a in range(0, y.shape[-1], step):
            b = min(a + step, y.shape[-1])
            da.store(y[..., a:b], out, regions=(slice(None), slice(None), slice(a, b)), lock=False)
    dt = time.perf_counter() - t
    print(json.dumps({"seconds": dt, "peak_rss_mb": _peak_rss_mb(), "bytes": x.nbytes, "out_shape": y.shape}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=8.6, help="signal size in GB (default 8.6)")
    parser.add_argument("--dir", default="/tmp", help="where the zarr files go (default /tmp)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the zarr files")
    parser.add_argument("--no-piece", action="store_true", help="skip the 1 GB in-memory comparison")
    parser.add_argument("--child", nargs=3, metavar=("SRC", "DST", "LENGTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _chunked(args.child[0], args.child[1], int(args.child[2]))

    import dask
    import dask.array as da
    import nnlite
    from nnlite.dask import predict
    channels = 8
    length = int(args.gb * 1e9 / (4 * channels)) // CHUNK * CHUNK
    work = os.path.join(args.dir, f"nnlite-dask-bench-{os.getpid()}")
    os.makedirs(work)
    src, dst = os.path.join(work, "signal.zarr"), os.path.join(work, "scores.zarr")
    report = {"machine": f"{os.cpu_count()} cores", "nnlite_threads": nnlite.get_num_threads(),
              "signal": f"(1, {channels}, {length}) float32, {4 * channels * length / 1e9:.2f} GB, zarr"}
    try:
        t = time.perf_counter()
        _write_signal(src, channels, length)
        report["write_seconds"] = round(time.perf_counter() - t, 1)
        print(json.dumps(report), flush=True)

        # 2. first (the parent is still small), the whole signal, zarr to zarr, in a fresh process
        # glibc keeps freed 32 MiB blocks in its heap (its mmap threshold grows up to 32 MiB): give them back
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="1048576", MALLOC_TRIM_THRESHOLD_="1048576")
        out = subprocess.run([sys.executable, __file__, "--child", src, dst, str(length)], capture_output=True,
                             text=True, check=True, env=env)
        full = json.loads(out.stdout.strip().splitlines()[-1])
        full["gb_per_s"] = round(full["bytes"] / 1e9 / full["seconds"], 4)
        full["load_avg"] = os.getloadavg()
        report["full"] = full
        print(json.dumps(full), flush=True)
        if args.no_piece:
            return
        # 1. a 1 GB piece: in memory against chunked from zarr, alternating
        piece = min(length, int(1e9 / (4 * channels)) // CHUNK * CHUNK)
        net = _net()
        xz = da.from_zarr(src)[..., :piece]
        whole = xz.compute(scheduler="threads")
        mem, chunked, exact = [], [], True
        for _ in range(args.repeat):
            t = time.perf_counter()
            with nnlite.no_grad():
                ref = net(whole).numpy()
            mem.append(time.perf_counter() - t)
            t = time.perf_counter()
            with dask.config.set(scheduler="threads", num_workers=nnlite.get_num_threads()):
                y = predict(net, xz).compute()
            chunked.append(time.perf_counter() - t)
            exact &= bool(numpy.array_equal(y, ref))
            del ref, y
        del whole
        gb = 4 * channels * piece / 1e9
        report["piece"] = {
            "gb": round(gb, 3), "in_memory_s": [round(v, 2) for v in mem], "chunked_s": [round(v, 2) for v in chunked],
            "in_memory_gb_per_s": round(gb / statistics.median(mem), 4),
            "chunked_gb_per_s": round(gb / statistics.median(chunked), 4),
            "ratio": round(statistics.median(chunked) / statistics.median(mem), 3), "bitwise_equal": exact,
            "load_avg": os.getloadavg()}
        print(json.dumps(report["piece"]), flush=True)
        full["ratio_to_in_memory"] = round(report["piece"]["in_memory_gb_per_s"] / full["gb_per_s"], 3)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
