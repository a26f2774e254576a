"""Train the FCN of examples/fcn_ucr.py on a UCR data set with DistributedDataParallel over MPI.

    mpiexec -n 2 python -m mpi4py examples/fcn_ucr_ddp.py ../shared/data/ucr/ItalyPowerDemand --epochs 100

Same network and recipe as ``examples/fcn_ucr.py`` (Adam lr 1e-3, the learning rate halved after 50 epochs
without a lower training loss, the weights of the lowest training loss kept), spread over the ranks: each
rank takes its share of every epoch through a ``DistributedSampler`` and ``ceil(batch / world size)``
samples per step, so the global batch stays the paper's ``min(N_train // 10, 16)``; with ``--sync-bn`` the
batch norms are ``SyncBatchNorm``, whose statistics span that whole global batch.  The training loss used
for the plateau and the best epoch is the mean over all ranks' samples, so every rank takes the same
decisions; rank 0 scores the kept weights on the test split and writes ``--json``.
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nnlite  # noqa: E402
import nnlite.distributed as dist  # noqa: E402
from nnlite import nn  # noqa: E402
from nnlite.nn.parallel import DistributedDataParallel  # noqa: E402
from nnlite.utils.data import DataLoader, TensorDataset  # noqa: E402
from nnlite.utils.data.distributed import DistributedSampler  # noqa: E402
from fcn_ucr import batch_size_for, build_fcn, copy_state, evaluate, make_optimizer  # noqa: E402


def train_epoch(model, loader, optimizer, loss_fn):
    """One pass over this rank's share; returns the mean training loss over every rank's samples."""
    model.train()
    totals = nnlite.zeros(2, dtype=nnlite.float64)   # sum of losses, number of samples
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        totals += nnlite.tensor([loss.item() * len(yb), len(yb)], dtype=nnlite.float64)
    dist.all_reduce(totals)
    return float(totals[0] / totals[1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dataset_dir")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm instead of BatchNorm1d")
    p.add_argument("--json", help="rank 0 writes the results here")
    args = p.parse_args(argv)

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    nnlite.manual_seed(args.seed)
    X, y, X_test, y_test, classes = nnlite.datasets.load_ucr(args.dataset_dir)
    net = build_fcn(X.shape[1], len(classes))
    if args.sync_bn:
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    model = DistributedDataParallel(net)
    nnlite.manual_seed(args.seed + 1000 * rank)   # each rank its own random stream from here on
    batch = math.ceil(batch_size_for(len(X)) / world)
    data = TensorDataset(X, y)
    sampler = DistributedSampler(data, seed=args.seed)
    loader = DataLoader(data, batch, sampler=sampler)
    optimizer, scheduler = make_optimizer(model)
    loss_fn = nn.CrossEntropyLoss()
    name = os.path.basename(os.path.normpath(args.dataset_dir))
    if rank == 0:
        print(f"{name}: {len(X)} train / {len(X_test)} test, {world} ranks x {nnlite.get_num_threads()} thread(s), "
              f"batch {batch} per rank ({batch * world} in all), {args.epochs} epochs, "
              f"{'SyncBatchNorm' if args.sync_bn else 'BatchNorm1d'}", flush=True)
    best_loss, best_epoch, best_state, seconds = float("inf"), 0, None, []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        sampler.set_epoch(epoch)
        loss = train_epoch(model, loader, optimizer, loss_fn)
        scheduler.step(loss)
        if loss < best_loss:
            best_loss, best_epoch, best_state = loss, epoch + 1, copy_state(net.state_dict())
        seconds.append(time.perf_counter() - start)
        if rank == 0 and ((epoch + 1) % 25 == 0 or epoch + 1 == args.epochs):
            print(f"epoch {epoch + 1:4d}/{args.epochs}  training loss {loss:.4f}  "
                  f"lr {optimizer.param_groups[0]['lr']:.1e}", flush=True)
    if rank == 0:
        net.load_state_dict(best_state)
        accuracy = evaluate(net, X_test, y_test)
        seconds.sort()
        results = {"dataset": name, "ranks": world, "epochs": args.epochs, "seed": args.seed,
                   "sync_bn": args.sync_bn, "batch_per_rank": batch, "test_accuracy": accuracy,
                   "best_epoch": best_epoch, "best_train_loss": best_loss,
                   "seconds_per_epoch_median": seconds[len(seconds) // 2]}
        print(f"test accuracy {accuracy:.4f} (model of epoch {best_epoch}, training loss {best_loss:.5f}), "
              f"{results['seconds_per_epoch_median']:.3f} s/epoch (median)", flush=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
