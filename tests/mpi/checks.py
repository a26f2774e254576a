"""Checks of nnlite.distributed run under ``mpiexec -n N`` (tests/test_distributed.py starts it).

Every rank runs every check; rank 0 prints one line ``NNLITE_RESULTS {json}`` mapping each check's name
to "ok" or the failure on the first rank that failed, plus ``threads`` (each rank's kernel threads).
Usage: mpiexec -n N python tests/mpi/checks.py WORKDIR
"""
import copy
import json
import os
import sys
import traceback

import numpy

import nnlite
import nnlite.distributed as dist
from nnlite import nn
from nnlite.nn.parallel import DistributedDataParallel as DDP
from nnlite.optim import Adam
from nnlite.utils.data import DataLoader, TensorDataset
from nnlite.utils.data.distributed import DistributedSampler

dist.init_process_group("mpi")
RANK, WORLD = dist.get_rank(), dist.get_world_size()
WORKDIR = sys.argv[1]
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def same_on_all_ranks(arrays):
    """True when every rank holds bitwise the same arrays."""
    mine = [numpy.ascontiguousarray(a).tobytes() for a in arrays]
    everyone = [None] * WORLD
    dist.all_gather_object(everyone, mine)
    return all(e == everyone[0] for e in everyone)


def raises_everywhere(fn, words):
    try:
        fn()
    except RuntimeError as e:
        for w in words:
            assert w in str(e), f"{w!r} not in {str(e)!r}"
        return
    raise AssertionError(f"rank {RANK}: no RuntimeError")


@check
def collectives():
    t = nnlite.full((2, 3), float(RANK + 1))
    dist.all_reduce(t)
    assert t.tolist() == [[WORLD * (WORLD + 1) / 2] * 3] * 2, t.tolist()
    t = nnlite.full((3,), float(RANK + 1))
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    assert t.tolist() == [(WORLD + 1) / 2] * 3
    t = nnlite.tensor([RANK, -RANK], dtype=nnlite.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    assert t.tolist() == [WORLD - 1, 0]
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    assert t.tolist() == [WORLD - 1, 0]
    t = nnlite.tensor([RANK, -RANK], dtype=nnlite.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    assert t.tolist() == [0, -(WORLD - 1)]
    t = nnlite.tensor([RANK, 2 * RANK], dtype=nnlite.int32)
    dist.all_reduce(t)
    assert t.tolist() == [WORLD * (WORLD - 1) // 2, WORLD * (WORLD - 1)] and t.dtype == nnlite.int32
    # broadcast into a non-contiguous view, from the last rank
    base = nnlite.zeros(4, 3)
    view = base.transpose(0, 1)
    view._data[...] = RANK
    dist.broadcast(view, src=WORLD - 1)
    assert (base.numpy() == WORLD - 1).all()
    outs = [nnlite.zeros(2) for _ in range(WORLD)]
    dist.all_gather(outs, nnlite.tensor([RANK, 10.0 * RANK]))
    assert [o.tolist() for o in outs] == [[r, 10.0 * r] for r in range(WORLD)]
    objs = [None] * WORLD
    dist.all_gather_object(objs, {"rank": RANK})
    assert objs == [{"rank": r} for r in range(WORLD)]
    dist.barrier()


@check
def ordered_sum_is_bitwise():
    # every rank can make every rank's data: the sum must equal adding them one after another
    data = [numpy.random.default_rng(r).standard_normal(10007).astype(numpy.float32) * 10 ** r
            for r in range(WORLD)]
    t = nnlite.tensor(data[RANK].copy())
    dist.all_reduce(t)
    ref = data[0].copy()
    for d in data[1:]:
        ref += d
    assert t.numpy().tobytes() == ref.tobytes()
    t = nnlite.tensor(data[RANK].copy())
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    assert t.numpy().tobytes() == (ref / WORLD).tobytes()


@check
def mismatches_raise_on_every_rank():
    last = RANK == WORLD - 1
    raises_everywhere(lambda: dist.all_reduce(nnlite.zeros(4 if last else 3)),
                      ["differ across ranks", "rank 0 has shape [3] float32", f"rank {WORLD - 1} has shape [4]"])
    raises_everywhere(lambda: dist.broadcast(nnlite.zeros(3, dtype=nnlite.float64 if last else nnlite.float32)),
                      ["differ across ranks", "float64"])
    raises_everywhere(lambda: dist.all_gather([nnlite.zeros(2)] * (1 if last else WORLD), nnlite.zeros(2)),
                      [f"rank {WORLD - 1}", "tensor_list should be a list of"])
    raises_everywhere(lambda: dist.all_reduce(nnlite.zeros(2, dtype=nnlite.int64), op=dist.ReduceOp.AVG),
                      ["ReduceOp.AVG needs a floating point tensor"])
    t = nnlite.ones(2)   # the group still works after the errors
    dist.all_reduce(t)
    assert t.tolist() == [WORLD, WORLD]


def small_net(seed=None, out=3, bn=True):
    if seed is not None:
        nnlite.manual_seed(seed)
    layers = [nn.Conv1d(2, 6, 3, padding=1)]
    if bn:
        layers.append(nn.BatchNorm1d(6))
    layers += [nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(6, out)]
    return nn.Sequential(*layers)


def dataset(n=24, length=16, seed=7):
    rng = numpy.random.default_rng(seed)
    return rng.standard_normal((n, 2, length)).astype(numpy.float32), rng.integers(0, 3, n)


@check
def ddp_construction_broadcasts_rank0():
    net = small_net(seed=RANK)   # different on every rank
    ref = small_net(seed=0)
    m = DDP(net)
    assert m.module is net
    for (k, a), (_, b) in zip(net.state_dict().items(), ref.state_dict().items()):
        assert a.numpy().tobytes() == b.numpy().tobytes(), k
    keys = list(m.state_dict())
    assert keys[0] == "module.0.weight" and all(k.startswith("module.") for k in keys), keys


@check
def ddp_layout_mismatch_raises_on_every_rank():
    last = RANK == WORLD - 1
    raises_everywhere(lambda: DDP(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 5 if last else 2))),
                      ["differ across ranks", "'1.weight'", "shape [2, 4] float32", f"rank {WORLD - 1}",
                       "shape [5, 4]"])
    raises_everywhere(lambda: DDP(nn.Linear(3, 4, bias=not last)), ["'bias'", "nothing there"])


def reference_steps(X, y, steps, batch, sampler_seed, cap_mb):
    """DDP run and a one-process replay of all ranks' shards; returns (ddp model, opt, reference, ref opt)."""
    net = small_net(seed=3)
    ref = copy.deepcopy(net)
    model = DDP(net, bucket_cap_mb=cap_mb)
    opt, ref_opt = Adam(model.parameters(), lr=0.01), Adam(ref.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    samplers = [DistributedSampler(range(len(X)), WORLD, r, seed=sampler_seed) for r in range(WORLD)]
    for epoch in range(steps):
        for s in samplers:
            s.set_epoch(epoch)
        shards = [numpy.array(list(s))[:batch] for s in samplers]
        idx = shards[RANK]
        loss = loss_fn(model(X[idx]), nnlite.tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        # the reference: each rank's shard gradient in turn, then their mean, added in rank order
        grads = []
        for r in range(WORLD):
            ref_opt.zero_grad()
            loss_fn(ref(X[shards[r]]), nnlite.tensor(y[shards[r]])).backward()
            grads.append([p.grad.numpy().copy() for p in ref.parameters()])
        for i, p in enumerate(ref.parameters()):
            total = grads[0][i].copy()
            for g in grads[1:]:
                total += g[i]
            p.grad = nnlite.tensor(total / WORLD)
        ref_opt.step()
    return model, opt, ref, ref_opt


@check
def ddp_bitwise_equal_to_one_process():
    X, y = dataset()
    for cap in (25, 1e-5):   # one bucket per dtype; then one bucket per parameter
        model, opt, ref, ref_opt = reference_steps(X, y, 3, 4, 11, cap)
        if cap < 1:
            assert len(model._buckets) == len(list(model.parameters())), len(model._buckets)
        else:
            assert len(model._buckets) == 1
        for (k, a), (_, b) in zip(model.module.state_dict().items(), ref.state_dict().items()):
            if "running" in k or "num_batches" in k:
                continue   # rank 0's buffers are broadcast at each forward; the replay keeps its own
            assert a.numpy().tobytes() == b.numpy().tobytes(), (cap, k, float(abs(a - b).max()))
        params = [p.detach().numpy() for p in model.parameters()]
        state = [v.numpy() for s in opt.state.values() for v in s.values()]
        assert same_on_all_ranks(params + state)


class TwoBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 2)
        self.b = nn.Linear(3, 2)
        self.never = nn.Linear(3, 2)

    def forward(self, x, use_b):
        return self.a(x) + self.b(x) if use_b else self.a(x)


@check
def ddp_unused_parameters_count_as_zero():
    nnlite.manual_seed(5)
    model = DDP(TwoBranch())
    x = nnlite.tensor(numpy.full((2, 3), RANK + 1.0, numpy.float32))
    use_b = RANK == WORLD - 1
    model(x, use_b).sum().backward()
    inner = model.module
    assert inner.never.weight.grad is None and inner.never.bias.grad is None
    # b's gradient exists on the last rank only: sum of x over the batch there, divided by the world size
    gb = numpy.full((2, 3), 2 * WORLD, numpy.float32) / WORLD
    assert inner.b.weight.grad.numpy().tobytes() == gb.tobytes(), inner.b.weight.grad.tolist()
    assert inner.b.bias.grad.numpy().tobytes() == (numpy.full(2, 2, numpy.float32) / WORLD).tobytes()
    ga = numpy.zeros((2, 3), numpy.float32)
    for r in range(WORLD):
        ga += 2 * (r + 1.0)
    assert inner.a.weight.grad.numpy().tobytes() == (ga / WORLD).tobytes()


@check
def ddp_no_sync_accumulates_locally():
    nnlite.manual_seed(5)
    model = DDP(nn.Linear(3, 1, bias=False))
    w = model.module.weight
    xs = [nnlite.tensor(numpy.full((1, 3), 10.0 * r + k, numpy.float32)) for r in range(WORLD) for k in range(3)]
    mine = xs[3 * RANK:3 * RANK + 3]
    with model.no_sync():
        model(mine[0]).sum().backward()
        model(mine[1]).sum().backward()
    assert w.grad.numpy().tobytes() == (mine[0].numpy() + mine[1].numpy()).tobytes()
    model(mine[2]).sum().backward()
    total = numpy.zeros((1, 3), numpy.float32)
    for r in range(WORLD):
        total += (xs[3 * r].numpy() + xs[3 * r + 1].numpy()) + xs[3 * r + 2].numpy()
    assert w.grad.numpy().tobytes() == (total / WORLD).tobytes(), (w.grad.tolist(), (total / WORLD).tolist())


@check
def syncbatchnorm_matches_batchnorm_on_the_whole_batch():
    for dtype, tol in ((numpy.float64, 1e-12), (numpy.float32, 2e-5)):
        rng = numpy.random.default_rng(0)
        sizes = [3 + r for r in range(WORLD)]   # ranks hold different batch sizes
        X = rng.standard_normal((sum(sizes), 3, 5)).astype(dtype) * 2 + 1
        C = rng.standard_normal(X.shape).astype(dtype)
        lo = sum(sizes[:RANK])
        mine = slice(lo, lo + sizes[RANK])
        bn = nn.BatchNorm1d(3, dtype=dtype)
        with nnlite.no_grad():
            bn.weight.copy_(nnlite.tensor(numpy.array([1.5, -0.5, 2.0], dtype)))
            bn.bias.copy_(nnlite.tensor(numpy.array([0.1, 0.2, -0.3], dtype)))
        sbn = nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(bn))
        assert type(sbn) is nn.SyncBatchNorm
        xs = nnlite.tensor(X[mine], requires_grad=True)
        for _ in range(2):
            ys = sbn(xs)
        (ys * nnlite.tensor(C[mine])).sum().backward()
        xf = nnlite.tensor(X, requires_grad=True)
        for _ in range(2):
            yf = bn(xf)
        (yf * nnlite.tensor(C)).sum().backward()
        numpy.testing.assert_allclose(ys.detach().numpy(), yf.detach().numpy()[mine], rtol=tol, atol=tol)
        numpy.testing.assert_allclose(xs.grad.numpy(), xf.grad.numpy()[mine], rtol=tol, atol=tol)
        for name in ("weight", "bias"):   # local gradients: their sum over ranks is the whole batch's
            g = getattr(sbn, name).grad.clone()
            dist.all_reduce(g)
            numpy.testing.assert_allclose(g.numpy(), getattr(bn, name).grad.numpy(), rtol=tol, atol=tol)
        for name in ("running_mean", "running_var"):
            a, b = getattr(sbn, name).numpy(), getattr(bn, name).numpy()
            numpy.testing.assert_allclose(a, b, rtol=tol, atol=tol)
        assert int(sbn.num_batches_tracked) == 2
        assert same_on_all_ranks([sbn.running_mean.numpy(), sbn.running_var.numpy()])
        sbn.eval()   # eval: the running statistics, no communication
        ye, yf = sbn(xs).detach().numpy(), bn.eval()(xf).detach().numpy()[mine]
        numpy.testing.assert_allclose(ye, yf, rtol=tol, atol=tol)
    last = RANK == WORLD - 1
    raises_everywhere(lambda: nn.SyncBatchNorm(4 if last else 3)(nnlite.randn(2, 4 if last else 3, 5)),
                      ["SyncBatchNorm", "differ across ranks"])


@check
def sampler_defaults_to_the_group():
    s = DistributedSampler(range(10), shuffle=False)
    assert (s.num_replicas, s.rank) == (WORLD, RANK)
    parts = [None] * WORLD
    dist.all_gather_object(parts, list(s))
    assert sorted(set(i for p in parts for i in p)) == list(range(10))
    assert all(len(p) == -(-10 // WORLD) for p in parts)


def train(model, opt, loader, sampler, epochs, start=0):
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(start, epochs):
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()


def run_pieces(X, y):
    net = nn.Sequential(small_net(seed=1), nn.Dropout(0.3))
    model = DDP(net)
    nnlite.manual_seed(100 + RANK)   # each rank its own dropout masks
    opt = Adam(model.parameters(), lr=0.01)
    sampler = DistributedSampler(TensorDataset(X, y), seed=4)
    loader = DataLoader(TensorDataset(X, y), batch_size=4, sampler=sampler)
    return model, opt, sampler, loader


@check
def checkpoint_resume_is_bitwise():
    X, y = dataset()
    model, opt, sampler, loader = run_pieces(X, y)
    train(model, opt, loader, sampler, 3)
    whole = [t.numpy().copy() for t in model.module.state_dict().values()]
    path = os.path.join(WORKDIR, "ckpt.nnl")
    model, opt, sampler, loader = run_pieces(X, y)
    train(model, opt, loader, sampler, 1)
    rngs = [None] * WORLD
    dist.all_gather_object(rngs, nnlite.get_rng_state())
    if RANK == 0:
        nnlite.save({"model": model.module.state_dict(), "optimizer": opt.state_dict(), "epoch": 1,
                     "rng": {str(r): s for r, s in enumerate(rngs)}}, path)
    dist.barrier()
    nnlite.manual_seed(12345)   # resume into fresh objects made from other weights
    model = DDP(nn.Sequential(small_net(), nn.Dropout(0.3)))
    opt = Adam(model.parameters(), lr=0.01)
    sampler = DistributedSampler(TensorDataset(X, y), seed=4)
    loader = DataLoader(TensorDataset(X, y), batch_size=4, sampler=sampler)
    ckpt = nnlite.load(path)
    model.module.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    nnlite.set_rng_state(ckpt["rng"][str(RANK)])
    train(model, opt, loader, sampler, 3, start=ckpt["epoch"])
    resumed = [t.numpy() for t in model.module.state_dict().values()]
    assert all(a.tobytes() == b.tobytes() for a, b in zip(whole, resumed))
    # parameters agree across ranks; buffers are rank 0's at each forward and then each rank's own
    assert same_on_all_ranks([p.detach().numpy() for p in model.parameters()])


@check
def fast_mode_uses_allreduce():
    dist.destroy_process_group()
    dist.init_process_group("mpi", deterministic=False)
    try:
        data = [numpy.random.default_rng(r).standard_normal(1001) for r in range(WORLD)]
        t = nnlite.tensor(data[RANK].copy())
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        numpy.testing.assert_allclose(t.numpy(), sum(data) / WORLD, rtol=1e-12, atol=1e-12)
        model = DDP(small_net(seed=3))
        model(dataset()[0][:4]).sum().backward()
        assert same_on_all_ranks([p.grad.numpy() for p in model.parameters()])   # MPICH: same bits, not promised
    finally:
        dist.destroy_process_group()
        dist.init_process_group("mpi")


results = {}
for fn in CHECKS:
    try:
        fn()
        status = "ok"
    except Exception as e:  # report, and go on with the next check
        status = f"rank {RANK}: {type(e).__name__}: {e}\n{traceback.format_exc()}"
    everyone = [None] * WORLD
    dist.all_gather_object(everyone, status)
    results[fn.__name__] = next((s for s in everyone if s != "ok"), "ok")
threads = [None] * WORLD
dist.all_gather_object(threads, nnlite.get_num_threads())
results["threads"] = threads
if RANK == 0:
    print("NNLITE_RESULTS " + json.dumps(results), flush=True)
dist.destroy_process_group()
