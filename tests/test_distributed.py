"""nnlite.distributed, DistributedDataParallel, SyncBatchNorm and DistributedSampler.

The collectives run for real: each launch of ``mpiexec -n N python tests/mpi/checks.py`` runs every check
of that script on N ranks (one launch with 2 ranks, one with 3); the tests here read its verdicts.  The
tests that need MPI skip where mpi4py or mpiexec is missing.  Nothing here starts MPI inside pytest.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest

import nnlite
import nnlite.distributed as dist
from nnlite import nn
from nnlite.autograd import engine
from nnlite.utils.data.distributed import DistributedSampler

ROOT = Path(__file__).resolve().parents[1]
MPI_DIR = Path(__file__).resolve().parent / "mpi"
CHECKS = ["collectives", "ordered_sum_is_bitwise", "mismatches_raise_on_every_rank",
          "ddp_construction_broadcasts_rank0", "ddp_layout_mismatch_raises_on_every_rank",
          "ddp_bitwise_equal_to_one_process", "ddp_unused_parameters_count_as_zero",
          "ddp_no_sync_accumulates_locally", "syncbatchnorm_matches_batchnorm_on_the_whole_batch",
          "sampler_defaults_to_the_group", "checkpoint_resume_is_bitwise", "fast_mode_uses_allreduce"]


def _mpiexec():
    pytest.importorskip("mpi4py")
    exe = shutil.which("mpiexec") or shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    if exe is None:
        pytest.skip("mpiexec is not installed (pip install mpich)")
    return exe


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.update(extra)
    return env


def _launch(n, args, timeout=120, **env):
    cmd = [_mpiexec(), "-n", str(n), sys.executable] + [str(a) for a in args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=_env(**env), capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return proc, time.perf_counter() - start


def _results(n, tmp_path_factory, **env):
    proc, _ = _launch(n, [MPI_DIR / "checks.py", tmp_path_factory.mktemp(f"mpi{n}")], **env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("NNLITE_RESULTS ")]
    assert proc.returncode == 0 and lines, f"rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[0].split(" ", 1)[1])


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    return _results(2, tmp_path_factory)


@pytest.fixture(scope="module")
def three_ranks(tmp_path_factory):
    return _results(3, tmp_path_factory, OMP_NUM_THREADS="2")


@pytest.mark.parametrize("name", CHECKS)
def test_two_ranks(two_ranks, name):
    assert two_ranks[name] == "ok", two_ranks[name]


@pytest.mark.parametrize("name", CHECKS)
def test_three_ranks(three_ranks, name):
    assert three_ranks[name] == "ok", three_ranks[name]


def test_every_check_is_listed(two_ranks):
    assert sorted(k for k in two_ranks if k != "threads") == sorted(CHECKS)


def test_threads_default_to_the_cores_of_each_rank(two_ranks):
    # mpiexec binds nothing here: both ranks share this process's CPU set and split it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert two_ranks["threads"] == [max(1, cores // 2)] * 2


def test_threads_respect_omp_num_threads(three_ranks):
    assert three_ranks["threads"] == [2, 2, 2]


@pytest.mark.parametrize("launcher", [[], ["-m", "mpi4py"]], ids=["hook", "python-m-mpi4py"])
def test_a_failing_rank_ends_the_job(launcher):
    proc, seconds = _launch(2, launcher + [MPI_DIR / "fail.py"], timeout=60)
    assert proc.returncode != 0
    assert seconds < 30, seconds   # rank 0 would otherwise sleep 60 s in a collective that never completes
    assert "rank 1 fails on purpose" in proc.stderr + proc.stdout


def test_import_nnlite_does_not_import_mpi4py():
    code = ("import sys, nnlite, nnlite.distributed, nnlite.nn.parallel, nnlite.utils.data.distributed; "
            "nnlite.nn.SyncBatchNorm(3)(nnlite.randn(4, 3, 5)); "
            "assert 'mpi4py' not in sys.modules, 'mpi4py was imported'")
    subprocess.run([sys.executable, "-c", code], env=_env(), check=True, timeout=60)


# -- without MPI ---------------------------------------------------------------------------------------

NOT_INIT = "Default process group has not been initialized, please make sure to call init_process_group."


@pytest.mark.parametrize("call", [
    dist.get_rank, dist.get_world_size, dist.barrier, dist.destroy_process_group,
    lambda: dist.all_reduce(nnlite.ones(2)), lambda: dist.broadcast(nnlite.ones(2)),
    lambda: dist.all_gather([nnlite.ones(2)], nnlite.ones(2)), lambda: dist.all_gather_object([None], 1),
    lambda: nn.parallel.DistributedDataParallel(nn.Linear(2, 2))])
def test_calls_before_init_raise(call):
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError) as e:
        call()
    assert str(e.value) == NOT_INIT


def test_init_rejects_other_backends():
    with pytest.raises(ValueError, match="'mpi' backend only, but got 'gloo'"):
        dist.init_process_group("gloo")
    assert not dist.is_initialized()


@pytest.mark.parametrize("mine, node, expected", [
    ({0, 1}, [{0, 1}, {0, 1}], 1),                       # two unbound ranks on two cores
    ({0, 1, 2, 3}, [{0, 1, 2, 3}], 4),                   # alone on the node
    ({0, 1}, [{0, 1}, {2, 3}, {4, 5}], 2),               # bound to two cores each
    ({0, 1, 2, 3, 4, 5, 6, 7}, [set(range(8))] * 3, 2),  # 8 cores shared by 3 ranks
    ({0}, [{0}] * 4, 1),                                 # oversubscribed: still one thread
])
def test_default_threads(mine, node, expected):
    assert dist.default_threads(mine, node) == expected


# -- DistributedSampler: PyTorch's split, padding and drop_last ------------------------------------

def _torch_split(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as T
    return [(list(T(range(n), replicas, r, shuffle=False, drop_last=drop_last)),
             len(T(range(n), replicas, r, shuffle=False, drop_last=drop_last))) for r in range(replicas)], torch


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("replicas", [1, 2, 3, 5, 8])
def test_sampler_split_matches_pytorch(replicas, drop_last):
    for n in list(range(0, 12)) + [17, 64, 101]:
        expected, _ = _torch_split(n, replicas, drop_last)
        got = [(list(DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last)),
                len(DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last)))
               for r in range(replicas)]
        assert got == expected, (n, replicas, drop_last)


def test_sampler_shuffle_pads_the_permutation_of_seed_plus_epoch():
    n, replicas = 11, 4
    samplers = [DistributedSampler(range(n), replicas, r, seed=3) for r in range(replicas)]
    for s in samplers:
        s.set_epoch(2)
    perm = numpy.random.default_rng(5).permutation(n).tolist()
    padded = perm + perm[:1]
    assert [list(s) for s in samplers] == [padded[r::replicas] for r in range(replicas)]
    first = list(samplers[0])
    samplers[0].set_epoch(3)
    assert list(samplers[0]) != first and len(samplers[0]) == 3
    again = DistributedSampler(range(n), replicas, 0, seed=3)
    again.set_epoch(2)
    assert list(again) == first


def test_sampler_errors():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(range(4), num_replicas=2, rank=-1)
    with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
        DistributedSampler(range(4))


def test_sampler_feeds_a_dataloader():
    from nnlite.utils.data import DataLoader, TensorDataset
    X = numpy.arange(10, dtype=numpy.float32).reshape(10, 1)
    loader = DataLoader(TensorDataset(X), batch_size=2, sampler=DistributedSampler(X, 3, 1, shuffle=False))
    assert [b[0].numpy().ravel().tolist() for b in loader] == [[1.0, 4.0], [7.0, 0.0]]


# -- SyncBatchNorm outside a group, and the conversion ----------------------------------------------

def test_syncbatchnorm_without_a_group_is_batchnorm():
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((4, 3, 6))
    bn, sbn = nn.BatchNorm1d(3, dtype=nnlite.float64), nn.SyncBatchNorm(3, dtype=nnlite.float64)
    assert list(sbn.state_dict()) == list(bn.state_dict())
    xa, xb = nnlite.tensor(x, requires_grad=True), nnlite.tensor(x, requires_grad=True)
    ya, yb = bn(xa), sbn(xb)
    (ya * ya).sum().backward()
    (yb * yb).sum().backward()
    assert yb.detach().numpy().tobytes() == ya.detach().numpy().tobytes()
    assert xb.grad.numpy().tobytes() == xa.grad.numpy().tobytes()
    assert sbn.running_var.numpy().tobytes() == bn.running_var.numpy().tobytes()
    assert sbn(nnlite.tensor(x[:, :, :, None])).shape == (4, 3, 6, 1)   # (N, C, ...) input
    with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
        sbn(nnlite.randn(3))


def test_convert_sync_batchnorm_shares_tensors_and_mode():
    inner = nn.Sequential(nn.Conv1d(1, 4, 3), nn.BatchNorm1d(4, momentum=0.3, eps=1e-3))
    net = nn.Sequential(inner, nn.ReLU(), nn.BatchNorm1d(4, affine=False)).eval()
    bn, bn2 = inner[1], net[2]
    out = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert out is net and type(inner[1]) is nn.SyncBatchNorm and type(net[2]) is nn.SyncBatchNorm
    s = inner[1]
    assert (s.momentum, s.eps, s.training) == (0.3, 1e-3, False)
    assert s.weight is bn.weight and s.bias is bn.bias and s.running_mean is bn.running_mean
    assert s.num_batches_tracked is bn.num_batches_tracked
    assert net[2].weight is None and net[2].running_var is bn2.running_var
    assert type(nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(2))) is nn.SyncBatchNorm
    with pytest.raises(NotImplementedError, match="process_group=None"):
        nn.SyncBatchNorm(2, process_group=object())


# -- the engine hook DDP uses ----------------------------------------------------------------------

def test_queue_callback_runs_after_grads_in_order():
    w = nnlite.ones(3, requires_grad=True)
    seen = []
    y = w * 2

    def hook(g):
        engine.queue_callback(lambda: seen.append(("a", w.grad.tolist())))
        engine.queue_callback(lambda: seen.append(("b", None)))
    y.register_hook(hook)
    assert seen == []
    y.sum().backward()
    assert seen == [("a", [2.0, 2.0, 2.0]), ("b", None)]
    (w * 3).sum().backward()   # the callbacks were for one backward only
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="Final callbacks can only be installed during backward pass."):
        engine.queue_callback(lambda: None)


def test_ddp_example_runs(shared_dir, tmp_path):
    out = tmp_path / "result.json"
    proc, _ = _launch(2, ["-m", "mpi4py", ROOT / "examples" / "fcn_ucr_ddp.py",
                          shared_dir / "data" / "ucr" / "ItalyPowerDemand", "--epochs", "2", "--sync-bn",
                          "--json", out], timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert (result["ranks"], result["batch_per_rank"], result["epochs"]) == (2, 3, 2)
    assert 0.5 < result["test_accuracy"] <= 1.0 and result["best_epoch"] in (1, 2)
