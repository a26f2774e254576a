"""nnlite.nn.Module: registration, attribute routing, hooks, traversal, state_dict, moves, repr, copies."""
import copy
import pickle
from collections import OrderedDict

import numpy
import pytest

import nnlite
from nnlite import nn
from nnlite.nn.modules.module import _IncompatibleKeys


class Linear(nn.Module):
    """A small layer with a parameter, an optional bias and a buffer."""

    def __init__(self, n_in, n_out, bias=True):
        super().__init__()
        self.weight = nn.Parameter(nnlite.arange(n_in * n_out, dtype=nnlite.float32).reshape(n_out, n_in))
        if bias:
            self.bias = nn.Parameter(nnlite.zeros(n_out))
        else:
            self.register_parameter("bias", None)
        self.register_buffer("steps", nnlite.zeros(1))
        self.register_buffer("scratch", nnlite.zeros(2), persistent=False)
        self.n_in, self.n_out = n_in, n_out

    def forward(self, x):
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def extra_repr(self):
        return f"in_features={self.n_in}, out_features={self.n_out}, bias={self.bias is not None}"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(nnlite.ones(1))
        self.body = nn.Sequential(Linear(2, 3), Linear(3, 2, bias=False))
        self.register_buffer("count", nnlite.zeros(1, dtype=nnlite.int64))

    def forward(self, x):
        return self.body(x) * self.scale


# -- construction and attribute routing ---------------------------------------------------------------
def test_init_creates_the_dicts():
    m = nn.Module()
    assert m.training is True
    for name in ("_parameters", "_buffers", "_modules", "_forward_hooks", "_forward_pre_hooks"):
        assert name in m.__dict__ and len(m.__dict__[name]) == 0
    assert m._non_persistent_buffers_set == set()
    with pytest.raises(TypeError, match=r"Module.__init__\(\) got an unexpected keyword argument 'x'"):
        nn.Module(x=1)


def test_setattr_routes_each_kind():
    m = nn.Module()
    p = nn.Parameter(nnlite.zeros(1))
    child = nn.Module()
    m.p = p
    m.child = child
    m.register_buffer("b", nnlite.zeros(1))
    m.plain = nnlite.zeros(1)  # a plain tensor is a plain attribute
    assert m._parameters == {"p": p} and m._modules == {"child": child}
    assert list(m._buffers) == ["b"] and "plain" in m.__dict__ and "p" not in m.__dict__
    new = nnlite.ones(1)
    m.b = new  # assigning to a registered buffer name updates the buffer
    assert m._buffers["b"] is new
    m.p = None
    m.child = None
    m.b = None
    assert m._parameters == {"p": None} and m._modules == {"child": None} and m._buffers == {"b": None}
    assert m.p is None and m.child is None and m.b is None


def test_reassigning_a_name_to_another_kind_moves_it():
    m = nn.Module()
    m.x = 3
    m.x = nn.Parameter(nnlite.zeros(1))
    assert "x" not in m.__dict__ and "x" in m._parameters
    m.register_buffer("y", nnlite.zeros(1), persistent=False)
    m.y = nn.Module()
    assert "y" in m._modules and "y" not in m._buffers and "y" not in m._non_persistent_buffers_set


def test_assigning_a_buffer_object_registers_it():
    m = nn.Module()
    m.a = nn.Buffer(nnlite.zeros(1))
    m.b = nn.Buffer(nnlite.zeros(1), persistent=False)
    assert list(m._buffers) == ["a", "b"] and m._non_persistent_buffers_set == {"b"}
    assert list(m.state_dict()) == ["a"]
    m.b = nnlite.ones(1)  # a plain Tensor keeps the slot's persistence
    assert m._non_persistent_buffers_set == {"b"}


def test_setattr_type_errors():
    m = Linear(2, 2)
    with pytest.raises(TypeError) as e:
        m.weight = nnlite.zeros(2)
    assert str(e.value) == "cannot assign 'nnlite.Tensor' as parameter 'weight' (nnlite.nn.Parameter or None expected)"
    m.child = nn.Module()
    with pytest.raises(TypeError) as e:
        m.child = 3
    assert str(e.value) == "cannot assign 'int' as child module 'child' (nnlite.nn.Module or None expected)"
    with pytest.raises(TypeError) as e:
        m.steps = numpy.zeros(1)
    assert str(e.value) == ("cannot assign 'numpy.ndarray' as buffer 'steps' "
                            "(nnlite.nn.Buffer, nnlite.Tensor or None expected)")


def test_assigning_before_init_raises():
    class Early(nn.Module):
        def __init__(self, what):
            self.x = what
            super().__init__()

    with pytest.raises(AttributeError, match=r"^cannot assign parameters before Module.__init__\(\) call$"):
        Early(nn.Parameter(nnlite.zeros(1)))
    with pytest.raises(AttributeError, match=r"^cannot assign module before Module.__init__\(\) call$"):
        Early(nn.Module())
    with pytest.raises(AttributeError, match=r"^cannot assign buffer before Module.__init__\(\) call$"):
        Early(nn.Buffer(nnlite.zeros(1)))
    assert Early(5).x == 5


def test_getattr_fallback_message():
    m = Linear(2, 2)
    with pytest.raises(AttributeError) as e:
        m.foo
    assert str(e.value) == "'Linear' object has no attribute 'foo'"
    assert m.weight is m._parameters["weight"] and m.steps is m._buffers["steps"]


def test_delattr_each_kind():
    m = Linear(2, 2)
    m.child = nn.Module()
    m.plain = 1
    for name in ("weight", "scratch", "child", "plain"):
        delattr(m, name)
    assert "weight" not in m._parameters and "scratch" not in m._buffers
    assert "scratch" not in m._non_persistent_buffers_set and "child" not in m._modules and "plain" not in m.__dict__
    with pytest.raises(AttributeError):
        del m.nothing


def test_dir_lists_members():
    m = Linear(2, 2)
    m.child = nn.Module()
    d = dir(m)
    for name in ("weight", "bias", "steps", "scratch", "child", "forward", "n_in"):
        assert name in d
    assert d == sorted(d)


# -- register_* checks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("method,name,value,exc,msg", [
    ("register_buffer", "a.b", None, KeyError, 'buffer name can\'t contain "."'),
    ("register_buffer", "", None, KeyError, 'buffer name can\'t be empty string ""'),
    ("register_buffer", "weight", None, KeyError, "attribute 'weight' already exists"),
    ("register_buffer", 3, None, TypeError, "buffer name should be a string. Got int"),
    ("register_buffer", "xx", 3, TypeError,
     "cannot assign 'int' object to buffer 'xx' (nnlite Tensor or None required)"),
    ("register_parameter", "a.b", None, KeyError, 'parameter name can\'t contain "."'),
    ("register_parameter", "", None, KeyError, 'parameter name can\'t be empty string ""'),
    ("register_parameter", "steps", None, KeyError, "attribute 'steps' already exists"),
    ("register_parameter", "forward", None, KeyError, "attribute 'forward' already exists"),
    ("register_parameter", "xx", nnlite.zeros(1), TypeError,
     "cannot assign 'nnlite.Tensor' object to parameter 'xx' (nnlite.nn.Parameter or None required)"),
    ("add_module", "xx", 3, TypeError, "int is not a Module subclass"),
    ("add_module", 3, None, TypeError, "module name should be a string. Got int"),
    ("add_module", "x.x", None, KeyError, 'module name can\'t contain ".", got: x.x'),
    ("add_module", "", None, KeyError, 'module name can\'t be empty string ""'),
    ("add_module", "weight", None, KeyError, "attribute 'weight' already exists"),
    ("register_module", "n_in", None, KeyError, "attribute 'n_in' already exists"),
])
def test_registration_errors(method, name, value, exc, msg):
    m = Linear(2, 2)
    with pytest.raises(exc) as e:
        getattr(m, method)(name, value)
    assert e.value.args[0] == msg


def test_register_non_leaf_parameter_raises():
    p = nn.Parameter(nnlite.ones(1))
    q = nn.Parameter.__new__(nn.Parameter)
    nnlite.Tensor.__init__(q, nnlite.ones(1))
    q._grad_fn = (p * 2).grad_fn
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'w'"):
        nn.Module().register_parameter("w", q)


def test_reregistering_same_name_replaces():
    m = nn.Module()
    m.register_buffer("b", nnlite.zeros(1), persistent=False)
    m.register_buffer("b", nnlite.ones(1))
    assert m.b.tolist() == [1.0] and m._non_persistent_buffers_set == set()
    m.register_module("c", nn.Module())
    m.add_module("c", None)
    assert m.c is None


# -- forward and hooks ------------------------------------------------------------------------------
def test_base_forward_raises():
    with pytest.raises(NotImplementedError) as e:
        Linear.__bases__[0]()(1)
    assert str(e.value) == 'Module [Module] is missing the required "forward" function'

    class NoForward(nn.Module):
        pass
    with pytest.raises(NotImplementedError, match=r'Module \[NoForward\] is missing'):
        NoForward()(nnlite.zeros(1))


def test_call_runs_forward_with_kwargs():
    class Add(nn.Module):
        def forward(self, x, y=1.0):
            return x + y
    assert Add()(nnlite.ones(1), y=2.0).tolist() == [3.0]


def test_numpy_inputs_become_tensors_without_copy():
    seen = []

    class Spy(nn.Module):
        def forward(self, x, y, z=None):
            seen.append((x, y, z))
            return x
    a = numpy.ones(3, dtype=numpy.float32)
    out = Spy()(a, 5, z=a)
    x, y, z = seen[0]
    assert type(x) is nnlite.Tensor and x._data is a and not x.requires_grad
    assert y == 5 and z is a  # only positional arrays are wrapped
    assert out is x


def test_module_on_numpy_gives_gradients_for_parameters():
    m = Linear(2, 3)
    out = m(numpy.ones((4, 2), dtype=numpy.float32))
    assert isinstance(out, nnlite.Tensor)
    out.sum().backward()
    assert m.weight.grad.tolist() == [[4.0, 4.0]] * 3 and m.bias.grad.tolist() == [4.0, 4.0, 4.0]


def test_forward_pre_hook_replaces_input_and_wraps_non_tuple():
    m = nn.Sequential()
    calls = []

    def pre(mod, args):
        calls.append((mod, args))
        return args[0] + 1  # not a tuple: wrapped in one
    h = m.register_forward_pre_hook(pre)
    assert m(nnlite.zeros(1)).tolist() == [1.0]
    assert calls[0][0] is m and isinstance(calls[0][1], tuple)
    h.remove()
    assert m(nnlite.zeros(1)).tolist() == [0.0] and len(calls) == 1


def test_pre_hooks_see_numpy_inputs_as_tensors():
    m = nn.Sequential()
    seen = []
    m.register_forward_pre_hook(lambda mod, args: seen.append(type(args[0])))
    m(numpy.zeros(1))
    assert seen == [nnlite.Tensor]


def test_forward_hook_replaces_output_and_none_keeps_it():
    m = nn.Sequential()
    log = []
    m.register_forward_hook(lambda mod, args, out: log.append(out.tolist()))
    m.register_forward_hook(lambda mod, args, out: out * 10)
    assert m(nnlite.ones(1)).tolist() == [10.0] and log == [[1.0]]


def test_hook_order_prepend_and_kwargs():
    m = nn.Sequential()
    order = []
    m.register_forward_pre_hook(lambda mod, args: order.append("a"))
    m.register_forward_pre_hook(lambda mod, args: order.append("b"), prepend=True)

    def with_kw(mod, args, kwargs):
        order.append(sorted(kwargs))
        return (args[0] * 3,), kwargs
    h = m.register_forward_pre_hook(with_kw, with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: out + 1, with_kwargs=True)
    assert m(nnlite.ones(1)).tolist() == [4.0]
    assert order == ["b", "a", []]
    h.remove()
    assert h.id not in m._forward_pre_hooks and h.id not in m._forward_pre_hooks_with_kwargs


def test_bad_kwargs_pre_hook_result():
    m = nn.Sequential()
    m.register_forward_pre_hook(lambda mod, args, kwargs: 3, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"forward pre-hook must return None or a tuple of \(new_args, "
                                           r"new_kwargs\), but got 3\."):
        m(nnlite.ones(1))


def test_hook_handle_as_context_manager():
    m = nn.Sequential()
    with m.register_forward_hook(lambda mod, args, out: out * 0) as h:
        assert h.id in m._forward_hooks
        assert m(nnlite.ones(1)).tolist() == [0.0]
    assert not m._forward_hooks and m(nnlite.ones(1)).tolist() == [1.0]


def test_call_overhead_is_small():
    import time

    class Id(nn.Module):
        def forward(self, x):
            return x
    m, x = Id(), nnlite.zeros(1)
    n = 20000
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            m(x)
        best = min(best, (time.perf_counter() - t0) / n)
    assert best < 5e-6  # about 1 µs on a laptop; generous for loaded CI machines


# -- traversal ------------------------------------------------------------------------------------
def test_named_parameters_order_and_prefix():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["scale", "body.0.weight", "body.0.bias", "body.1.weight"]
    assert [n for n, _ in net.named_parameters(prefix="m")] == ["m.scale", "m.body.0.weight", "m.body.0.bias",
                                                                "m.body.1.weight"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert list(net.parameters())[1] is net.body[0].weight
    assert [n for n, _ in net.named_buffers()] == ["count", "body.0.steps", "body.0.scratch", "body.1.steps",
                                                   "body.1.scratch"]
    assert len(list(net.buffers(recurse=False))) == 1


def test_shared_parameters_and_modules_yielded_once():
    shared = Linear(2, 2)
    net = nn.Sequential(shared, Linear(2, 2), shared)
    net[1].weight = shared.weight
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert len(list(net.named_parameters(remove_duplicate=False))) == 6
    assert [n for n, _ in net.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in net.named_modules(remove_duplicate=False)] == ["", "0", "1", "2"]
    assert list(net.children()) == [shared, net[1]]
    assert [n for n, _ in net.named_children()] == ["0", "1"]
    assert list(net.modules()) == [net, shared, net[1]]
    assert [n for n, _ in net.named_modules(prefix="root")] == ["root", "root.0", "root.1"]


def test_get_submodule_parameter_buffer():
    net = Net()
    assert net.get_submodule("") is net and net.get_submodule("body.1") is net.body[1]
    assert net.get_parameter("body.0.bias") is net.body[0].bias and net.get_parameter("scale") is net.scale
    assert net.get_buffer("body.0.steps") is net.body[0].steps
    cases = [
        (lambda: net.get_submodule("body.5"), "Sequential has no attribute `5`"),
        (lambda: net.get_submodule("scale"), "`scale` is not an nn.Module"),
        (lambda: net.get_parameter("body.0.nope"), "Linear has no attribute `nope`"),
        (lambda: net.get_parameter("body.0.steps"), "`steps` is not an nn.Parameter"),
        (lambda: net.get_buffer("body.0.weight"), "`weight` is not a buffer"),
        (lambda: net.get_buffer("nope"), "Net has no attribute `nope`"),
    ]
    for fn, msg in cases:
        with pytest.raises(AttributeError) as e:
            fn()
        assert str(e.value) == msg


# -- state_dict ---------------------------------------------------------------------------------
def test_state_dict_keys_order_and_sharing():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["scale", "count", "body.0.weight", "body.0.bias", "body.0.steps", "body.1.weight",
                        "body.1.steps"]
    assert type(sd["scale"]) is nnlite.Tensor and not sd["scale"].requires_grad
    assert sd["body.0.weight"]._data is net.body[0].weight._data  # shares memory
    kv = net.state_dict(keep_vars=True)
    assert kv["scale"] is net.scale and kv["count"] is net.count
    dest = {}
    assert net.state_dict(destination=dest, prefix="p.") is dest and list(dest)[0] == "p.scale"
    assert sd._metadata[""] == {"version": 1} and "body.0" in sd._metadata


def test_load_state_dict_roundtrip_copies_in_place():
    a, b = Net(), Net()
    with nnlite.no_grad():
        for p in a.parameters():
            p.fill_(7.0)
    w = b.body[0].weight
    result = b.load_state_dict(a.state_dict())
    assert isinstance(result, _IncompatibleKeys) and type(result).__name__ == "_IncompatibleKeys"
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>" and str(result) == repr(result)
    assert b.body[0].weight is w and w.tolist() == [[7.0, 7.0]] * 3 and w.requires_grad
    assert w._data is not a.body[0].weight._data


def test_load_state_dict_accepts_numpy_and_casts():
    m = Linear(2, 1)
    m.load_state_dict({"weight": numpy.array([[1, 2]], dtype=numpy.int64), "bias": numpy.array([0.5]),
                       "steps": numpy.array([3.0])})
    assert m.weight.dtype == nnlite.float32 and m.weight.tolist() == [[1.0, 2.0]] and m.bias.tolist() == [0.5]
    assert m.steps.tolist() == [3.0]


def test_load_state_dict_strict_error_lists_everything_and_changes_nothing():
    m = nn.Sequential(Linear(2, 4))
    before = {k: v.tolist() for k, v in m.state_dict().items()}
    sd = {"0.bias": nnlite.zeros(3), "x": nnlite.zeros(1), "0.steps": nnlite.full((1,), 9.0)}
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    assert str(e.value) == (
        'Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: "0.weight". '
        '\n\tUnexpected key(s) in state_dict: "x". \n\tsize mismatch for 0.bias: copying a param with shape '
        'nnlite.Size([3]) from checkpoint, the shape in current model is nnlite.Size([4]).')
    assert {k: v.tolist() for k, v in m.state_dict().items()} == before  # 0.steps was valid, yet not copied


def test_load_state_dict_non_strict():
    m = nn.Sequential(Linear(2, 4))
    res = m.load_state_dict({"0.weight": nnlite.ones(4, 2), "0.extra.x": nnlite.zeros(1)}, strict=False)
    assert res.missing_keys == ["0.bias", "0.steps"] and res.unexpected_keys == ["0.extra.x"]
    assert repr(res) == "_IncompatibleKeys(missing_keys=['0.bias', '0.steps'], unexpected_keys=['0.extra.x'])"
    assert m[0].weight.tolist() == [[1.0, 1.0]] * 4
    with pytest.raises(RuntimeError, match=r"^Error\(s\) in loading state_dict for Sequential:\n\tsize mismatch "
                                           r"for 0.bias"):
        m.load_state_dict({"0.bias": nnlite.zeros(3), "0.weight": nnlite.zeros(4, 2)}, strict=False)
    assert m[0].weight.tolist() == [[1.0, 1.0]] * 4  # unchanged: nothing is copied when it raises


def test_load_state_dict_type_errors():
    m = Linear(1, 1)
    with pytest.raises(TypeError, match=r"^Expected state_dict to be dict-like, got <class 'list'>\.$"):
        m.load_state_dict([])
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict({"weight": 3, "bias": nnlite.zeros(1), "steps": nnlite.zeros(1)})
    assert str(e.value) == ('Error(s) in loading state_dict for Linear:\n\tWhile copying the parameter named '
                            '"weight", expected nnlite.Tensor or Tensor-like object from checkpoint but received '
                            "<class 'int'>")


def test_load_state_dict_unexpected_key_of_non_persistent_buffer():
    m = Linear(1, 1)
    sd = dict(m.state_dict(), scratch=nnlite.zeros(2))
    res = m.load_state_dict(sd, strict=False)
    assert res.unexpected_keys == ["scratch"] and res.missing_keys == []


def test_load_state_dict_scalar_from_one_element():
    m = nn.Module()
    m.register_buffer("n", nnlite.tensor(0.0))
    m.load_state_dict({"n": nnlite.tensor([4.0])})
    assert m.n.shape == () and m.n.item() == 4.0


def test_load_state_dict_assign():
    m = Linear(1, 2)
    w_new = nnlite.tensor([[1.0], [2.0]], dtype=nnlite.float64)
    steps = nnlite.tensor([5.0])
    m.load_state_dict({"weight": w_new, "bias": nnlite.zeros(2), "steps": steps}, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight.dtype == nnlite.float64 and m.weight.requires_grad
    assert m.weight._data is w_new._data and m.steps is steps


def test_load_from_state_dict_override_hook():
    class Versioned(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("n", nnlite.zeros(1))
            self.w = nn.Parameter(nnlite.zeros(1))

        def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
            state_dict.setdefault(prefix + "n", nnlite.full((1,), 42.0))  # an older checkpoint had no n
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)

    net = nn.Sequential(Versioned())
    assert repr(net.load_state_dict({"0.w": nnlite.ones(1)})) == "<All keys matched successfully>"
    assert net[0].n.tolist() == [42.0] and net[0].w.tolist() == [1.0]


def test_load_state_dict_keeps_metadata_version():
    seen = []

    class Spy(nn.Module):
        _version = 2

        def __init__(self):
            super().__init__()

        def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args):
            seen.append(local_metadata.get("version"))
            super()._load_from_state_dict(state_dict, prefix, local_metadata, *args)

    net = nn.Sequential(Spy())
    net.load_state_dict(net.state_dict())
    net.load_state_dict({})
    assert seen == [2, None]


# -- modes, grads, apply --------------------------------------------------------------------------
def test_train_eval():
    net = Net()
    assert net.eval() is net and not net.training and not net.body[1].training
    assert net.train() is net and net.body[0].training
    with pytest.raises(ValueError, match="^training mode is expected to be boolean$"):
        net.train(1)


def test_requires_grad_and_zero_grad():
    net = Net()
    assert net.requires_grad_(False) is net and not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    net(nnlite.ones(1, 2)).sum().backward()
    g = net.scale.grad
    net.zero_grad(set_to_none=False)
    assert net.scale.grad is g and g.tolist() == [0.0] and not g.requires_grad
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_apply_children_first_returns_self():
    net = Net()
    order = []
    assert net.apply(lambda m: order.append(type(m).__name__)) is net
    assert order == ["Linear", "Linear", "Sequential", "Net"]


# -- device and dtype moves -------------------------------------------------------------------------
def test_double_keeps_parameter_identity_and_grads():
    net = Net()
    net(nnlite.ones(1, 2)).sum().backward()
    params = list(net.parameters())
    grads = [p.grad for p in params]
    count = net.count
    assert net.double() is net
    assert list(net.parameters()) == params and all(p is q for p, q in zip(net.parameters(), params))
    assert all(p.dtype == nnlite.float64 and p.grad.dtype == nnlite.float64 for p in params)
    assert all(p.grad is g for p, g in zip(params, grads))
    assert net.count is count and net.count.dtype == nnlite.int64  # not floating point: untouched
    assert net.body[0].steps.dtype == nnlite.float64
    net.float()
    assert net.scale.dtype == nnlite.float32
    net.half()
    assert net.scale.dtype == nnlite.float16 and net.count.dtype == nnlite.int64


def test_type_casts_everything():
    net = Net().type(nnlite.float64)
    assert net.count.dtype == nnlite.float64 and net.scale.dtype == nnlite.float64


def test_to_forms():
    net = Net()
    w = net.body[0].weight
    assert net.to(nnlite.float64) is net and w.dtype == nnlite.float64 and net.body[0].weight is w
    net.to("cpu", nnlite.float32)
    assert w.dtype == nnlite.float32
    net.to(dtype=nnlite.float64, non_blocking=True)
    assert w.dtype == nnlite.float64
    net.to(nnlite.zeros(1, dtype=nnlite.float16))
    assert w.dtype == nnlite.float16 and net.count.dtype == nnlite.int64
    net.to(device="cpu").cpu()
    assert w.device == nnlite.device("cpu")
    with pytest.raises(TypeError) as e:
        net.to(nnlite.int64)
    assert str(e.value) == ("nn.Module.to only accepts floating point or complex dtypes, but got desired "
                            "dtype=nnlite.int64")


def test_moves_share_tied_parameter_once():
    shared = Linear(1, 1)
    net = nn.Sequential(shared, shared)
    net.double()
    assert net[0].weight is net[1].weight and net[0].weight.dtype == nnlite.float64


def test_optimizer_made_before_a_move_still_holds_the_parameters():
    net = Linear(2, 2)
    held = list(net.parameters())  # what an optimizer would keep
    net.double()
    net(nnlite.ones(1, 2, dtype=nnlite.float64)).sum().backward()
    assert all(p.grad is not None and p.grad.dtype == nnlite.float64 for p in held)


@pytest.mark.skipif(nnlite.cuda.is_available(), reason="checks the error on a machine without CuPy or a GPU")
@pytest.mark.parametrize("move", [lambda m: m.cuda(), lambda m: m.cuda(0), lambda m: m.to("cuda"),
                                  lambda m: m.to("cuda:0", nnlite.float64), lambda m: nn.Module().cuda()])
def test_cuda_without_gpu_raises_clearly_and_changes_nothing(move):
    net = Net()
    before = [(p, p._data) for p in net.parameters()] + [(b, b._data) for b in net.buffers()]
    with pytest.raises(RuntimeError) as e:
        move(net)
    msg = str(e.value)
    assert "CuPy" in msg and "pip install nnlite[cuda12]" in msg
    assert all(t._data is d for t, d in before) and net.scale.dtype == nnlite.float32


def test_apply_failure_changes_nothing():
    net = Net()
    before = [(p, p._data) for p in net.parameters()]
    calls = []

    def fails_late(t):
        calls.append(t)
        if len(calls) == 5:
            raise MemoryError("out of memory")
        return t._to(None, nnlite.float64)
    with pytest.raises(MemoryError):
        net._apply(fails_late)
    assert all(p._data is d for p, d in before)


def test_gpu_move_roundtrip(device):
    if device.type != "cuda":
        pytest.skip("GPU only")
    net = Net()
    w = net.body[0].weight
    net.cuda()
    assert w.device.type == "cuda" and net.body[0].weight is w and net.count.device.type == "cuda"
    out = net(nnlite.ones(1, 2, device=device))
    out.sum().backward()
    assert w.grad.device.type == "cuda"
    net.cpu()
    assert w.device.type == "cpu" and w.grad.device.type == "cpu"


# -- repr ---------------------------------------------------------------------------------------
def test_repr_tree():
    net = Net()
    assert repr(net) == (
        "Net(\n"
        "  (body): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "    (1): Linear(in_features=3, out_features=2, bias=False)\n"
        "  )\n"
        ")")
    assert repr(nn.Module()) == "Module()"


def test_repr_multiline_extra_repr_and_blank_lines():
    class Multi(nn.Module):
        def extra_repr(self):
            return "a=1\n\nb=2"
    m = Multi()
    assert repr(m) == "Multi(\n  a=1\n  \n  b=2\n)"
    outer = nn.Sequential(m)
    assert repr(outer) == "Sequential(\n  (0): Multi(\n    a=1\n\n    b=2\n  )\n)"  # blank lines stay empty
    m.child = nn.Module()
    assert repr(m) == "Multi(\n  a=1\n  \n  b=2\n  (child): Module()\n)"


# -- copies -------------------------------------------------------------------------------------
@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_deepcopy_and_pickle_give_independent_module(clone):
    net = Net()
    net.body[1].weight = nn.Parameter(nnlite.ones(2, 3))
    net.tied = nn.Sequential(net.body[0])  # a module reachable twice
    net.eval()
    new = clone(net)
    assert list(new.state_dict()) == list(net.state_dict())
    for (k, a), (_, b) in zip(net.state_dict().items(), new.state_dict().items()):
        assert a.tolist() == b.tolist() and a._data is not b._data, k
    assert type(new.scale) is nn.Parameter and new.scale.requires_grad
    assert new.tied[0] is new.body[0] and new.training is False
    assert new._non_persistent_buffers_set == set()
    with nnlite.no_grad():
        new.scale.fill_(3.0)
    assert net.scale.tolist() == [1.0]
    assert new(numpy.ones((1, 2), dtype=numpy.float32)).tolist() == [[v * 3 for v in net(nnlite.ones(1, 2))
                                                                     .tolist()[0]]]


def test_deepcopy_keeps_shared_parameter_shared():
    a, b = Linear(2, 2), Linear(2, 2)
    b.weight = a.weight
    net = nn.Sequential(a, b)
    new = copy.deepcopy(net)
    assert new[0].weight is new[1].weight and new[0].weight is not a.weight


def test_setstate_fills_missing_attributes():
    m = nn.Module.__new__(nn.Module)
    state = {k: v for k, v in Linear(1, 1).__dict__.items() if not k.startswith("_forward")
             and k != "_non_persistent_buffers_set"}
    m.__setstate__(state)
    assert m._forward_hooks == OrderedDict() and m._non_persistent_buffers_set == set()
