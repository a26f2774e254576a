"""Plot the training-loss curves of nnlite and PyTorch from benchmarks/ucr_models.py's ``curves`` record.

    python benchmarks/plot_loss_curves.py [benchmarks/results/ucr_models.jsonl] [docs/img/loss_curves.png]

Both libraries trained the same network from the same initial weights on the same batches
(epochs alternating); the curves differ only through float32 rounding.  Needs matplotlib.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    src = argv[0] if argv else os.path.join(ROOT, "benchmarks", "results", "ucr_models.jsonl")
    dst = argv[1] if len(argv) > 1 else os.path.join(ROOT, "docs", "img", "loss_curves.png")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    recs = [json.loads(line) for line in open(src) if '"phase": "curves"' in line]
    if not recs:
        raise SystemExit(f"{src}: no 'curves' record (run benchmarks/ucr_models.py with --curve-epochs)")
    rec = recs[-1]
    epochs = range(1, len(rec["nnlite_loss"]) + 1)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.plot(epochs, rec["torch_loss"], label="PyTorch", color="tab:orange", linewidth=2.5, alpha=0.6)
    ax.plot(epochs, rec["nnlite_loss"], label="nnlite", color="tab:blue", linewidth=1.2, linestyle="--")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("training loss (cross-entropy, mean per series)")
    ax.set_yscale("log")
    ax.set_title(f"{rec['model']} on {rec['data']}: same initial weights, same batches, "
                 f"{rec['threads']} thread(s)", fontsize=9)
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    fig.savefig(dst)
    print(dst)


if __name__ == "__main__":
    main()
