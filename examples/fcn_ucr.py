"""Train the fully convolutional network (FCN) of Wang et al. 2017 on a UCR data set.

    python examples/fcn_ucr.py ../shared/data/ucr/GunPoint --compare-torch --threads 2

The network and recipe are those of Ismail Fawaz et al. 2019 ("Deep learning for
time series classification: a review"): three Conv1d layers of 128/256/128
filters with kernels 8/5/3 and ``padding='same'``, each followed by BatchNorm1d
and ReLU, global average pooling, and a Linear layer to the classes; Adam with
lr 1e-3; batch size ``min(N_train // 10, 16)``; the learning rate halved after
50 epochs without a lower training loss (floor 1e-4); the model kept is the one
with the lowest training loss, and it is scored once on the test split.

``--compare-torch`` trains the same network in PyTorch from the same initial
weights on the same batches (nnlite and PyTorch epochs alternate, so machine
noise hits both alike) and reports seconds per epoch and accuracy for both.
``--checkpoint PATH`` saves everything needed to continue (model, optimizer,
scheduler, epoch, best state so far, nnlite's RNG state) every ``--save-every``
epochs and at the end; ``--resume`` continues from it, ending with weights
bitwise identical to a run that was never interrupted.

The functions are importable (the tests add ``examples/`` to ``sys.path``):
:func:`build_fcn`, :func:`batch_size_for`, :func:`make_optimizer`,
:func:`train_epoch`, :func:`evaluate`, :func:`fit`, :func:`save_checkpoint`,
:func:`load_checkpoint`.
"""
import argparse
import json
import os
import statistics
import sys
import time

import nnlite
from nnlite import nn
from nnlite.demo import train_epoch  # noqa: F401  (one training loop, shared with the demo)
from nnlite.optim import Adam
from nnlite.optim.lr_scheduler import ReduceLROnPlateau
from nnlite.utils.data import DataLoader, RandomSampler, TensorDataset

FILTERS = (128, 256, 128)
KERNELS = (8, 5, 3)


def build_fcn(in_channels, n_classes, filters=FILTERS, kernels=KERNELS):
    """The FCN as an ``nn.Sequential``; pass a module namespace with the same layers (``torch.nn``) for PyTorch's."""
    return _fcn_layers(nn, in_channels, n_classes, filters, kernels)


def _fcn_layers(nn_, in_channels, n_classes, filters, kernels):
    layers = []
    for c_in, c_out, k in zip((in_channels,) + tuple(filters[:-1]), filters, kernels):
        layers += [nn_.Conv1d(c_in, c_out, k, padding="same"), nn_.BatchNorm1d(c_out), nn_.ReLU()]
    layers += [nn_.AdaptiveAvgPool1d(1), nn_.Flatten(), nn_.Linear(filters[-1], n_classes)]
    return nn_.Sequential(*layers)


def batch_size_for(n_train):
    """The paper's batch size: ``min(N_train // 10, 16)``, at least 1."""
    return max(1, min(n_train // 10, 16))


def make_optimizer(model, lr=1e-3):
    """Adam(lr) and ReduceLROnPlateau(factor 0.5, patience 50, min_lr 1e-4), stepped with the training loss."""
    optimizer = Adam(model.parameters(), lr=lr)
    scheduler = ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=50, min_lr=1e-4)
    return optimizer, scheduler


def copy_state(state_dict):
    """A snapshot of a state_dict (its values share memory with the model otherwise)."""
    return {k: v.clone() for k, v in state_dict.items()}


def evaluate(model, X, y, batch_size=256):
    """Accuracy of ``model`` (in eval mode) on numpy arrays ``X``, ``y``."""
    model.eval()
    correct = 0
    with nnlite.no_grad():
        for lo in range(0, len(X), batch_size):
            correct += int((model(X[lo:lo + batch_size]).argmax(1).numpy() == y[lo:lo + batch_size]).sum())
    return correct / len(X)


class TrainState:
    """Everything a run carries from epoch to epoch besides the model and optimizer."""

    def __init__(self):
        self.epoch = 0                  # epochs completed
        self.best_loss = float("inf")
        self.best_epoch = 0
        self.best_state = None          # copy of the state_dict with the lowest training loss
        self.losses = []                # training loss of every epoch


def save_checkpoint(path, model, optimizer, scheduler, state):
    """Write model, optimizer, scheduler, progress, best state and nnlite's RNG state to ``path`` (atomically)."""
    nnlite.save({
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": state.epoch,
        "best_loss": state.best_loss,
        "best_epoch": state.best_epoch,
        "best_state": state.best_state,
        "losses": state.losses,
        "rng": nnlite.get_rng_state(),
    }, path)


def load_checkpoint(path, model, optimizer, scheduler):
    """Restore what :func:`save_checkpoint` wrote into fresh objects; returns the :class:`TrainState`."""
    ckpt = nnlite.load(path)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    nnlite.set_rng_state(ckpt["rng"])
    state = TrainState()
    state.epoch, state.best_loss, state.best_epoch = ckpt["epoch"], ckpt["best_loss"], ckpt["best_epoch"]
    state.best_state, state.losses = ckpt["best_state"], list(ckpt["losses"])
    return state


class _SharedOrder:
    """A sampler that shuffles as ``DataLoader(shuffle=True)`` does and keeps the order, for PyTorch to replay."""

    def __init__(self, n):
        self.sampler = RandomSampler(range(n))
        self.order = None

    def __len__(self):
        return len(self.sampler)

    def __iter__(self):
        self.order = list(self.sampler)
        return iter(self.order)


def fit(model, X, y, epochs, *, lr=1e-3, batch_size=None, checkpoint=None, resume=False, save_every=50, progress=None,
        companion=None):
    """Train ``model`` on ``X``, ``y`` for ``epochs`` epochs (in all, counting those of a resumed checkpoint).

    Returns ``(state, optimizer, scheduler, seconds)``: the :class:`TrainState`
    and the seconds each nnlite epoch took.  ``progress(epoch, loss, lr)`` is
    called after every epoch.  ``companion(order)``, if given, runs right after
    each nnlite epoch with that epoch's sample order (used by ``--compare-torch``).
    """
    batch_size = batch_size or batch_size_for(len(X))
    optimizer, scheduler = make_optimizer(model, lr)
    state = TrainState()
    if resume and checkpoint and os.path.exists(checkpoint):
        state = load_checkpoint(checkpoint, model, optimizer, scheduler)
    sampler = _SharedOrder(len(X))
    loader = DataLoader(TensorDataset(X, y), batch_size, sampler=sampler)
    loss_fn = nn.CrossEntropyLoss()
    seconds = []
    while state.epoch < epochs:
        start = time.perf_counter()
        loss = train_epoch(model, loader, optimizer, loss_fn)
        scheduler.step(loss)
        if loss < state.best_loss:
            state.best_loss, state.best_epoch, state.best_state = loss, state.epoch + 1, copy_state(model.state_dict())
        seconds.append(time.perf_counter() - start)
        state.epoch += 1
        state.losses.append(loss)
        if companion is not None:
            companion(sampler.order)
        if progress is not None:
            progress(state.epoch, loss, optimizer.param_groups[0]["lr"])
        if checkpoint and (state.epoch % save_every == 0 or state.epoch == epochs):
            save_checkpoint(checkpoint, model, optimizer, scheduler, state)
    return state, optimizer, scheduler, seconds


class TorchTwin:
    """The same FCN, initial weights and recipe in PyTorch, trained one epoch at a time on given sample orders."""

    def __init__(self, model, X, y, X_test, y_test, filters, kernels, threads):
        import warnings
        import torch
        self.torch = torch
        # PyTorch pads a copy of the input for 'same' with an even kernel (8) and says so at every call
        warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")
        if threads:
            torch.set_num_threads(threads)
        torch.manual_seed(0)  # nothing random is drawn after the copy below; this only makes that certain
        self.model = _fcn_layers(torch.nn, X.shape[1], int(model[-1].out_features), filters, kernels)
        self.model.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, mode="min", factor=0.5,
                                                                    patience=50, min_lr=1e-4)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.X_test, self.y_test = torch.from_numpy(X_test), torch.from_numpy(y_test)
        self.batch_size = batch_size_for(len(X))
        self.best_loss, self.best_state, self.seconds, self.losses = float("inf"), None, [], []

    def epoch(self, order):
        torch, model = self.torch, self.model
        start = time.perf_counter()
        model.train()
        order = torch.as_tensor(order)
        total = 0.0
        for lo in range(0, len(order), self.batch_size):
            idx = order[lo:lo + self.batch_size]
            xb, yb = self.X[idx], self.y[idx]
            loss = self.loss_fn(model(xb), yb)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(yb)
        loss = total / len(order)
        self.scheduler.step(loss)
        if loss < self.best_loss:
            self.best_loss = loss
            self.best_state = {k: v.clone() for k, v in model.state_dict().items()}
        self.seconds.append(time.perf_counter() - start)
        self.losses.append(loss)

    def accuracy(self):
        self.model.load_state_dict(self.best_state)
        self.model.eval()
        with self.torch.no_grad():
            pred = self.model(self.X_test).argmax(1)
        return float((pred == self.y_test).double().mean())


def _progress_printer(epochs, every, plain=False):
    """A tqdm bar when tqdm is installed (and ``plain`` is false), else a plain line every ``every`` epochs."""
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if plain:
        tqdm = None
    if tqdm is not None:
        bar = tqdm(total=epochs, unit="epoch", file=sys.stderr)

        def show(epoch, loss, lr):
            if bar.n < epoch - 1:
                bar.update(epoch - 1 - bar.n)  # resumed
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.1e}")
            if epoch == epochs:
                bar.close()
        return show

    def show(epoch, loss, lr):
        if epoch % every == 0 or epoch == epochs:
            print(f"epoch {epoch:4d}/{epochs}  training loss {loss:.4f}  lr {lr:.1e}", flush=True)
    return show


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dataset_dir", help="folder with <Name>_TRAIN.ts and <Name>_TEST.ts")
    p.add_argument("--epochs", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="threads for nnlite (and PyTorch); default: all")
    p.add_argument("--filters", default=",".join(map(str, FILTERS)), help="filters of the three convolutions")
    p.add_argument("--compare-torch", action="store_true", help="train the same network in PyTorch too")
    p.add_argument("--torch-epochs", type=int, default=None,
                   help="with --compare-torch: train and time PyTorch on the first N epochs only (default: all)")
    p.add_argument("--checkpoint", help="checkpoint file, written every --save-every epochs and at the end")
    p.add_argument("--save-every", type=int, default=50)
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint if it exists")
    p.add_argument("--print-every", type=int, default=25, help="without tqdm: a progress line every N epochs")
    p.add_argument("--plain-progress", action="store_true",
                   help="plain progress lines on stdout even when tqdm is installed (batch-job logs)")
    p.add_argument("--json", help="write the results to this file")
    args = p.parse_args(argv)
    if args.resume and not args.checkpoint:
        p.error("--resume needs --checkpoint")
    filters = tuple(int(f) for f in args.filters.split(","))
    if len(filters) != 3:
        p.error("--filters takes three comma-separated numbers")

    if args.threads:
        nnlite.set_num_threads(args.threads)
    nnlite.manual_seed(args.seed)
    X, y, X_test, y_test, classes = nnlite.datasets.load_ucr(args.dataset_dir)
    name = os.path.basename(os.path.normpath(args.dataset_dir))
    model = build_fcn(X.shape[1], len(classes), filters)
    bs = batch_size_for(len(X))
    print(f"{name}: {len(X)} train / {len(X_test)} test series, {X.shape[1]} channel(s) of length {X.shape[2]}, "
          f"{len(classes)} classes; batch size {bs}, {args.epochs} epochs, seed {args.seed}, "
          f"{nnlite.get_num_threads()} thread(s)", flush=True)

    twin = None
    if args.compare_torch:
        if args.resume:
            p.error("--compare-torch cannot resume (PyTorch's side is not checkpointed)")
        twin = TorchTwin(model, X, y, X_test, y_test, filters, KERNELS, args.threads)
    torch_epochs = args.epochs if args.torch_epochs is None else args.torch_epochs

    def companion(order):
        if twin is not None and len(twin.seconds) < torch_epochs:
            twin.epoch(order)

    state, _, _, seconds = fit(model, X, y, args.epochs, batch_size=bs, checkpoint=args.checkpoint,
                               resume=args.resume, save_every=args.save_every,
                               progress=_progress_printer(args.epochs, args.print_every, args.plain_progress),
                               companion=companion)
    model.load_state_dict(state.best_state)
    accuracy = evaluate(model, X_test, y_test)
    results = {"dataset": name, "epochs": args.epochs, "seed": args.seed, "threads": nnlite.get_num_threads(),
               "filters": list(filters), "batch_size": bs, "nnlite": {
                   "test_accuracy": accuracy, "best_epoch": state.best_epoch, "best_train_loss": state.best_loss,
                   "final_train_loss": state.losses[-1] if state.losses else None,
                   "seconds_per_epoch_median": statistics.median(seconds) if seconds else None,
                   "epochs_timed": len(seconds), "seconds": seconds}}
    print(f"nnlite : test accuracy {accuracy:.4f} (model of epoch {state.best_epoch}, training loss "
          f"{state.best_loss:.5f})" + (f", {statistics.median(seconds):.4f} s/epoch (median of {len(seconds)})"
                                       if seconds else ""))
    if twin is not None:
        # the ratio compares the epochs both ran, alternating; PyTorch's accuracy needs all of them
        t_acc = twin.accuracy() if len(twin.seconds) == args.epochs else None
        n = len(twin.seconds)
        ratio = statistics.median(seconds[:n]) / statistics.median(twin.seconds)
        results["torch"] = {"version": twin.torch.__version__, "test_accuracy": t_acc,
                            "best_train_loss": twin.best_loss, "final_train_loss": twin.losses[-1],
                            "seconds_per_epoch_median": statistics.median(twin.seconds),
                            "epochs_timed": len(twin.seconds), "threads": twin.torch.get_num_threads()}
        results["nnlite"]["seconds_per_epoch_median_same_epochs"] = statistics.median(seconds[:n])
        results["ratio_nnlite_over_torch"] = ratio
        # each nnlite epoch against the PyTorch epoch right after it: robust to load that changes during the run
        results["ratio_paired_median"] = statistics.median(a / b for a, b in zip(seconds, twin.seconds))
        results["torch"]["seconds"] = twin.seconds
        acc = f"test accuracy {t_acc:.4f}" if t_acc is not None else f"not scored (trained {n} of {args.epochs} epochs)"
        print(f"PyTorch: {acc}, training loss {twin.losses[-1]:.5f} at epoch {n} (nnlite: {state.losses[n - 1]:.5f}), "
              f"{statistics.median(twin.seconds):.4f} s/epoch (median of {n})")
        print(f"seconds per epoch over the same {n} epochs, nnlite {statistics.median(seconds[:n]):.4f} / "
              f"PyTorch {statistics.median(twin.seconds):.4f} = {ratio:.3f} (median of per-epoch ratios "
              f"{results['ratio_paired_median']:.3f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
