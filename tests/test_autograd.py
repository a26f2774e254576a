"""Autograd: backward, accumulation, retain_graph, hooks, grad modes, Function, gradcheck."""
import threading

import numpy
import pytest

import nnlite
from nnlite.autograd import Function, GradcheckError, gradcheck


def test_backward_scalar_and_accumulation():
    x = nnlite.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0, 9.0]  # accumulated in place
    g = x.grad
    (x * 1).sum().backward()
    assert x.grad is g


def test_backward_needs_gradient_for_non_scalar():
    x = nnlite.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        y.backward()
    y.backward(nnlite.tensor([1.0, 0.5, 0.0]))
    assert x.grad.tolist() == [2.0, 1.0, 0.0]
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(nnlite.ones(2))
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        nnlite.ones(1).backward()


def test_shared_subexpression_is_summed_once_in_topological_order():
    x = nnlite.tensor([2.0], requires_grad=True)
    a = x * x          # 4
    b = a * x          # x^3
    c = a + b          # x^2 + x^3
    c.backward()
    assert x.grad.tolist() == [2 * 2 + 3 * 4]


def test_retain_graph():
    x = nnlite.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_leaf_backward_and_unused_inputs():
    x = nnlite.tensor([1.0], requires_grad=True)
    x.backward(nnlite.tensor([3.0]))
    assert x.grad.tolist() == [3.0]
    a = nnlite.tensor([1.0], requires_grad=True)
    b = nnlite.tensor([1.0], requires_grad=True)
    (a * 2).sum().backward()
    assert b.grad is None


def test_grad_function_does_not_touch_dot_grad():
    x = nnlite.tensor([1.0, 2.0], requires_grad=True)
    y = nnlite.tensor([3.0], requires_grad=True)
    gx, gy = nnlite.autograd.grad((x * y).sum(), [x, y])
    assert gx.tolist() == [3.0, 3.0] and gy.tolist() == [3.0]
    assert x.grad is None
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        nnlite.autograd.grad((x * 2).sum(), [x, y])


def test_hooks_on_leaf_and_non_leaf():
    x = nnlite.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x.register_hook(lambda g: seen.append(g.tolist()))
    y = x * 3
    hy = y.register_hook(lambda g: g * 10)
    y.sum().backward()
    assert x.grad.tolist() == [30.0, 30.0] and seen == [[30.0, 30.0]]
    h.remove()
    hy.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0] and len(seen) == 1
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        nnlite.ones(1).register_hook(lambda g: g)
    with x.register_hook(lambda g: g * 0):
        x.grad = None
        (x * 3).sum().backward()
        assert x.grad.tolist() == [0.0, 0.0]


def test_retain_grad():
    x = nnlite.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    (y * y).sum().backward()
    assert y.grad.tolist() == [4.0, 8.0] and y.retains_grad


def test_grad_modes_context_and_decorator():
    x = nnlite.ones(2, requires_grad=True)
    with nnlite.no_grad():
        assert not nnlite.is_grad_enabled()
        assert not (x * 2).requires_grad
        with nnlite.enable_grad():
            assert (x * 2).requires_grad
    assert nnlite.is_grad_enabled()

    @nnlite.no_grad()
    def f():
        return x * 2
    assert not f().requires_grad and nnlite.is_grad_enabled()

    with nnlite.set_grad_enabled(False):
        assert not nnlite.is_grad_enabled()
    assert nnlite.is_grad_enabled()
    nnlite.set_grad_enabled(False)
    assert not nnlite.is_grad_enabled()
    nnlite.set_grad_enabled(True)

    @nnlite.set_grad_enabled(False)
    def g():
        return nnlite.is_grad_enabled()
    assert g() is False and nnlite.is_grad_enabled()

    @nnlite.no_grad()
    def gen():
        yield nnlite.is_grad_enabled()
    assert list(gen()) == [False]


def test_grad_mode_is_thread_local():
    result = {}

    def worker():
        result["enabled"] = nnlite.is_grad_enabled()
    with nnlite.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert result["enabled"] is True


class Cube(Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x ** 3 * scale

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False)
        return 3 * x ** 2 * g * ctx.scale, None


def test_custom_function():
    x = nnlite.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x, 2.0)
    assert y.tolist() == [2.0, 16.0] and y.grad_fn.name() == "CubeBackward"
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 24.0]
    assert gradcheck(lambda t: Cube.apply(t, 0.5), (nnlite.randn(4, dtype=nnlite.float64, requires_grad=True),))
    with pytest.raises(RuntimeError, match="apply"):
        Cube()


def test_wrong_number_of_gradients():
    class Bad(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    x = nnlite.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="returned an incorrect number of gradients \\(expected 2, got 1\\)"):
        Bad.apply(x, x).sum().backward()


def test_function_forward_runs_without_grad_and_outputs_link():
    class Probe(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.mode = nnlite.is_grad_enabled()
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = nnlite.ones(1, requires_grad=True)
    y = Probe.apply(x)
    assert y.grad_fn.mode is False and y.requires_grad
    assert y.grad_fn.next_functions[0][0] is x
    with nnlite.no_grad():
        assert Probe.apply(x).grad_fn is None


class WrongGrad(Function):
    @staticmethod
    def forward(ctx, x):
        return x * x

    @staticmethod
    def backward(ctx, g):
        return g  # should be 2 x g


def test_gradcheck_reports_input_and_element():
    # at 0.5 the wrong gradient g equals the right one 2xg, so the first mismatch is element (0, 1)
    x = nnlite.tensor([[0.5, 1.0], [2.0, 3.0]], dtype=nnlite.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \[2, 2\]\) at element \(0, 1\): numerical .* vs "
                                             r"analytical"):
        gradcheck(WrongGrad.apply, (x,))
    assert gradcheck(WrongGrad.apply, (x,), raise_exception=False) is False
    assert x.grad is None  # the caller's tensors are untouched


def test_gradcheck_needs_float64_and_grad_inputs():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda t: t * 2, (nnlite.ones(2, requires_grad=True),))
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda t: t * 2, (nnlite.ones(2, dtype=nnlite.float64),))


def test_gradcheck_mixed_inputs_and_multiple_outputs():
    a = nnlite.randn(3, dtype=nnlite.float64, requires_grad=True)
    b = nnlite.randn(3, dtype=nnlite.float64)
    assert gradcheck(lambda x, y, k: (x * y * k, x.exp()), (a, b, 3.0))


def test_backward_through_numpy_constant():
    x = nnlite.tensor([1.0, 2.0], requires_grad=True)
    y = x * numpy.array([3.0, 4.0], dtype=numpy.float32)
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 4.0]


def test_dot_grad_never_aliases_an_array_someone_else_holds():
    """.grad takes a backward's fresh array without a copy, but copies whatever another
    object still references: the caller's gradient, a hook's array, an array a Function
    keeps, the same array sent to two leaves."""
    seen = {}

    class Fresh(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            out = g * 2
            seen["ptr"] = out.numpy().ctypes.data   # an address, not a reference
            return out

    x = nnlite.tensor([1.0, 2.0], requires_grad=True)
    Fresh.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    assert x.grad.numpy().ctypes.data == seen["ptr"]       # taken, no copy

    kept = []

    class Keeps(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            out = g * 3
            kept.append(out)
            return out

    y = nnlite.tensor([1.0, 2.0], requires_grad=True)
    Keeps.apply(y).sum().backward()
    assert not numpy.shares_memory(y.grad.numpy(), kept[0].numpy())
    kept[0].numpy()[:] = 0
    assert y.grad.tolist() == [3.0, 3.0]

    z = nnlite.tensor([1.0, 2.0], requires_grad=True)
    given = numpy.array([5.0, 6.0])
    z.backward(nnlite.tensor(given))                                    # a leaf root
    assert z.grad.tolist() == [5.0, 6.0] and not numpy.shares_memory(z.grad.numpy(), given)
    given2 = nnlite.tensor([1.0, 1.0])
    (z * 1.0).backward(given2)
    assert z.grad.tolist() == [6.0, 7.0] and given2.tolist() == [1.0, 1.0]

    a = nnlite.tensor([1.0], requires_grad=True)
    b = nnlite.tensor([1.0], requires_grad=True)
    (a + b).sum().backward()                                            # one array, two leaves
    assert not numpy.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.numpy()[:] = 9
    assert b.grad.tolist() == [1.0]

    hooked = numpy.array([4.0, 4.0])
    h = nnlite.tensor([1.0, 2.0], requires_grad=True)
    h.register_hook(lambda grad: nnlite.tensor(hooked))
    (h * 2).sum().backward()
    assert h.grad.tolist() == [4.0, 4.0] and not numpy.shares_memory(h.grad.numpy(), hooked)
