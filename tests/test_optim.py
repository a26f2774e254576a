"""Optimizers: 20-step parity with PyTorch for every option, param groups, state_dict round trips, zero_grad."""
import copy
import pickle

import numpy
import pytest

import nnlite
import nnlite.optim
from nnlite.nn import Parameter

from conftest import host

SHAPES = [(3, 4), (5,)]
STEPS = 20
RTOL = {numpy.float32: 1e-6, numpy.float64: 1e-12}


def assert_close(ours, theirs, dtype, factor=1):
    """Relative to the tensor's scale: entries that cancel to near 0 carry the rounding of their larger terms
    (PyTorch fuses ``a + alpha * b`` into one FMA; numpy rounds twice)."""
    theirs = numpy.asarray(theirs)
    rtol = RTOL[dtype] * factor
    numpy.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * float(numpy.abs(theirs).max(initial=1.0)))


def _data(dtype, seed=0):
    rng = numpy.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    return init, grads


def _params(init, device="cpu"):
    return [Parameter(nnlite.tensor(a.copy(), device=device)) for a in init]


def _run(opt, params, grads):
    for step_grads in grads:
        opt.zero_grad()
        for p, g in zip(params, step_grads):
            p.grad = nnlite.tensor(g.copy(), device=p.device)
        opt.step()


def _run_torch(torch, opt, params, grads):
    for step_grads in grads:
        opt.zero_grad()
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g.copy())
        opt.step()


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.2, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.3)),
    ("AdamW", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.05)),
]


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("name,kw", CASES, ids=[n + "".join(f"-{k}={v}" for k, v in kw.items()) for n, kw in CASES])
def test_matches_torch_over_20_steps(name, kw, dtype):
    torch = pytest.importorskip("torch")
    init, grads = _data(dtype)
    ours = _params(init)
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(nnlite.optim, name)(ours, **kw)
    ref = getattr(torch.optim, name)(theirs, foreach=False, **kw)
    _run(opt, ours, grads)
    _run_torch(torch, ref, theirs, grads)
    for p, q in zip(ours, theirs):
        assert host(p).dtype == q.detach().numpy().dtype
        assert_close(host(p), q.detach().numpy(), dtype)
    for p, q in zip(ours, theirs):  # the state too: same keys, same values
        mine, want = opt.state[p], ref.state[q]
        assert sorted(mine) == sorted(want)
        for key in want:
            assert_close(host(mine[key]), want[key].numpy(), dtype, factor=10)
    state, ref_state = opt.state_dict(), ref.state_dict()
    assert sorted(state["state"]) == sorted(ref_state["state"])
    assert [g["params"] for g in state["param_groups"]] == [g["params"] for g in ref_state["param_groups"]]
    for g, h in zip(state["param_groups"], ref_state["param_groups"]):
        assert {k: v for k, v in g.items() if k in h} == {k: h[k] for k in g if k in h}


def test_param_groups_with_different_options_match_torch():
    torch = pytest.importorskip("torch")
    init, grads = _data(numpy.float64)
    ours = _params(init)
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = nnlite.optim.SGD([{"params": [ours[0]], "lr": 0.3, "momentum": 0.5}, {"params": [ours[1]]}],
                           lr=0.01, momentum=0.9, nesterov=True)
    ref = torch.optim.SGD([{"params": [theirs[0]], "lr": 0.3, "momentum": 0.5}, {"params": [theirs[1]]}],
                          lr=0.01, momentum=0.9, nesterov=True, foreach=False)
    _run(opt, ours, grads)
    _run_torch(torch, ref, theirs, grads)
    for p, q in zip(ours, theirs):
        assert_close(host(p), q.detach().numpy(), numpy.float64)
    assert [g["lr"] for g in opt.param_groups] == [0.3, 0.01]

    ours = _params(init)
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = nnlite.optim.Adam([ours[0]], lr=0.02)
    opt.add_param_group({"params": ours[1], "lr": 0.1, "amsgrad": True})
    ref = torch.optim.Adam([theirs[0]], lr=0.02, foreach=False)
    ref.add_param_group({"params": theirs[1], "lr": 0.1, "amsgrad": True})
    _run(opt, ours, grads)
    _run_torch(torch, ref, theirs, grads)
    for p, q in zip(ours, theirs):
        assert_close(host(p), q.detach().numpy(), numpy.float64)


def test_real_training_loop_matches_torch():
    """Gradients that depend on the parameters (the usual loop), through autograd."""
    torch = pytest.importorskip("torch")
    rng = numpy.random.default_rng(3)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal(16)
    w0 = rng.standard_normal(3)
    w = Parameter(nnlite.tensor(w0.copy()))
    tw = torch.tensor(w0.copy(), requires_grad=True)
    opt, ref = nnlite.optim.Adam([w], lr=0.05, amsgrad=True), torch.optim.Adam([tw], lr=0.05, amsgrad=True)
    for _ in range(STEPS):
        opt.zero_grad()
        ((nnlite.tensor(x) @ w - nnlite.tensor(y)) ** 2).mean().backward()
        opt.step()
        ref.zero_grad()
        ((torch.tensor(x) @ tw - torch.tensor(y)) ** 2).mean().backward()
        ref.step()
    numpy.testing.assert_allclose(host(w), tw.detach().numpy(), rtol=1e-12)


# -- without PyTorch: known values, state, errors -------------------------------------------------------------
def test_plain_sgd_is_p_minus_lr_g(device):
    p = Parameter(nnlite.tensor([1.0, 2.0], device=device))
    p.grad = nnlite.tensor([0.5, -1.0], device=device)
    version = p._vc[0]
    nnlite.optim.SGD([p], lr=0.1).step()
    numpy.testing.assert_allclose(host(p), [0.95, 2.1])
    assert p._vc[0] == version + 1


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True)),
                                     ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
                                     ("AdamW", dict(lr=0.01, maximize=True))])
def test_same_result_on_every_device(device, name, kw):
    init, grads = _data(numpy.float64)
    results = []
    for dev in ("cpu", device):
        params = _params(init, dev)
        _run(getattr(nnlite.optim, name)(params, **kw), params, grads[:5])
        results.append([host(p) for p in params])
    for a, b in zip(*results):
        numpy.testing.assert_allclose(a, b, rtol=1e-12)


def test_updates_are_in_place_and_skip_params_without_grad():
    init, grads = _data(numpy.float32)
    params = _params(init)
    arrays = [p._data for p in params]
    params[1].grad = None
    params[0].grad = nnlite.tensor(grads[0][0])
    nnlite.optim.Adam(params, lr=0.1).step()
    assert all(p._data is a for p, a in zip(params, arrays))
    numpy.testing.assert_array_equal(host(params[1]), init[1])
    assert not numpy.array_equal(host(params[0]), init[0])


def test_step_is_not_recorded_and_the_closure_is():
    p = Parameter(nnlite.tensor([1.0, -1.0]))
    opt = nnlite.optim.SGD([p], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        assert nnlite.is_grad_enabled()
        loss.backward()
        return loss

    with nnlite.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 2.0
    assert host(p).tolist() == [0.0, 0.0]
    assert p.grad_fn is None and p.requires_grad


def test_adam_state_layout():
    p = Parameter(nnlite.zeros(3))
    opt = nnlite.optim.Adam([p], amsgrad=True)
    p.grad = nnlite.ones(3)
    opt.step()
    opt.step()
    state = opt.state[p]
    assert sorted(state) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert state["step"].shape == () and state["step"].dtype == nnlite.float32 and state["step"].item() == 2.0
    assert state["exp_avg"].shape == (3,) and not state["exp_avg"].requires_grad
    sgd = nnlite.optim.SGD([p], lr=0.1)
    sgd.step()
    assert len(sgd.state) == 0  # momentum 0 keeps no buffer, as in PyTorch


def test_zero_grad():
    p = Parameter(nnlite.ones(2))
    opt = nnlite.optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and host(g).tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None
    opt.zero_grad()  # nothing to do
    assert p.grad is None


def test_state_dict_format():
    params = _params(_data(numpy.float32)[0])
    opt = nnlite.optim.SGD([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.5}], lr=0.1, momentum=0.9)
    for p in params:
        p.grad = nnlite.ones_like(p)
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1] == {"lr": 0.5, "momentum": 0.9, "dampening": 0, "weight_decay": 0,
                                     "nesterov": False, "maximize": False, "params": [1]}
    assert sorted(sd["state"]) == [0, 1] and sorted(sd["state"][0]) == ["momentum_buffer"]
    assert opt.param_groups[0]["params"][0] is params[0]  # packing does not touch the optimizer


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
                                     ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                     ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
                                     ("AdamW", dict(lr=0.01, maximize=True))])
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_state_dict_round_trip_is_bitwise(name, kw, dtype):
    init, grads = _data(dtype)
    straight = _params(init)
    _run(getattr(nnlite.optim, name)(straight, **kw), straight, grads)

    first = _params(init)
    opt = getattr(nnlite.optim, name)([{"params": [first[0]]}, {"params": [first[1]], "lr": kw["lr"]}], **kw)
    _run(opt, first, grads[:STEPS // 2])
    saved = pickle.loads(pickle.dumps(opt.state_dict()))  # as if through a file
    resumed = [Parameter(nnlite.tensor(host(p).copy())) for p in first]
    opt2 = getattr(nnlite.optim, name)([{"params": [resumed[0]]}, {"params": [resumed[1]]}], lr=123.0)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == kw["lr"] and opt2.param_groups[0]["params"][0] is resumed[0]
    _run(opt2, resumed, grads[STEPS // 2:])
    for p, q in zip(resumed, straight):
        numpy.testing.assert_array_equal(host(p), host(q))
    # loading copies: stepping opt2 did not change the state dict it was given
    assert all(not numpy.shares_memory(host(v), host(opt2.state[resumed[0]][k]))
               for k, v in saved["state"][0].items())


def test_load_state_dict_casts_to_the_parameter_dtype():
    p64 = Parameter(nnlite.zeros(3, dtype=nnlite.float64))
    opt = nnlite.optim.Adam([p64])
    p64.grad = nnlite.ones(3, dtype=nnlite.float64)
    opt.step()
    p32 = Parameter(nnlite.zeros(3))
    opt32 = nnlite.optim.Adam([p32])
    opt32.load_state_dict(copy.deepcopy(opt.state_dict()))
    state = opt32.state[p32]
    assert state["exp_avg"].dtype == nnlite.float32 and state["exp_avg_sq"].dtype == nnlite.float32
    assert state["step"].dtype == nnlite.float32  # 'step' keeps its own dtype


def test_load_state_dict_validates_before_changing_anything():
    a, b, c = (Parameter(nnlite.zeros(2)) for _ in range(3))
    opt = nnlite.optim.SGD([a, b], lr=0.1, momentum=0.9)
    two_groups = nnlite.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="loaded state dict has a different number of parameter groups"):
        opt.load_state_dict(two_groups)
    with pytest.raises(ValueError, match="loaded state dict contains a parameter group that doesn't match the size "
                                         "of optimizer's group"):
        opt.load_state_dict(nnlite.optim.SGD([a, b, c], lr=0.5).state_dict())
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["params"] == [a, b]


@pytest.mark.parametrize("make,exc,message", [
    (lambda p: nnlite.optim.SGD(p, lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
    (lambda p: nnlite.optim.SGD(p, momentum=-0.1), ValueError, "Invalid momentum value: -0.1"),
    (lambda p: nnlite.optim.SGD(p, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
    (lambda p: nnlite.optim.SGD(p, nesterov=True), ValueError, "Nesterov momentum requires a momentum and zero "
                                                               "dampening"),
    (lambda p: nnlite.optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), ValueError, "Nesterov"),
    (lambda p: nnlite.optim.Adam(p, lr=-1e-3), ValueError, "Invalid learning rate: -0.001"),
    (lambda p: nnlite.optim.Adam(p, eps=-1.0), ValueError, "Invalid epsilon value: -1.0"),
    (lambda p: nnlite.optim.Adam(p, betas=(1.0, 0.9)), ValueError, "Invalid beta parameter at index 0: 1.0"),
    (lambda p: nnlite.optim.Adam(p, betas=(0.9, -0.1)), ValueError, "Invalid beta parameter at index 1: -0.1"),
    (lambda p: nnlite.optim.AdamW(p, weight_decay=-0.1), ValueError, "Invalid weight_decay value: -0.1"),
    (lambda p: nnlite.optim.SGD([], lr=0.1), ValueError, "optimizer got an empty parameter list"),
    (lambda p: nnlite.optim.SGD(p[0], lr=0.1), TypeError, "params argument given to the optimizer should be an "
                                                          "iterable of Tensors or dicts, but got nnlite.Tensor"),
    (lambda p: nnlite.optim.SGD([{"params": set(p)}], lr=0.1), TypeError, "ordering of tensors in sets will change"),
    (lambda p: nnlite.optim.SGD([p[0], 1.0], lr=0.1), TypeError, "optimizer can only optimize Tensors, but one of the "
                                                                 "params is float"),
    (lambda p: nnlite.optim.SGD([p[0] * 2], lr=0.1), ValueError, "can't optimize a non-leaf Tensor"),
    (lambda p: nnlite.optim.SGD([{"params": [p[0]]}, {"params": [p[0]]}], lr=0.1), ValueError,
     "some parameters appear in more than one parameter group"),
    (lambda p: nnlite.optim.Optimizer(p, {"lr": nnlite.optim.optimizer.required}), ValueError,
     "parameter group didn't specify a value of required optimization parameter lr"),
])
def test_errors_match_torch(make, exc, message):
    params = [Parameter(nnlite.zeros(2)), Parameter(nnlite.zeros(3))]
    with pytest.raises(exc, match=message):
        make(params)


def test_add_param_group_rejects_overlap_and_warns_on_duplicates():
    a, b = Parameter(nnlite.zeros(2)), Parameter(nnlite.zeros(2))
    opt = nnlite.optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [b, a]})
    assert len(opt.param_groups) == 1
    with pytest.warns(UserWarning, match="duplicate parameters"):
        opt.add_param_group({"params": [b, b]})


def test_named_parameters_and_repr():
    a = Parameter(nnlite.zeros(2))
    opt = nnlite.optim.AdamW([("w", a)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w"] and opt.param_groups[0]["params"] == [a]
    text = repr(opt)
    assert text.startswith("AdamW (\nParameter Group 0\n    amsgrad: False\n    betas: (0.9, 0.999)\n")
    assert "    decoupled_weight_decay: True\n" in text and "    weight_decay: 0.01\n" in text and text.endswith(")")


def test_optimizer_pickles():
    p = Parameter(nnlite.ones(2))
    opt = nnlite.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = nnlite.ones(2)
    opt.step()
    clone = pickle.loads(pickle.dumps(opt))
    assert clone.param_groups[0]["lr"] == 0.1 and len(clone.state) == 1


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("opts", [{}, {"weight_decay": 0.1}, {"weight_decay": 0.1, "maximize": True},
                                  {"amsgrad": True}, {"weight_decay": 0.05, "decoupled": True}])
def test_adam_kernel_matches_array_path(dtype, opts):
    """The fused CPU kernel and the array-module formulas agree step by step (to an FMA's
    rounding), amsgrad's maximum propagates NaN, and the kernel runs for numpy arrays."""
    from nnlite.optim import adam
    rng = numpy.random.default_rng(4)
    x = rng.standard_normal(40000).astype(dtype)   # large enough for two threads
    arrays = {"k": [x.copy(), numpy.zeros_like(x), numpy.zeros_like(x), numpy.zeros_like(x)],
              "a": [x.copy(), numpy.zeros_like(x), numpy.zeros_like(x), numpy.zeros_like(x)]}
    assert adam._kernel(*arrays["k"]) is not None
    ams = opts.get("amsgrad", False)
    for step in range(1, 6):
        g = rng.standard_normal(x.size).astype(dtype)
        if step == 3 and ams:
            g[7] = numpy.nan
        args = (1e-2, 0.9, 0.999, 1e-8, opts.get("weight_decay", 0.0), opts.get("decoupled", False),
                opts.get("maximize", False), 1e-2 / (1 - 0.9 ** step), (1 - 0.999 ** step) ** 0.5)
        p, m, v, vm = arrays["k"]
        adam._kernel(p).adam_step(p, g, m, v, vm if ams else None, *args, 2)
        p, m, v, vm = arrays["a"]
        adam._step_arrays(numpy, p, g, m, v, vm if ams else None, *args)
    for ours, theirs in zip(arrays["k"], arrays["a"]):
        numpy.testing.assert_allclose(ours, theirs, rtol=RTOL[dtype] * 10, atol=RTOL[dtype])
    if ams:
        assert numpy.isnan(arrays["k"][0][7]) and numpy.isnan(arrays["k"][3][7])
        assert numpy.isfinite(numpy.delete(arrays["k"][0], 7)).all()
