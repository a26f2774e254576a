"""DataLoader with worker processes: order, seeding, worker info, errors, timeouts, shutdown, OpenMP after fork;
Subset and random_split; the new DataLoader arguments' errors (PyTorch's wording)."""
import gc
import multiprocessing
import os
import subprocess
import sys
import textwrap
import time

import numpy
import pytest

import nnlite
from nnlite.utils.data import DataLoader, Dataset, Subset, TensorDataset, get_worker_info, random_split


class Probe(Dataset):
    """Each sample says which worker made it, with what seed, in which process, plus draws from the seeded RNGs."""

    def __init__(self, n=12, fail_at=None, sleep=0.0, exc=ValueError):
        self.n, self.fail_at, self.sleep, self.exc = n, fail_at, sleep, exc

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise self.exc(f"bad sample {i}")
        if self.sleep:
            time.sleep(self.sleep)
        info = get_worker_info()
        wid, seed, nw = (-1, -1, 0) if info is None else (info.id, info.seed, info.num_workers)
        return {"i": i, "worker": wid, "seed": seed, "nw": nw, "pid": os.getpid(),
                "draw": float(nnlite.rand(1).item()), "np": float(numpy.random.random())}


def _children():
    return [p for p in multiprocessing.active_children() if p.is_alive()]


def test_workers_keep_order_and_match_single_process():
    X = numpy.arange(40, dtype=numpy.float32).reshape(10, 4)
    ds = TensorDataset(X, numpy.arange(10))
    for kw in ({"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None},
               {"batch_sampler": [[4, 1], [0], [9, 8, 7]]}):
        ref = [tuple(host.tolist() for host in b) for b in DataLoader(ds, **kw)]
        got = [tuple(host.tolist() for host in b) for b in DataLoader(ds, num_workers=2, **kw)]
        assert got == ref, kw
    assert _children() == []


def test_worker_info_seeds_and_round_robin():
    nnlite.manual_seed(7)
    a = list(DataLoader(Probe(8), batch_size=2, num_workers=2))
    nnlite.manual_seed(7)
    b = list(DataLoader(Probe(8), batch_size=2, num_workers=2))
    workers = [int(x["worker"][0]) for x in a]
    assert workers == [0, 1, 0, 1]                              # batches go round-robin, come back in order
    assert [x["i"].tolist() for x in a] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    seeds = {int(x["worker"][0]): int(x["seed"][0]) for x in a}
    assert seeds[1] == seeds[0] + 1                              # seed = base_seed + worker_id
    assert {int(x["nw"][0]) for x in a} == {2} and get_worker_info() is None
    assert len({int(x["pid"][0]) for x in a} - {os.getpid()}) == 2
    for x, y in zip(a, b):                                       # manual_seed in the parent fixes every draw
        assert x["draw"].tolist() == y["draw"].tolist() and x["np"].tolist() == y["np"].tolist()
    assert a[0]["draw"].tolist() != a[1]["draw"].tolist()        # workers draw different streams
    g = numpy.random.default_rng(3)
    c = list(DataLoader(Probe(4), batch_size=2, num_workers=1, generator=g))
    assert int(c[0]["seed"][0]) == int(numpy.random.default_rng(3).integers(2 ** 63))


def _init(worker_id):
    nnlite.manual_seed(1000 + worker_id)


def _bad_init(worker_id):
    raise OSError(f"init failed in {worker_id}")


def test_worker_init_fn():
    out = list(DataLoader(Probe(4), batch_size=1, num_workers=2, worker_init_fn=_init))
    nnlite.manual_seed(1000)
    first = nnlite.rand(1).item()
    assert out[0]["draw"].item() == pytest.approx(first)
    with pytest.raises(OSError, match="Caught OSError in DataLoader worker process 0") as info:
        list(DataLoader(Probe(4), num_workers=1, worker_init_fn=_bad_init))
    del info  # its traceback holds the iterator; the workers stop when the iterator goes
    gc.collect()
    assert _children() == []


def test_worker_exception_reraised_with_traceback():
    with pytest.raises(ValueError) as info:
        list(DataLoader(Probe(6, fail_at=3), batch_size=2, num_workers=2))
    msg = str(info.value)
    assert msg.startswith("Caught ValueError in DataLoader worker process 1.\nOriginal Traceback (most recent "
                          "call last):")
    assert "in __getitem__" in msg and "ValueError: bad sample 3" in msg
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 0") as info:
        list(DataLoader(Probe(2, fail_at=0, exc=KeyError), num_workers=1))
    del info
    gc.collect()
    assert _children() == []


def test_timeout_and_clean_shutdown_on_break():
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.3 seconds") as info:
        list(DataLoader(Probe(2, sleep=1.0), num_workers=1, timeout=0.3))
    del info
    gc.collect()
    assert _children() == []
    it = iter(DataLoader(Probe(20), batch_size=2, num_workers=2))
    next(it)
    assert len(_children()) == 2
    del it
    gc.collect()
    assert _children() == []


class Dies(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        os._exit(3)


def test_dead_worker_is_reported():
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(DataLoader(Dies(), num_workers=1))
    assert _children() == []


def test_persistent_workers_survive_epochs():
    loader = DataLoader(Probe(6), batch_size=2, num_workers=2, persistent_workers=True, prefetch_factor=1)
    pids = [{int(b["pid"][0]) for b in loader} for _ in range(3)]
    assert pids[0] == pids[1] == pids[2] and len(pids[0]) == 2
    it = iter(loader)
    next(it)                                   # an unfinished epoch: the next one starts cleanly
    assert [b["i"].tolist() for b in loader] == [[0, 1], [2, 3], [4, 5]]
    assert len(_children()) == 2
    del loader, it
    gc.collect()
    assert _children() == []


def test_openmp_kernels_in_forked_workers_do_not_hang():
    # the parent starts OpenMP threads (a conv large enough for several), then forks workers that run kernels
    code = textwrap.dedent("""
        import numpy, nnlite
        from nnlite.utils.data import DataLoader, Dataset
        nnlite.set_num_threads(2)
        conv = nnlite.nn.Conv1d(8, 8, 5, padding=2)
        with nnlite.no_grad():
            conv(numpy.ones((16, 8, 4096), numpy.float32))
        class D(Dataset):
            def __len__(self): return 4
            def __getitem__(self, i):
                with nnlite.no_grad():
                    return conv(numpy.ones((16, 8, 4096), numpy.float32)).sum().item()
        out = [b.tolist() for b in DataLoader(D(), batch_size=2, num_workers=2)]
        ref = [b.tolist() for b in DataLoader(D(), batch_size=2)]
        assert out == ref, (out, ref)
        print("ok", nnlite.get_num_threads())
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ok", "2"]   # the parent keeps its own thread count


def test_spawn_context():
    X = numpy.arange(8, dtype=numpy.float32).reshape(4, 2)
    out = [b[0].tolist() for b in DataLoader(TensorDataset(X), batch_size=2, num_workers=1,
                                             multiprocessing_context="spawn")]
    assert out == [[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0], [6.0, 7.0]]]


def test_new_argument_errors_and_pin_memory():
    ds = list(range(4))
    with pytest.raises(ValueError, match="num_workers option should be non-negative; use num_workers=0 to disable "
                                         "multiprocessing."):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(ds, timeout=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified in multiprocessing"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive with batch_size, shuffle"):
        DataLoader(ds, batch_size=2, batch_sampler=[[0]])
    assert DataLoader(ds, num_workers=1).prefetch_factor == 2
    assert [b.tolist() for b in DataLoader(ds, batch_size=2, pin_memory=True)] == [[0, 1], [2, 3]]


def test_subset_and_random_split_match_torch_lengths():
    torch = pytest.importorskip("torch")
    for n, lengths in [(10, [0.7, 0.2, 0.1]), (11, [0.5, 0.5]), (7, [0.3, 0.3, 0.4]), (10, [3, 7]), (5, [1.0])]:
        ours = [len(s) for s in random_split(range(n), lengths)]
        theirs = [len(s) for s in torch.utils.data.random_split(range(n), lengths)]
        assert ours == theirs, (n, lengths)
    nnlite.manual_seed(0)
    parts = random_split(range(10), [0.5, 0.5])
    assert sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    nnlite.manual_seed(0)
    assert list(random_split(range(10), [0.5, 0.5])[0]) == list(parts[0])
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the input dataset!"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 2 is not between 0 and 1"):
        random_split(range(10), [0.5, 0.5, 1.5, -1.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(2), [0.9, 0.1])
    s = Subset(TensorDataset(numpy.arange(5)), [4, 2])
    assert len(s) == 2 and s[0][0].item() == 4 and [b[0].tolist() for b in DataLoader(s, batch_size=2)] == [[4, 2]]
    assert len(s + s) == 4


def test_generator_drives_shuffle_split_and_worker_seeds():
    torch = pytest.importorskip("torch")
    assert isinstance(torch.Generator().manual_seed(1), torch.Generator)  # the PyTorch idiom being mirrored
    g = nnlite.Generator().manual_seed(7)
    assert g.initial_seed() == 7
    order = [b.tolist() for b in DataLoader(list(range(6)), batch_size=3, shuffle=True, generator=g)]
    again = [b.tolist() for b in DataLoader(list(range(6)), batch_size=3, shuffle=True,
                                            generator=nnlite.Generator().manual_seed(7))]
    assert order == again and sorted(sum(order, [])) == list(range(6))
    s1 = random_split(range(8), [0.5, 0.5], generator=nnlite.Generator().manual_seed(3))
    s2 = random_split(range(8), [0.5, 0.5], generator=nnlite.Generator().manual_seed(3))
    assert s1[0].indices == s2[0].indices
    state = g.get_state()
    a = g.random()
    g.set_state(state)
    assert g.random() == a
    loader = DataLoader(Probe(2), num_workers=1, generator=nnlite.Generator().manual_seed(5))
    seeds = [int(b["seed"][0]) for b in loader]
    assert seeds[0] == seeds[1]
    with pytest.raises(RuntimeError, match="nnlite.Generator is a CPU generator"):
        nnlite.Generator("cuda")
