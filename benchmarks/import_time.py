"""How much ``import nnlite`` adds to ``import numpy``: fresh interpreters, min and median of N runs.

    python benchmarks/import_time.py [--runs 20]

Bytecode caching is left on (``PYTHONDONTWRITEBYTECODE`` is removed for the child processes), as on an
installed package; ``python -X importtime -c 'import nnlite'`` shows the per-module breakdown.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time


def run(code, runs, env):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", "import nnlite"], env=env, check=True)  # write the bytecode once
    numpy_t = run("import numpy", args.runs, env)
    nnlite_t = run("import nnlite", args.runs, env)
    print(f"import numpy : min {numpy_t[0] * 1e3:6.1f} ms, median {numpy_t[1] * 1e3:6.1f} ms")
    print(f"import nnlite: min {nnlite_t[0] * 1e3:6.1f} ms, median {nnlite_t[1] * 1e3:6.1f} ms")
    print(f"added by nnlite: min {(nnlite_t[0] - numpy_t[0]) * 1e3:.1f} ms, "
          f"median {(nnlite_t[1] - numpy_t[1]) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
