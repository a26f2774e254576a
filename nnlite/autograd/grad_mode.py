"""Whether operations record an autograd graph: per thread, as in PyTorch.

``no_grad``, ``enable_grad`` and ``set_grad_enabled`` work as context managers
and as decorators; ``is_grad_enabled()`` reads the calling thread's flag.
"""
import functools
import inspect
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
           "is_inference_mode_enabled"]


class _State(threading.local):
    enabled = True


_state = _State()


def is_grad_enabled():
    """True when operations in this thread record gradients.

    >>> import nnlite
    >>> with nnlite.no_grad():
    ...     nnlite.is_grad_enabled()
    False

    See PyTorch's ``torch.is_grad_enabled``.
    """
    return _state.enabled


class _GradMode:
    """Base of the three grad-mode switches: a context manager and a decorator."""

    _mode = True

    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = self._mode

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def clone(self):
        """A fresh context manager of the same kind (used by the decorator on each call)."""
        return type(self)()

    def __call__(self, fn):
        if inspect.isclass(fn):
            raise TypeError(f"{type(self).__name__} decorates functions, not classes")
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_wrapper(*args, **kwargs):
                gen = fn(*args, **kwargs)
                try:
                    with self.clone():
                        request = next(gen)
                    while True:
                        with self.clone():
                            response = yield request
                        with self.clone():
                            request = gen.send(response)
                except StopIteration as stop:
                    return stop.value
            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Disable gradient recording in this thread (context manager or decorator).

    >>> import nnlite
    >>> x = nnlite.ones(2, requires_grad=True)
    >>> with nnlite.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False

    See PyTorch's ``torch.no_grad``.
    """

    _mode = False

    def __init__(self):
        pass


class enable_grad(_GradMode):
    """Enable gradient recording in this thread, e.g. inside ``no_grad`` (see ``torch.enable_grad``)."""

    _mode = True

    def __init__(self):
        pass


class set_grad_enabled(_GradMode):
    """Set gradient recording on or off: ``set_grad_enabled(False)`` as a call, context or decorator.

    Called plainly it takes effect at once (as PyTorch's does); as a context
    manager the previous mode is restored on exit.

    >>> import nnlite
    >>> with nnlite.set_grad_enabled(False):
    ...     nnlite.is_grad_enabled()
    False
    """

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled expects a bool, but got {type(mode).__name__}")
        self._prev = _state.enabled
        self._mode = mode
        _state.enabled = mode

    def __enter__(self):
        _state.enabled = self._mode

    def __call__(self, fn):
        _state.enabled = self._prev  # as a decorator it only applies inside the function
        return super().__call__(fn)

    def clone(self):
        """A fresh context manager with the same mode (used by the decorator on each call)."""
        return _Restoring(self._mode)


class _Restoring(_GradMode):
    def __init__(self, mode):
        self._mode = mode


class inference_mode(_GradMode):
    """``inference_mode()`` (or ``inference_mode(True)``): no gradients are recorded, as in ``no_grad``;
    ``inference_mode(False)`` changes nothing.  A context manager and a decorator.

    nnlite has no separate inference tensors: inside the block it behaves as
    :class:`no_grad`.

    >>> import nnlite
    >>> with nnlite.inference_mode():
    ...     nnlite.is_grad_enabled(), nnlite.is_inference_mode_enabled()
    (False, True)

    See PyTorch's ``torch.inference_mode``.
    """

    def __init__(self, mode=True):
        if not isinstance(mode, bool):
            raise TypeError(f"inference_mode expects a bool, but got {type(mode).__name__}")
        self.mode = mode

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):  # bare ``@inference_mode``: decorate at once
            return cls(True)(mode)
        return super().__new__(cls)

    def __enter__(self):
        self._prev = _state.enabled
        self._prev_inf = _state_inference.enabled
        if self.mode:
            _state.enabled = False
            _state_inference.enabled = True

    def __exit__(self, *exc):
        _state.enabled = self._prev
        _state_inference.enabled = self._prev_inf
        return False

    def clone(self):
        """A fresh context manager with the same mode (used by the decorator on each call)."""
        return inference_mode(self.mode)


class _InferenceState(threading.local):
    enabled = False


_state_inference = _InferenceState()


def is_inference_mode_enabled():
    """True inside an ``inference_mode()`` block (see ``torch.is_inference_mode_enabled``)."""
    return _state_inference.enabled
