"""nnlite.dask.predict: chunked inference equals the whole-signal answer, on dask's threaded scheduler and on
a real dask.distributed LocalCluster; modules pickle; ``import nnlite`` leaves dask alone."""
import os
import pickle
import subprocess
import sys
import warnings

import numpy
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nnlite
from nnlite import nn

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
from nnlite.dask import predict  # noqa: E402

RNG = numpy.random.default_rng(0)


def _whole(net, x):
    was = net.training
    net.eval()
    try:
        with nnlite.no_grad():
            return net(x).numpy()
    finally:
        net.train(was)


def _signal(*shape, dtype=numpy.float32):
    return RNG.standard_normal(shape).astype(dtype)


def _row_kernel_many_taps(net):
    # the one CPU kernel path that is not bitwise chunk-invariant (docs/dask.md): the single-row conv kernel
    # (<= 2 output channels per group) with more than 28 taps (in_channels / groups * kernel_size) sums its
    # taps in blocks of 28, except in a row's last, shifted tile
    return any(isinstance(m, nn.Conv1d) and m.out_channels // m.groups <= 2
               and m.in_channels // m.groups * m.kernel_size[0] > 28 for m in net.modules())


def _assert_matches(y, ref, net):
    assert y.shape == ref.shape and y.dtype == ref.dtype
    # Linear is numpy's matmul: BLAS picks its kernel by the batch size, so its bits follow the batch chunk
    exact = not _row_kernel_many_taps(net) and not any(isinstance(m, nn.Linear) for m in net.modules())
    if y.dtype == numpy.float32 and exact:
        numpy.testing.assert_array_equal(y, ref)
    else:
        tol = 1e-6 if y.dtype == numpy.float32 else 1e-14
        assert numpy.abs(y - ref).max() <= tol * numpy.abs(ref).max()


# ---------------------------------------------------------------- random nets, random chunks
@st.composite
def _nets(draw):
    c = draw(st.sampled_from([1, 3, 4]))
    first = c
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "conv", "conv", "pool", "pointwise"]))
        if kind == "conv":
            out = draw(st.sampled_from([1, 2, 4, 8]))
            groups = draw(st.sampled_from([g for g in (1, 2, 4) if c % g == 0 and out % g == 0]))
            k = draw(st.integers(1, 9))
            padding = draw(st.one_of(st.integers(0, 5), st.sampled_from(["same", "valid"])))
            stride = 1 if padding == "same" else draw(st.integers(1, 3))
            mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate"]))
            layers.append(nn.Conv1d(c, out, k, stride=stride, padding=padding, dilation=draw(st.integers(1, 3)),
                                    groups=groups, padding_mode=mode))
            c = out
        elif kind == "pool":
            k = draw(st.integers(1, 4))
            stride, pad, ceil = draw(st.integers(1, 3)), draw(st.integers(0, k // 2)), draw(st.booleans())
            if draw(st.booleans()):
                layers.append(nn.MaxPool1d(k, stride, pad, dilation=draw(st.integers(1, 2)), ceil_mode=ceil))
            else:
                layers.append(nn.AvgPool1d(k, stride, pad, ceil_mode=ceil, count_include_pad=draw(st.booleans())))
        else:
            layers.append(draw(st.sampled_from([nn.ReLU(), nn.GELU(), nn.Tanh(), nn.Softmax(dim=1)])))
            if draw(st.booleans()):
                bn = nn.BatchNorm1d(c)
                bn.running_mean.data = nnlite.tensor(RNG.standard_normal(c).astype(numpy.float32))
                layers.append(bn)
    return first, nn.Sequential(*layers)


@pytest.mark.filterwarnings("ignore:nnlite.dask.predict")  # (C, L) with Softmax(dim=1)
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(_nets(), st.integers(0, 2), st.lists(st.integers(1, 90), min_size=1, max_size=6), st.booleans())
def test_random_nets_and_chunks_match_whole_signal(net_c, n_split, cuts, batched):
    c, net = net_c
    rf = nn.utils.receptive_field(net.eval())
    length = 60 + 3 * (rf.left + max(rf.right, 0)) + sum(cuts)
    x = _signal(3, c, length) if batched else _signal(c, length)
    chunks_l = tuple(cuts) + (length - sum(cuts),)
    chunks = (((1, 2), (1, 1, 1), (3,))[n_split], (c,), chunks_l) if batched else ((c,), chunks_l)
    try:
        ref = _whole(net, x)
    except (RuntimeError, ValueError):
        return  # too short for a reflect padding, or an empty output: nothing to compare
    y = predict(net, da.from_array(x, chunks=chunks))
    assert y.shape == ref.shape
    _assert_matches(y.compute(scheduler="threads"), ref, net)


# ---------------------------------------------------------------- chunk layout
def test_chunks_move_to_the_stride_and_small_ones_merge():
    net = nn.Sequential(nn.Conv1d(2, 4, 5, stride=2, padding=2), nn.ReLU(), nn.Conv1d(4, 3, 3, stride=2))
    assert nn.utils.receptive_field(net) == (2, 6, 4)
    x = _signal(5, 2, 203)
    # halo: left 2 -> 4 (a multiple of the stride), right 6; smallest chunk 4 + 6 + 4 = 14
    y = predict(net, da.from_array(x, chunks=(2, 1, (50, 3, 3, 57, 90))))
    # input boundaries 50 -> 48, 53 and 56 too close to 48, 113 -> 112, last 91 >= 14
    assert y.chunks == ((2, 2, 1), (3,), (12, 16, 22))
    assert sum(y.chunks[-1]) == _whole(net, x).shape[-1] == 50
    _assert_matches(y.compute(), _whole(net, x), net)
    tiny = predict(net, da.from_array(x, chunks=(5, 2, 7)))          # every chunk below the halo
    assert all(c >= 3 for c in tiny.chunks[-1][:-1])
    _assert_matches(tiny.compute(), _whole(net, x), net)


def test_one_chunk_shorter_than_the_halo_and_outputs_beyond_the_input():
    net = nn.Conv1d(1, 3, 1, padding=4)                               # 8 more outputs than inputs
    x = _signal(2, 1, 9)
    _assert_matches(predict(net, da.from_array(x, chunks=(1, 1, 2))).compute(), _whole(net, x), net)
    shrink = nn.Conv1d(1, 3, 9)                                       # a single output
    y = predict(shrink, da.from_array(x, chunks=(1, 1, 3)))
    assert y.shape == (2, 3, 1)
    _assert_matches(y.compute(), _whole(shrink, x), shrink)


def test_empty_batch():
    net = nn.Conv1d(2, 3, 3, padding=1)
    y = predict(net, da.from_array(numpy.zeros((0, 2, 40), numpy.float32), chunks=(1, 2, 10)))
    assert y.shape == (0, 3, 40) and y.compute().shape == (0, 3, 40)


def test_float64_model():
    net = nn.Sequential(nn.Conv1d(3, 16, 7, padding=3, dtype=nnlite.float64), nn.ReLU(),
                        nn.Conv1d(16, 16, 5, dilation=2, dtype=nnlite.float64))
    x = _signal(2, 3, 777, dtype=numpy.float64)
    y = predict(net, da.from_array(x, chunks=(1, 3, 100))).compute()
    _assert_matches(y, _whole(net, x), net)


def test_row_kernel_with_many_taps_is_within_tolerance():
    net = nn.Conv1d(8, 1, 9, padding=4)                               # 72 taps, one output channel
    x = _signal(2, 8, 3001)
    y = predict(net, da.from_array(x, chunks=(1, 8, 701))).compute()
    ref = _whole(net, x)
    assert numpy.abs(y - ref).max() <= 1e-6 * numpy.abs(ref).max()


# ---------------------------------------------------------------- models that are not local
def _classifier():
    return nn.Sequential(nn.Conv1d(2, 8, 5), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(8, 3))


def test_global_head_maps_over_the_batch():
    net = _classifier()
    x = _signal(7, 2, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = predict(net, da.from_array(x, chunks=(3, 2, 64)))
    assert y.chunks == ((3, 3, 1), (3,))
    _assert_matches(y.compute(), _whole(net, x), net)
    features = net[:3]                                                # no Linear: bitwise
    numpy.testing.assert_array_equal(predict(features, da.from_array(x, chunks=(3, 2, 64))).compute(),
                                     _whole(features, x))


def test_global_head_merges_a_split_length_with_a_warning():
    net = _classifier()
    x = _signal(4, 2, 64)
    with pytest.warns(UserWarning, match=r"not local along the length \(receptive_field: layer '2' "
                                         r"\(AdaptiveAvgPool1d\(output_size=1\)\).*merged into one chunk"):
        y = predict(net, da.from_array(x, chunks=(2, 1, 16)))
    _assert_matches(y.compute(), _whole(net, x), net)
    single = nn.Sequential(nn.Conv1d(2, 8, 5), nn.AdaptiveMaxPool1d(1), nn.Flatten(0), nn.Linear(8, 3))
    with pytest.warns(UserWarning, match="merged into one chunk"):
        one = predict(single, da.from_array(x[0], chunks=(2, 20)))   # unbatched (C, L)
    assert one.shape == (3,)
    _assert_matches(one.compute(), _whole(single, x[0]), single)


def test_circular_padding_merges_the_length():
    net = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1, padding_mode="circular"), nn.Conv1d(4, 4, 3))
    x = _signal(2, 2, 50)
    with pytest.warns(UserWarning, match="layer '0' pads circularly"):
        y = predict(net, da.from_array(x, chunks=(1, 2, 10)))
    numpy.testing.assert_array_equal(y.compute(), _whole(net, x))


# ---------------------------------------------------------------- the model itself
def test_callers_model_is_left_in_training_mode_and_untouched():
    net = nn.Sequential(nn.Conv1d(2, 4, 3), nn.BatchNorm1d(4), nn.Dropout(0.5))
    before = {k: v.numpy(force=True).copy() for k, v in net.state_dict().items()}
    x = _signal(3, 2, 80)
    y = predict(net, da.from_array(x, chunks=(1, 2, 20))).compute()
    assert net.training and all(m.training for m in net.modules())
    assert all(numpy.array_equal(before[k], v.numpy(force=True)) for k, v in net.state_dict().items())
    numpy.testing.assert_array_equal(y, _whole(net, x))               # eval mode: no dropout, running stats


def test_bad_input():
    net = nn.Conv1d(2, 2, 3)
    with pytest.raises(TypeError, match="expects a dask array, but got ndarray"):
        predict(net, numpy.zeros((1, 2, 8)))
    with pytest.raises(ValueError, match=r"shape \(N, C, L\) or \(C, L\), but got shape \(1, 1, 2, 8\)"):
        predict(net, da.zeros((1, 1, 2, 8)))
    with pytest.raises(ValueError, match="num_threads must be a positive int or None, but got 0"):
        predict(net, da.zeros((1, 2, 8)), num_threads=0)
    unknown = da.zeros((4, 2, 8), chunks=(2, 2, 8))
    unknown = unknown[unknown[:, 0, 0] == 0]
    with pytest.raises(ValueError, match="needs known chunk sizes"):
        predict(net, unknown)
    with pytest.raises(ValueError, match="turned a 3-D input into a 2-D output, but a model local along the length"):
        predict(_Squeeze(), da.zeros((1, 2, 8)))


class _Squeeze(nn.Module):
    """Claims to be pointwise, but drops a dimension."""

    def forward(self, x):
        return x.sum(1)

    def receptive_field(self):
        return (0, 0, 1)


class _Threads(nn.Module):
    """Pointwise: every output is the number of threads the kernels were given in this task."""

    def forward(self, x):
        return x * 0 + nnlite.get_num_threads()

    def receptive_field(self):
        return (0, 0, 1)


def _have_openmp():
    from nnlite._kernels import _openmp
    return _openmp.have_openmp()


@pytest.mark.skipif(not _have_openmp(), reason="kernels built without OpenMP: one thread always")
def test_threads_on_the_threaded_scheduler():
    x = da.zeros((2, 1, 10), chunks=(1, 1, 10), dtype=numpy.float32)
    with dask.config.set(scheduler="threads", num_workers=1):
        assert set(numpy.unique(predict(_Threads(), x, num_threads=2).compute())) == {2}
        old = nnlite.get_num_threads()
        nnlite.set_num_threads(1)
        try:
            assert set(numpy.unique(predict(_Threads(), x).compute())) == {1}
        finally:
            nnlite.set_num_threads(old)


# ---------------------------------------------------------------- pickling
def test_module_pickle_round_trip_keeps_parameters_buffers_and_modes():
    conv = nn.Conv1d(4, 4, 3, padding=1)
    net = nn.Sequential(conv, nn.BatchNorm1d(4), nn.ReLU(), conv)        # tied: the same Conv1d twice
    net[0].weight = nn.Parameter(net[0].weight.detach(), requires_grad=True)
    net[0].bias.requires_grad_(False)
    net[1].register_buffer("scratch", nnlite.ones(2), persistent=False)
    net(_signal(8, 4, 16))                                                 # running statistics move
    net[1].eval()
    clone = pickle.loads(pickle.dumps(net))
    assert clone[0] is clone[3] and clone[0] is not conv
    assert type(clone[0].weight) is nn.Parameter and clone[0].weight.requires_grad
    assert not clone[0].bias.requires_grad
    assert clone.training and not clone[1].training
    assert list(clone.state_dict()) == list(net.state_dict())
    for k, v in net.state_dict().items():
        w = clone.state_dict()[k]
        assert w.dtype == v.dtype and numpy.array_equal(w.numpy(force=True), v.numpy(force=True))
    assert numpy.array_equal(clone[1].scratch.numpy(), numpy.ones(2, numpy.float32))
    assert int(clone[1].num_batches_tracked) == 1
    x = _signal(2, 4, 16)
    with nnlite.no_grad():
        assert numpy.array_equal(clone(x).numpy(), net(x).numpy())


def test_import_nnlite_does_not_import_dask():
    code = ("import sys, nnlite, nnlite.dask, nnlite.nn.utils; "
            "bad = [m for m in ('dask', 'distributed', 'zarr') if m in sys.modules]; print(bad); "
            "assert not bad")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    # without dask (its import blocked), nnlite.dask still imports and predict names the extra
    code = ("import sys; sys.modules['dask'] = None; import nnlite.dask, nnlite.nn\n"
            "try:\n    nnlite.dask.predict(nnlite.nn.ReLU(), None)\n"
            "except ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "nnlite.dask needs dask: pip install nnlite[dask]" in out.stdout, out.stderr


# ---------------------------------------------------------------- a real dask.distributed cluster
class _Counted(nn.Conv1d):
    """A Conv1d that logs each pickling (in this process) and unpickling (with the process id) to a file."""

    def __getstate__(self):
        with open(self.log, "a") as f:
            f.write(f"get {os.getpid()}\n")
        return dict(self.__dict__)

    def __setstate__(self, state):
        super().__setstate__(state)
        with open(self.log, "a") as f:
            f.write(f"set {os.getpid()}\n")


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    import cloudpickle
    # the workers cannot import this test file: its classes travel by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None) as lc, distributed.Client(lc) as client:
        yield client
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_distributed_matches_and_ships_the_model_once(cluster, tmp_path):
    log = tmp_path / "pickles.log"
    conv = _Counted(3, 8, 7, stride=2, padding=3)
    conv.log = str(log)
    net = nn.Sequential(conv, nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(8, 4, 3, padding=1))
    x = _signal(2, 3, 4000)
    log.write_text("")
    y = predict(net, da.from_array(x, chunks=(1, 3, 1000)))
    assert y.npartitions == 8
    out = cluster.compute(y).result()
    _assert_matches(out, _whole(net, x), net)
    events = [line.split() for line in log.read_text().splitlines()]
    worker_loads = [pid for kind, pid in events if kind == "set" and int(pid) != os.getpid()]
    # each of the two workers unpickles the model at most once for the 8 chunks
    assert 1 <= len(worker_loads) <= 2 and len(set(worker_loads)) == len(worker_loads), events
    assert len(events) <= 8, events


def test_distributed_workers_use_their_threads(cluster):
    x = da.zeros((4, 1, 30), chunks=(1, 1, 10), dtype=numpy.float32)
    assert set(numpy.unique(cluster.compute(predict(_Threads(), x)).result())) == {1}
    if _have_openmp():
        assert set(numpy.unique(cluster.compute(predict(_Threads(), x, num_threads=2)).result())) == {2}


@pytest.mark.skipif(not _have_openmp(), reason="kernels built without OpenMP: one thread always")
def test_a_worker_with_two_threads_gives_one_task_both():
    distributed = pytest.importorskip("distributed")
    x = da.zeros((1, 1, 10), chunks=(1, 1, 10), dtype=numpy.float32)
    # in-process: the inproc transport, no sockets at all
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as lc, distributed.Client(lc) as client:
        assert set(numpy.unique(client.compute(predict(_Threads(), x)).result())) == {2}
