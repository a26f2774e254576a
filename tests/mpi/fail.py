"""Rank 1 raises while rank 0 waits in a collective: the job must end at once (tests/test_distributed.py).

Usage: mpiexec -n 2 python tests/mpi/fail.py [--mpi4py-run]
"""
import time

import nnlite
import nnlite.distributed as dist

dist.init_process_group("mpi")
if dist.get_rank() == 1:
    time.sleep(0.2)
    raise ValueError("rank 1 fails on purpose")
dist.all_reduce(nnlite.ones(3))   # rank 0 would wait here forever without the abort
time.sleep(60)
