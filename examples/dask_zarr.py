"""A long multichannel signal in zarr, a stride-1 conv net over it on a Dask LocalCluster, the result back in zarr.

    python examples/dask_zarr.py                      # 3 channels x 500,000 samples: seconds
    python examples/dask_zarr.py --length 100000000 --dir /data/scratch

The signal (think of a three-component seismometer) is written as a zarr array chunked along time,
read lazily with ``dask.array.from_zarr``, run through a small detector network with
``nnlite.dask.predict`` on a ``dask.distributed.LocalCluster`` (two worker processes of one thread each,
on 127.0.0.1), and the per-sample scores are written to a second zarr array with the same chunking. A
slice of the result is then compared with running the network on that part of the signal in memory.
Needs ``pip install nnlite[dask] zarr``.
"""
import argparse
import os
import tempfile
import time

import numpy

import nnlite
from nnlite import nn


def build_detector(channels):
    """A stride-1 detector: three 'same' convolutions, four scores per sample; each reads 14 samples either side."""
    nnlite.manual_seed(0)
    return nn.Sequential(
        nn.Conv1d(channels, 16, 9, padding="same"), nn.ReLU(),
        nn.Conv1d(16, 16, 5, padding="same", dilation=2), nn.ReLU(),
        nn.Conv1d(16, 4, 7, padding="same", dilation=2), nn.Sigmoid())


def write_signal(path, channels, length, chunk):
    """A (channels, length) float32 zarr array of a noisy signal with a few bursts."""
    import zarr
    z = zarr.create_array(store=path, shape=(channels, length), chunks=(channels, chunk), dtype="float32",
                          overwrite=True)
    rng = numpy.random.default_rng(0)
    for start in range(0, length, chunk):
        n = min(chunk, length - start)
        piece = rng.standard_normal((channels, n)).astype(numpy.float32)
        piece[:, n // 3:n // 3 + 200] *= 8   # a burst in every chunk
        z[:, start:start + n] = piece
    return z


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--length", type=int, default=500_000)
    parser.add_argument("--chunk", type=int, default=125_000, help="samples per zarr and dask chunk")
    parser.add_argument("--dir", default=None, help="where the zarr arrays go (default: a temporary directory)")
    args = parser.parse_args()

    import dask.array as da
    import distributed
    import zarr
    from nnlite.dask import predict

    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        src, dst = os.path.join(work, "signal.zarr"), os.path.join(work, "scores.zarr")
        write_signal(src, args.channels, args.length, args.chunk)
        net = build_detector(args.channels)
        print("receptive field:", nn.utils.receptive_field(net))
        with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            x = da.from_zarr(src)
            scores = predict(net, x)
            out = zarr.create_array(store=dst, shape=scores.shape, chunks=(scores.shape[0], args.chunk),
                                    dtype="float32", overwrite=True)
            t = time.perf_counter()
            # the output chunks start where the input chunks do (stride 1), so no lock is needed
            client.compute(scores.store(out, lock=False, compute=False)).result()
            seconds = time.perf_counter() - t
        print(f"{args.channels} x {args.length} samples in {seconds:.2f} s on 2 workers "
              f"({args.channels * args.length / seconds / 1e6:.1f} M samples/s); scores {out.shape} in {dst}")

        # the stored scores equal the network on the whole signal, seen here on a slice
        a, b = args.length // 2 - 1000, args.length // 2 + 1000
        with nnlite.no_grad():
            piece = net.eval()(zarr.open_array(src, mode="r")[:, a - 50:b + 50]).numpy()[:, 50:-50]
        same = numpy.array_equal(zarr.open_array(dst, mode="r")[:, a:b], piece)
        print("stored scores equal the in-memory network on samples", a, "to", b, ":", same)
        print("fraction of samples scored above 0.5:", float((zarr.open_array(dst, mode="r")[:] > 0.5).mean()))


if __name__ == "__main__":
    main()
