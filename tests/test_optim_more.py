"""RMSprop, Adagrad and the schedulers LambdaLR, LinearLR, CosineAnnealingWarmRestarts, OneCycleLR, SequentialLR:
step-by-step parity with PyTorch, and their argument errors."""
import warnings

import numpy
import pytest

import nnlite
import nnlite.optim as optim
from nnlite.optim import lr_scheduler as L
from conftest import host

torch = pytest.importorskip("torch")


def _pair(opt_name, kwargs, steps=6):
    rng = numpy.random.default_rng(0)
    w0 = rng.standard_normal((3, 4)).astype(numpy.float32)
    p, q = nnlite.nn.Parameter(nnlite.tensor(w0)), torch.nn.Parameter(torch.tensor(w0))
    o = getattr(optim, opt_name)([p], **kwargs)
    t = getattr(torch.optim, opt_name)([q], **kwargs)
    for k in range(steps):
        g = rng.standard_normal((3, 4)).astype(numpy.float32)
        p.grad, q.grad = nnlite.tensor(g), torch.tensor(g)
        o.step(); t.step()
        numpy.testing.assert_allclose(host(p), q.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=f"step {k}")
    assert sorted(o.state[p]) == sorted(t.state[q])
    for key in t.state[q]:
        numpy.testing.assert_allclose(host(o.state[p][key]), t.state[q][key].numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.05, "momentum": 0.9}, {"centered": True, "weight_decay": 0.1},
                                    {"centered": True, "momentum": 0.5, "maximize": True, "alpha": 0.9}])
def test_rmsprop_matches_torch(kwargs):
    _pair("RMSprop", kwargs)


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.1, "lr_decay": 0.01}, {"weight_decay": 0.1,
                                                                         "initial_accumulator_value": 0.5},
                                    {"maximize": True, "eps": 1e-6}])
def test_adagrad_matches_torch(kwargs):
    _pair("Adagrad", kwargs)


def test_optimizer_errors():
    p = [nnlite.nn.Parameter(nnlite.zeros(1))]
    for cls, kw, msg in [(optim.RMSprop, {"lr": -1}, "Invalid learning rate: -1"),
                         (optim.RMSprop, {"alpha": -1}, "Invalid alpha value: -1"),
                         (optim.RMSprop, {"momentum": -1}, "Invalid momentum value: -1"),
                         (optim.Adagrad, {"lr_decay": -1}, "Invalid lr_decay value: -1"),
                         (optim.Adagrad, {"initial_accumulator_value": -1},
                          "Invalid initial_accumulator_value value: -1")]:
        with pytest.raises(ValueError, match=msg):
            cls(p, **kw)


def _lrs(mk, steps, opt_kwargs):
    """Learning rates and momenta (or beta1) of two groups, per step, for nnlite and PyTorch built alike by ``mk``;
    ``opt_kwargs`` None: SGD, {}: Adam, else SGD with these options."""
    out = []
    for lib, o_mod in ((nnlite, optim), (torch, torch.optim)):
        ps = [{"params": [lib.nn.Parameter(lib.zeros(1))], "lr": 0.1 * (i + 1)} for i in range(2)]
        opt = o_mod.Adam(ps) if opt_kwargs == {} else o_mod.SGD(ps, **(opt_kwargs or {}))
        sched = mk(lib, opt)
        seq = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for k in range(steps + 1):
                seq.append([g["lr"] for g in opt.param_groups] + list(sched.get_last_lr()) +
                           [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups])
                if k < steps:
                    opt.step()
                    sched.step()
        out.append(seq)
    return out


@pytest.mark.parametrize("mk, steps, opt_kwargs", [
    (lambda lib, o: lib.optim.lr_scheduler.LambdaLR(o, lambda e: 0.9 ** e + 0.01 * e), 8, None),
    (lambda lib, o: lib.optim.lr_scheduler.LambdaLR(o, [lambda e: 1.0 / (e + 1), lambda e: 0.5]), 5, None),
    (lambda lib, o: lib.optim.lr_scheduler.LinearLR(o), 8, None),
    (lambda lib, o: lib.optim.lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=3), 6, None),
    (lambda lib, o: lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3), 10, None),
    (lambda lib, o: lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, eta_min=0.01), 16, None),
    (lambda lib, o: lib.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=12), 12, {"momentum": 0.9}),
    (lambda lib, o: lib.optim.lr_scheduler.OneCycleLR(o, max_lr=[1.0, 2.0], epochs=2, steps_per_epoch=5,
                                                      anneal_strategy="linear", three_phase=True), 10,
     {"momentum": 0.9}),
    (lambda lib, o: lib.optim.lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=9, pct_start=0.25), 9, {}),
    (lambda lib, o: lib.optim.lr_scheduler.SequentialLR(
        o, [lib.optim.lr_scheduler.LinearLR(o, 0.1, total_iters=3),
            lib.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4)], milestones=[3]), 10, None),
    (lambda lib, o: lib.optim.lr_scheduler.SequentialLR(
        o, [lib.optim.lr_scheduler.ExponentialLR(o, 0.9), lib.optim.lr_scheduler.StepLR(o, 2, 0.5),
            lib.optim.lr_scheduler.LinearLR(o, 0.5, total_iters=2)], milestones=[2, 5]), 10, None),
])
def test_schedulers_match_torch(mk, steps, opt_kwargs):
    ours, theirs = _lrs(mk, steps, opt_kwargs)
    numpy.testing.assert_allclose(numpy.array(ours, dtype=float), numpy.array(theirs, dtype=float), rtol=1e-9,
                                  atol=1e-12)


def test_warm_restarts_fractional_epochs_and_state_dict():
    seqs = []
    for lib in (nnlite, torch):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(1))], lr=1.0)
        s = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
        seq = []
        for epoch in range(4):
            for i in range(3):
                opt.step()
                s.step(epoch + i / 3)
                seq.append(opt.param_groups[0]["lr"])
        seqs.append(seq)
    numpy.testing.assert_allclose(seqs[0], seqs[1], rtol=1e-12)
    opt = optim.SGD([nnlite.nn.Parameter(nnlite.zeros(1))], lr=1.0)
    s = L.LambdaLR(opt, lambda e: 0.5)
    assert s.state_dict()["lr_lambdas"] == [None]


def test_scheduler_errors():
    opt = optim.SGD([nnlite.nn.Parameter(nnlite.zeros(1))], lr=1.0)
    cases = [(lambda: L.LinearLR(opt, start_factor=0), "Starting multiplicative factor expected to be greater than 0"),
             (lambda: L.LinearLR(opt, end_factor=2), "Ending multiplicative factor expected to be between 0 and 1."),
             (lambda: L.CosineAnnealingWarmRestarts(opt, 0), "Expected positive integer T_0, but got 0"),
             (lambda: L.CosineAnnealingWarmRestarts(opt, 2, T_mult=0), "Expected integer T_mult >= 1, but got 0"),
             (lambda: L.OneCycleLR(opt, 1.0), r"You must define either total_steps OR \(epochs AND steps_per_epoch\)"),
             (lambda: L.OneCycleLR(opt, 1.0, total_steps=5, pct_start=2.0),
              "Expected float between 0 and 1 pct_start, but got 2.0"),
             (lambda: L.OneCycleLR(opt, 1.0, total_steps=5, anneal_strategy="exp"),
              "anneal_strategy must be one of 'cos' or 'linear', instead got exp"),
             (lambda: L.OneCycleLR(optim.Adagrad([nnlite.nn.Parameter(nnlite.zeros(1))]), 1.0, total_steps=5),
              "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"),
             (lambda: L.LambdaLR(opt, [lambda e: 1, lambda e: 2]), "Expected 1 lr_lambdas, but got 2"),
             (lambda: L.SequentialLR(opt, [L.StepLR(opt, 2)], milestones=[1]),
              "Sequential Schedulers expects number of schedulers provided to be one more than the number of "
              "milestone points")]
    for make, msg in cases:
        with pytest.raises(ValueError, match=msg):
            make()
    s = L.OneCycleLR(opt, 1.0, total_steps=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt.step(); s.step(); s.step()
        with pytest.raises(ValueError, match="Tried to step 3 times. The specified number of total steps is 2"):
            s.step()
