"""FCN, ResNet and InceptionTime on the UCR data sets of ../shared/data/ucr: accuracy and seconds per epoch.

    nice python benchmarks/ucr_models.py --threads 2 --run-budget 60 --out benchmarks/results/ucr_models.jsonl
    python benchmarks/ucr_models.py --summary benchmarks/results/*.jsonl      # the markdown tables

Three phases, each record appended to ``--out`` as one JSON line as soon as it exists (a run cut
short keeps what finished):

1. ``timing``: for every model x data set, one network in nnlite and the same network in PyTorch
   (tests/torch_models.py, given nnlite's initial weights) trained ``--timing-epochs`` epochs on the
   same batches, epochs alternating between the libraries, the same thread count for both.  Records
   the seconds of every epoch and both loss curves.
2. ``curves``: the same side-by-side run for longer on one data set (``--curve-model``,
   ``--curve-data``, ``--curve-epochs``), for benchmarks/plot_loss_curves.py.
3. ``accuracy``: the nnlite.sklearn estimators with the published recipe (Adam 1e-3, plateau halving,
   the papers' batch sizes, the lowest-training-loss weights), 3 seeds, scored on the test split.
   The papers train 2000 (FCN) or 1500 epochs; this machine cannot, so each model x data set is
   capped at ``floor(--run-budget / (seconds per epoch from phase 1 x networks))`` epochs (or at
   ``--epochs-cap``), the same cap for all its seeds, and the cap is recorded.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time
import warnings

import numpy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import nnlite  # noqa: E402
from nnlite import nn  # noqa: E402
from nnlite.datasets import load_ucr  # noqa: E402
from nnlite.demo import train_epoch  # noqa: E402
from nnlite.models import FCN, InceptionTime, ResNet  # noqa: E402
from nnlite.optim import Adam  # noqa: E402
from nnlite.optim.lr_scheduler import ReduceLROnPlateau  # noqa: E402
from nnlite.utils.data import DataLoader, TensorDataset  # noqa: E402

DATASETS = ("GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions")
MODELS = ("FCN", "ResNet", "InceptionTime")
RECIPE_EPOCHS = {"FCN": 2000, "ResNet": 1500, "InceptionTime": 1500}
# Published test accuracies (%), ../shared/data/README.md: FCN, ResNet mean of 10 runs; InceptionTime the ensemble
PUBLISHED = {
    "FCN": {"GunPoint": 100.0, "ItalyPowerDemand": 96.1, "ArrowHead": 84.3, "BasicMotions": None},
    "ResNet": {"GunPoint": 99.1, "ItalyPowerDemand": 96.3, "ArrowHead": 84.5, "BasicMotions": 100.0},
    "InceptionTime": {"GunPoint": 100.0, "ItalyPowerDemand": 96.5, "ArrowHead": 84.6, "BasicMotions": 100.0},
}


def batch_size(model, n):
    """The papers' rules: FCN min(n/10, 16), ResNet min(n/10, 64), InceptionTime 64 (at most n)."""
    if model == "InceptionTime":
        return min(64, n)
    return max(1, min(n // 10, 16 if model == "FCN" else 64))


def build_pair(model, c, k):
    """An nnlite network and the PyTorch one with the same initial weights."""
    import torch_models as tm
    net = {"FCN": FCN, "ResNet": ResNet, "InceptionTime": InceptionTime}[model](c, k)
    twin = {"FCN": tm.torch_fcn, "ResNet": tm.TorchResNet, "InceptionTime": tm.TorchInceptionTime}[model](c, k)
    return net, tm.copy_weights(net, twin)


def side_by_side(model, X, y, epochs, seed, threads):
    """Train one network in nnlite and its PyTorch twin on the same batches, epochs alternating."""
    import torch
    warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")
    torch.set_num_threads(threads)
    nnlite.set_num_threads(threads)
    nnlite.manual_seed(seed)
    net, twin = build_pair(model, X.shape[1], int(y.max()) + 1)
    opt = Adam(net.parameters(), lr=1e-3)
    sched = ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=50, min_lr=1e-4)
    topt = torch.optim.Adam(twin.parameters(), lr=1e-3)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, mode="min", factor=0.5, patience=50, min_lr=1e-4)
    loss_fn, tloss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    bs = batch_size(model, len(X))
    rng = numpy.random.default_rng(seed)
    rec = {"nnlite_s": [], "torch_s": [], "nnlite_loss": [], "torch_loss": []}
    for _ in range(epochs):
        order = rng.permutation(len(X)).tolist()
        start = time.perf_counter()
        loss = train_epoch(net, DataLoader(TensorDataset(X, y), bs, sampler=order), opt, loss_fn)
        sched.step(loss)
        rec["nnlite_s"].append(time.perf_counter() - start)
        rec["nnlite_loss"].append(loss)
        start = time.perf_counter()
        twin.train()
        total = 0.0
        for lo in range(0, len(order), bs):
            idx = torch.as_tensor(order[lo:lo + bs])
            tl = tloss_fn(twin(Xt[idx]), yt[idx])
            topt.zero_grad()
            tl.backward()
            topt.step()
            total += tl.item() * len(idx)
        tsched.step(total / len(order))
        rec["torch_s"].append(time.perf_counter() - start)
        rec["torch_loss"].append(total / len(order))
    return rec


def accuracy_run(model, Xtr, ytr, Xte, yte, epochs, seed, threads):
    from nnlite.sklearn import FCNClassifier, InceptionTimeClassifier, ResNetClassifier
    cls = {"FCN": FCNClassifier, "ResNet": ResNetClassifier, "InceptionTime": InceptionTimeClassifier}[model]
    start = time.perf_counter()
    clf = cls(n_epochs=epochs, random_state=seed, n_threads=threads).fit(Xtr, ytr)
    seconds = time.perf_counter() - start
    best = [int(numpy.argmin(h)) + 1 for h in clf.histories_]
    return {"accuracy": 100.0 * clf.score(Xte, yte), "seconds": seconds, "best_epochs": best,
            "history": clf.history_}


def emit(out, record):
    record["load"] = os.getloadavg()[0]
    with open(out, "a") as f:
        f.write(json.dumps(record) + "\n")
    print(json.dumps({k: v for k, v in record.items() if not isinstance(v, (list, dict))}), flush=True)


def run(args):
    data = {d: load_ucr(os.path.join(args.data, d)) for d in args.datasets}
    per_epoch = {}
    for model in args.models if args.timing_epochs else ():
        for d in args.timing_data or args.datasets:
            Xtr, ytr = data[d][0], data[d][1]
            rec = side_by_side(model, Xtr, ytr, args.timing_epochs, 0, args.threads)
            per_epoch[model, d] = statistics.median(rec["nnlite_s"])
            emit(args.out, {"phase": "timing", "model": model, "data": d, "threads": args.threads,
                            "batch": batch_size(model, len(Xtr)), "nnlite_median_s": per_epoch[model, d],
                            "torch_median_s": statistics.median(rec["torch_s"]), **rec})
    if args.curve_epochs:
        Xtr, ytr = data[args.curve_data][0], data[args.curve_data][1]
        rec = side_by_side(args.curve_model, Xtr, ytr, args.curve_epochs, 0, args.threads)
        emit(args.out, {"phase": "curves", "model": args.curve_model, "data": args.curve_data,
                        "threads": args.threads, **rec})
    networks = {"FCN": 1, "ResNet": 1, "InceptionTime": 5}
    for seed in args.seeds:
        for model in args.models:
            for d in args.datasets:
                if args.epochs_cap:
                    cap = args.epochs_cap
                else:
                    cap = max(1, math.floor(args.run_budget / (per_epoch[model, d] * networks[model])))
                epochs = min(RECIPE_EPOCHS[model], cap)
                Xtr, ytr, Xte, yte, _ = data[d]
                emit(args.out, {"phase": "accuracy", "model": model, "data": d, "seed": seed, "epochs": epochs,
                                "recipe_epochs": RECIPE_EPOCHS[model], "threads": args.threads,
                                **accuracy_run(model, Xtr, ytr, Xte, yte, epochs, seed, args.threads)})


def summary(paths):
    """Markdown tables of the records in the files ``paths``."""
    recs = [json.loads(line) for path in paths for line in open(path)]
    lines = ["| model | data set | threads | batch | epochs timed | load | nnlite s/epoch | PyTorch s/epoch | ratio "
             "| target met |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in recs:
        if r["phase"] == "timing":
            ratio = r["nnlite_median_s"] / r["torch_median_s"]
            lines.append(f"| {r['model']} | {r['data']} | {r['threads']} | {r['batch']} | {len(r['nnlite_s'])} "
                         f"| {r['load']:.0f} | {r['nnlite_median_s']:.3f} "
                         f"| {r['torch_median_s']:.3f} | {ratio:.2f} | {'yes' if ratio <= 1 else '**no**'} |")
    lines += ["", "| model | data set | epochs (recipe) | seeds | accuracies | mean | published | within 2 points |",
              "|---|---|---|---|---|---|---|---|"]
    cells = {}
    for r in recs:
        if r["phase"] == "accuracy":
            cells.setdefault((r["model"], r["data"], r["epochs"]), []).append(r)
    for (model, d, _), rs in sorted(cells.items(), key=lambda kv: (MODELS.index(kv[0][0]), kv[0][1], kv[0][2])):
        rs = sorted(rs, key=lambda r: r["seed"])
        accs = [r["accuracy"] for r in rs]
        mean = statistics.mean(accs)
        pub = PUBLISHED[model][d]
        met = "n/a" if pub is None else ("yes" if mean >= pub - 2 else "**no**")
        lines.append(f"| {model} | {d} | {rs[0]['epochs']} ({rs[0]['recipe_epochs']}) | "
                     f"{','.join(str(r['seed']) for r in rs)} | {', '.join(f'{a:.1f}' for a in accs)} | "
                     f"{mean:.1f} | {'–' if pub is None else f'{pub:.1f}'} | {met} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "ucr"))
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "ucr_models.jsonl"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2], help="none: no accuracy phase")
    p.add_argument("--timing-epochs", type=int, default=3, help="0: no timing phase (then give --epochs-cap)")
    p.add_argument("--run-budget", type=float, default=60.0, help="seconds one accuracy run may take (sets the cap)")
    p.add_argument("--epochs-cap", type=int, default=None, help="a fixed epoch cap for every accuracy run instead")
    p.add_argument("--timing-data", nargs="+", default=None, help="data sets of the timing phase (default: all)")
    p.add_argument("--curve-model", default="FCN")
    p.add_argument("--curve-data", default="ItalyPowerDemand")
    p.add_argument("--curve-epochs", type=int, default=60)
    p.add_argument("--summary", metavar="JSONL", nargs="+", help="print the tables of results files and exit")
    args = p.parse_args(argv)
    if args.summary:
        print(summary(args.summary))
        return
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    run(args)


if __name__ == "__main__":
    main()
