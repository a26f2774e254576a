"""Learning-rate schedulers: 30-epoch sequences against PyTorch, ReduceLROnPlateau, state_dict round trips."""
import pickle
import warnings

import pytest

import nnlite
import nnlite.optim
from nnlite.nn import Parameter
from nnlite.optim import lr_scheduler as S

EPOCHS = 30
SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("MultiStepLR", dict(milestones=[3, 10, 10, 25], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
]


def _optimizer(lrs=(0.1, 0.02)):
    groups = [{"params": [Parameter(nnlite.zeros(1))], "lr": lr} for lr in lrs]
    return nnlite.optim.SGD(groups, lr=1.0, momentum=0.9)


def _sequence(sched, opt, epochs=EPOCHS):
    out = [sched.get_last_lr()]
    for _ in range(epochs):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
    return out


@pytest.mark.parametrize("name,kw", SCHEDULERS)
def test_lr_sequence_matches_torch(name, kw):
    torch = pytest.importorskip("torch")
    opt = _optimizer()
    ours = _sequence(getattr(S, name)(opt, **kw), opt)
    ref_opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in (0.1, 0.02)],
                              lr=1.0, momentum=0.9)
    theirs = _sequence(getattr(torch.optim.lr_scheduler, name)(ref_opt, **kw), ref_opt)
    assert ours == theirs  # the same float operations: equal, not just close
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]


METRICS = [1.0, 0.9, 0.95, 0.95, 0.91, 0.9, 0.9, 0.9, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.79, 0.79, 0.79, 0.79,
           0.79, 0.79, 0.79, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
PLATEAU = [dict(patience=2), dict(mode="max", patience=1, factor=0.5), dict(patience=1, cooldown=2, factor=0.5),
           dict(patience=0, threshold=0.05, threshold_mode="abs", min_lr=[0.05, 0.001]),
           dict(mode="max", threshold_mode="abs", threshold=0.0, patience=1, eps=0.02, factor=0.5),
           dict(patience=1, min_lr=0.03, factor=0.5)]


@pytest.mark.parametrize("kw", PLATEAU)
def test_reduce_lr_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    results = []
    for lib, opt in ((S, _optimizer()),
                     (torch.optim.lr_scheduler, torch.optim.SGD(
                         [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in (0.1, 0.02)], lr=1.0))):
        sched = lib.ReduceLROnPlateau(opt, **kw)
        seq = [sched.get_last_lr()]
        for m in METRICS:
            opt.step()
            sched.step(m)
            seq.append(sched.get_last_lr())
        results.append((seq, sched.best, sched.num_bad_epochs, sched.cooldown_counter, sched.last_epoch))
    assert results[0] == results[1]


# -- without PyTorch -------------------------------------------------------------------------------------------
def test_known_values():
    opt = _optimizer((1.0,))
    assert [lr for lr, in _sequence(S.StepLR(opt, step_size=2, gamma=0.5), opt, 5)] == [1.0, 1.0, 0.5, 0.5, 0.25,
                                                                                      0.25]
    opt = _optimizer((1.0,))
    cos = [lr for lr, in _sequence(S.CosineAnnealingLR(opt, T_max=4), opt, 8)]
    assert cos[0] == 1.0 and cos[4] == pytest.approx(0.0, abs=1e-15) and cos[8] == pytest.approx(1.0)
    opt = _optimizer((1.0,))
    sched = S.ReduceLROnPlateau(opt, patience=1)
    for m in [1.0, 1.0, 1.0]:
        sched.step(m)
    assert sched.get_last_lr() == [0.1] and opt.param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("name,kw", SCHEDULERS + [("ReduceLROnPlateau", dict(patience=1, cooldown=1))])
def test_state_dict_round_trip(name, kw):
    def run(sched, opt, epochs):
        for e in range(epochs):
            opt.step()
            sched.step(METRICS[e % len(METRICS)]) if name == "ReduceLROnPlateau" else sched.step()
            yield sched.get_last_lr()

    opt = _optimizer()
    straight = list(run(getattr(S, name)(opt, **kw), opt, EPOCHS))

    opt = _optimizer()
    sched = getattr(S, name)(opt, **kw)
    first = list(run(sched, opt, 12))
    saved = pickle.loads(pickle.dumps((opt.state_dict(), sched.state_dict())))
    assert "optimizer" not in saved[1]
    opt2 = _optimizer((5.0, 5.0))
    opt2.load_state_dict(saved[0])
    sched2 = getattr(S, name)(opt2, **kw)
    sched2.load_state_dict(saved[1])
    rest = []
    for e in range(12, EPOCHS):
        opt2.step()
        sched2.step(METRICS[e % len(METRICS)]) if name == "ReduceLROnPlateau" else sched2.step()
        rest.append(sched2.get_last_lr())
    assert first + rest == straight


def test_initial_lr_and_resuming():
    opt = _optimizer()
    S.ExponentialLR(opt, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]
    with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in param_groups\[0\] when resuming"):
        S.StepLR(_optimizer(), step_size=2, last_epoch=3)
    opt = _optimizer()
    for g in opt.param_groups:
        g["initial_lr"] = g["lr"]
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched = S.StepLR(opt, step_size=2, gamma=0.5, last_epoch=3)
        opt.step()
        sched.step(5)
    assert sched.get_last_lr() == [0.1 * 0.25, 0.02 * 0.25]  # closed form at epoch 5


def test_warnings_like_torch():
    opt = _optimizer()
    sched = S.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before `optimizer.step\(\)`"):
        sched.step()
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()
    opt = _optimizer()
    sched = S.StepLR(opt, step_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()


def test_errors():
    with pytest.raises(TypeError, match="int is not an Optimizer"):
        S.StepLR(1, step_size=2)
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        S.ReduceLROnPlateau(_optimizer(), factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown!"):
        S.ReduceLROnPlateau(_optimizer(), mode="avg")
    with pytest.raises(ValueError, match="threshold mode x is unknown!"):
        S.ReduceLROnPlateau(_optimizer(), threshold_mode="x")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        S.ReduceLROnPlateau(_optimizer(), min_lr=[0.1])
