"""``python -m nnlite.demo``: train a small fully convolutional network and print its test accuracy.

With no arguments it generates the Cylinder–Bell–Funnel problem
(:func:`nnlite.datasets.cylinder_bell_funnel`: 300 training and 300 test series
of length 128) and trains a small FCN (Conv1d 32/64/32 filters, kernels 8/5/3,
each with BatchNorm1d and ReLU, global average pooling, Linear) with Adam for a
few epochs, well under a minute on two cores.  ``--data FOLDER`` trains on a
UCR data set folder instead (``<Name>_TRAIN.ts`` and ``<Name>_TEST.ts``, see
:func:`nnlite.datasets.load_ucr`); ``--epochs`` and ``--seed`` change the run.

``examples/fcn_ucr.py`` is the full recipe (the paper's network size, learning
rate schedule, checkpoints, a PyTorch comparison).  Importing this module only
defines :func:`fcn` and :func:`main`.
"""
import argparse
import os
import time

import nnlite
from nnlite import nn
from nnlite.utils.data import DataLoader, TensorDataset

__all__ = ["fcn", "main"]


def fcn(in_channels, n_classes, filters=(32, 64, 32), kernels=(8, 5, 3)):
    """The FCN of Wang et al. 2017 with ``filters`` (the paper has 128/256/128).

    >>> import numpy, nnlite.demo
    >>> net = nnlite.demo.fcn(1, 3)
    >>> net(numpy.zeros((2, 1, 50), dtype=numpy.float32)).shape
    nnlite.Size([2, 3])
    """
    layers = []
    for c_in, c_out, k in zip((in_channels,) + tuple(filters[:-1]), filters, kernels):
        layers += [nn.Conv1d(c_in, c_out, k, padding="same"), nn.BatchNorm1d(c_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(filters[-1], n_classes))


def train_epoch(model, loader, optimizer, loss_fn):
    """One pass over ``loader`` in training mode; returns the mean training loss per sample."""
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(yb)
        count += len(yb)
    return total / count


def main(argv=None):
    """Parse ``argv``, train, print one line per epoch and the test accuracy; returns the accuracy."""
    p = argparse.ArgumentParser(prog="python -m nnlite.demo", description=__doc__.split("\n")[0])
    p.add_argument("--data", help="a UCR data set folder (default: generated Cylinder-Bell-Funnel series)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    nnlite.manual_seed(args.seed)
    if args.data:
        X, y, X_test, y_test, classes = nnlite.datasets.load_ucr(args.data)
        name = os.path.basename(os.path.normpath(args.data))
    else:
        X, y = nnlite.datasets.cylinder_bell_funnel(300, 128, seed=args.seed)
        X_test, y_test = nnlite.datasets.cylinder_bell_funnel(300, 128, seed=args.seed + 1)
        classes, name = ["cylinder", "bell", "funnel"], "Cylinder-Bell-Funnel"
    batch_size = max(1, min(len(X) // 10, 16))
    print(f"{name}: {len(X)} train / {len(X_test)} test series of length {X.shape[2]}, {len(classes)} classes, "
          f"batch size {batch_size}, {nnlite.get_num_threads()} thread(s)")

    model = fcn(X.shape[1], len(classes))
    optimizer = nnlite.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(X, y), batch_size, shuffle=True)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss = train_epoch(model, loader, optimizer, loss_fn)
        print(f"epoch {epoch:3d}  training loss {loss:.4f}  ({time.perf_counter() - start:.1f} s)", flush=True)

    model.eval()
    with nnlite.no_grad():
        accuracy = float((model(X_test).argmax(1).numpy() == y_test).mean())
    print(f"test accuracy {accuracy:.4f} on {len(X_test)} series after {args.epochs} epochs "
          f"({time.perf_counter() - start:.1f} s)")
    return accuracy


if __name__ == "__main__":
    main()
