"""scikit-learn estimators around :mod:`nnlite.models`: fit/predict on numpy arrays of series.

``FCNClassifier``, ``ResNetClassifier`` and ``InceptionTimeClassifier`` (an
ensemble of five networks whose softmax outputs are averaged), and the
regressors ``FCNRegressor``, ``ResNetRegressor``, ``InceptionTimeRegressor``
(mean squared error, one output per target).  ``X`` is
``(n_cases, n_channels, n_timepoints)`` (aeon's layout) or
``(n_cases, n_timepoints)`` for one channel; it is converted to float32.

Training follows the papers (Ismail Fawaz et al. 2019 and 2020): Adam, the
learning rate halved after 50 epochs without a lower training loss (floor
1e-4), and the weights of the epoch with the lowest training loss kept.  The
defaults are the papers' epochs and batch sizes; pass a small ``n_epochs`` for a
quick run:

>>> import numpy
>>> from nnlite.sklearn import FCNClassifier
>>> X = numpy.random.default_rng(0).standard_normal((20, 1, 16)).astype("float32")
>>> y = numpy.array(["a", "b"] * 10)
>>> X[y == "b"] += 3.0
>>> clf = FCNClassifier(n_epochs=5, filters=(8, 8, 8), random_state=0).fit(X, y)
>>> clf.predict(X[:4]).tolist(), clf.classes_.tolist(), len(clf.history_)
(['a', 'b', 'a', 'b'], ['a', 'b'], 5)

This module needs scikit-learn (``pip install nnlite[sklearn]``); ``import
nnlite`` does not import it.
"""
import contextlib
import math
import numbers
import sys

import numpy

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_array, check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised where scikit-learn is absent
    raise ImportError("nnlite.sklearn needs scikit-learn: pip install nnlite[sklearn]") from exc

import nnlite
from nnlite import nn
from nnlite.demo import train_epoch
from nnlite.models import FCN, InceptionTime, ResNet
from nnlite.optim import Adam
from nnlite.optim.lr_scheduler import ReduceLROnPlateau
from nnlite.utils.data import DataLoader, RandomSampler, TensorDataset

__all__ = ["FCNClassifier", "ResNetClassifier", "InceptionTimeClassifier",
           "FCNRegressor", "ResNetRegressor", "InceptionTimeRegressor"]

_PREDICT_BATCH = 256


# -- the one training loop ----------------------------------------------------------------------------

@contextlib.contextmanager
def _seeded(seed):
    """nnlite's generator seeded with ``seed`` inside the block (for the initial weights), restored after."""
    state = nnlite.get_rng_state()
    nnlite.manual_seed(seed)
    try:
        yield
    finally:
        nnlite.set_rng_state(state)


@contextlib.contextmanager
def _threads(n):
    """``nnlite.set_num_threads(n)`` inside the block (nothing when ``n`` is None), restored after."""
    old = nnlite.get_num_threads()
    if n is not None:
        nnlite.set_num_threads(n)
    try:
        yield
    finally:
        nnlite.set_num_threads(old)


def _progress(total, verbose, desc):
    """``show(epoch, loss, lr)``: a tqdm bar when tqdm is installed, else a plain line every tenth of the run."""
    if not verbose:
        return lambda epoch, loss, lr: None
    try:
        from tqdm import tqdm
    except ImportError:
        every = max(1, total // 10)

        def line(epoch, loss, lr):
            if epoch % every == 0 or epoch == total:
                print(f"{desc}: epoch {epoch}/{total}  loss {loss:.4f}  lr {lr:.1e}", file=sys.stderr, flush=True)
        return line
    bar = tqdm(total=total, desc=desc, unit="epoch", file=sys.stderr)

    def show(epoch, loss, lr):
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.1e}")
        if epoch == total:
            bar.close()
    return show


def train_network(model, X, y, loss_fn, *, n_epochs, batch_size, learning_rate, seed, verbose=0, desc="training"):
    """Train ``model`` on tensors ``X``, ``y`` with the papers' recipe; returns the per-epoch training losses.

    Adam(``learning_rate``); ``ReduceLROnPlateau(factor=0.5, patience=50,
    min_lr=1e-4)`` stepped with each epoch's mean training loss; the samples
    shuffled every epoch by a generator seeded with ``seed``.  At the end the
    model holds the weights of the epoch with the lowest training loss and is in
    eval mode.  Every estimator of this module trains through this function.
    """
    optimizer = Adam(model.parameters(), lr=learning_rate)
    scheduler = ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=50, min_lr=1e-4)
    n, length = X.shape[0], X.shape[-1]
    if n == 1 and length == 1:
        raise ValueError("cannot train BatchNorm1d on one sample of 1 time point (n_features = 1): "
                         "it needs more than one value per channel")
    dataset = TensorDataset(X, y)
    drop_last = False
    if length == 1:  # BatchNorm1d needs two values per channel: two samples a batch, a last lone one skipped
        batch_size = max(batch_size, 2)
        drop_last = n % batch_size == 1
    loader = DataLoader(dataset, batch_size, sampler=RandomSampler(dataset, generator=numpy.random.default_rng(seed)),
                        drop_last=drop_last)
    show = _progress(n_epochs, verbose, desc)
    best_loss, best_state, losses = math.inf, None, []
    for epoch in range(1, n_epochs + 1):
        loss = train_epoch(model, loader, optimizer, loss_fn)
        scheduler.step(loss)
        losses.append(loss)
        if loss < best_loss or best_state is None:
            best_loss, best_state = loss, {k: v.clone() for k, v in model.state_dict().items()}
        show(epoch, loss, optimizer.param_groups[0]["lr"])
    model.load_state_dict(best_state)
    model.eval()
    return losses


# -- the estimators -----------------------------------------------------------------------------------

def _check_positive_int(name, value, allow_none=False):
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int{' or None' if allow_none else ''}, got {value!r}")


class _DeepEstimator(BaseEstimator):
    """What the six estimators share: input checks, seeding, threads, fitting and running the networks."""

    _batch_cap = 16  # batch_size=None: the paper's rule, min(n_cases // 10, _batch_cap), at least 1

    def _network(self, in_channels, n_outputs):
        raise NotImplementedError

    def _n_networks(self):
        return 1

    def _batch_size_for(self, n):
        if self.batch_size is not None:
            return min(self.batch_size, n)
        return max(1, min(n // 10, self._batch_cap))

    def _check_params(self):
        _check_positive_int("n_epochs", self.n_epochs)
        _check_positive_int("batch_size", self.batch_size, allow_none=True)
        _check_positive_int("n_threads", self.n_threads, allow_none=True)
        if not (isinstance(self.learning_rate, numbers.Real) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        _check_positive_int("n_estimators", self._n_networks())

    def _validate_X(self, X, y=None, reset=False, **y_kwargs):
        """``X`` (and ``y``) checked and ``X`` as float32 ``(n, C, L)``."""
        kw = dict(allow_nd=True, dtype=numpy.float32, ensure_all_finite=True, ensure_min_features=1)
        if reset:
            self._check_params()  # before anything is set on self
            X, y = validate_data(self, X, y, reset=True, **kw, **y_kwargs)
        else:
            check_is_fitted(self)
            X = check_array(X, **kw)
            if self._fit_ndim == 2 and X.ndim == 2:
                X = validate_data(self, X, reset=False, **kw)  # a table fitted is a table: same column count
        if X.ndim not in (2, 3):
            raise ValueError(f"X must be 2D (n_cases, n_timepoints) or 3D (n_cases, n_channels, n_timepoints), "
                             f"got an array of shape {X.shape}")
        ndim = X.ndim
        if X.ndim == 2:
            X = X[:, None, :]
        if reset:
            self._fit_ndim = ndim
            self.n_channels_ = X.shape[1]
        elif X.shape[1] != self.n_channels_:
            raise ValueError(f"X has {X.shape[1]} channels, but {type(self).__name__} was fitted with "
                             f"{self.n_channels_} channels")
        return (X, y) if reset else X

    def _fit_networks(self, X, targets, n_outputs, loss_fn):
        seeds = check_random_state(self.random_state).randint(0, 2 ** 31 - 1, size=self._n_networks())
        device = nnlite.device(self.device)
        Xt = nnlite.tensor(X, device=device)
        yt = nnlite.tensor(targets, device=device)
        networks, histories = [], []
        with _threads(self.n_threads):
            for i, seed in enumerate(seeds):
                with _seeded(int(seed)):
                    net = self._network(X.shape[1], n_outputs).to(device)
                desc = type(self).__name__ + (f" {i + 1}/{len(seeds)}" if len(seeds) > 1 else "")
                histories.append(train_network(
                    net, Xt, yt, loss_fn, n_epochs=self.n_epochs, batch_size=self._batch_size_for(len(X)),
                    learning_rate=self.learning_rate, seed=int(seed), verbose=self.verbose, desc=desc))
                networks.append(net)
        self.networks_ = networks
        self.histories_ = histories
        self.history_ = numpy.mean(histories, axis=0).tolist()
        return self

    def _outputs(self, X, transform):
        """``transform(logits)`` of every network on ``X`` (numpy, float64), averaged over the networks."""
        X = self._validate_X(X)
        device = nnlite.device(self.device)
        total = None
        with _threads(self.n_threads), nnlite.no_grad():
            for net in self.networks_:
                parts = []
                for lo in range(0, len(X), _PREDICT_BATCH):
                    out = transform(net(nnlite.tensor(X[lo:lo + _PREDICT_BATCH], device=device)))
                    parts.append(out.cpu().numpy().astype(numpy.float64))
                out = numpy.concatenate(parts)
                total = out if total is None else total + out
        return total / len(self.networks_)


class _Classifier(ClassifierMixin, _DeepEstimator):
    def fit(self, X, y):
        """Train on series ``X`` and labels ``y``; returns ``self``."""
        X, y = self._validate_X(X, y, reset=True)
        check_classification_targets(y)
        self.classes_, codes = numpy.unique(y, return_inverse=True)
        return self._fit_networks(X, codes.astype(numpy.int64), len(self.classes_), nn.CrossEntropyLoss())

    def predict_proba(self, X):
        """Class probabilities ``(n_cases, n_classes)``, columns in ``classes_`` order (softmax, ensemble mean)."""
        return self._outputs(X, lambda logits: logits.softmax(1))

    def predict(self, X):
        """The most probable class of each series."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(1)]


class _Regressor(RegressorMixin, _DeepEstimator):
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # one output per target column
        return tags

    def fit(self, X, y):
        """Train on series ``X`` and targets ``y`` (``(n_cases,)`` or ``(n_cases, n_targets)``); returns ``self``."""
        X, y = self._validate_X(X, y, reset=True, multi_output=True, y_numeric=True)
        y = numpy.asarray(y, dtype=numpy.float32)
        self._y_1d = y.ndim == 1
        y2 = y.reshape(len(y), -1)
        return self._fit_networks(X, y2, y2.shape[1], nn.MSELoss())

    def predict(self, X):
        """Predicted targets, ``(n_cases,)`` when fitted on 1D ``y`` else ``(n_cases, n_targets)``."""
        out = self._outputs(X, lambda out: out)
        return out[:, 0] if self._y_1d else out


_COMMON_DOC = """
    Parameters
    ----------
    n_epochs : int, default {epochs}
        Training epochs (the paper's count is the default).
    batch_size : int or None, default None
        None: the paper's rule, {batch_rule}.
    learning_rate : float, default 1e-3
        Adam's initial learning rate; halved after 50 epochs without a lower training loss, to at least 1e-4.
    random_state : int, RandomState or None, default None
        Seeds the initial weights and the shuffling; an int gives bitwise the same model whatever the
        thread count.
    verbose : int, default 0
        1: a progress bar with epoch and loss (tqdm when installed, a plain line otherwise).
    n_threads : int or None, default None
        Threads for nnlite's kernels during fit and predict (None: leave ``nnlite.get_num_threads()``).
    device : str, default 'cpu'
        Where the networks live and run ('cpu' or 'cuda').
{extra}
    Attributes
    ----------
    networks_ : list of nnlite.nn.Module
        The trained network(s), in eval mode, with the weights of their lowest-training-loss epoch.
    history_ : list of float
        Training loss of each epoch (for an ensemble: the mean over its networks).
    histories_ : list of list of float
        Each network's per-epoch training loss.
    n_features_in_ : int
        ``X.shape[1]`` at fit: the time points of a 2D ``X``, the channels of a 3D one.
    n_channels_ : int
        Channels of the series seen at fit.
"""


def _doc(summary, epochs, batch_rule, extra, example):
    return summary + "\n" + _COMMON_DOC.format(epochs=epochs, batch_rule=batch_rule, extra=extra) + example


_FCN_EXTRA = """    filters : tuple of 3 ints, default (128, 256, 128)
        Widths of the three convolutions (smaller for quick runs).
"""
_RESNET_EXTRA = """    filters : tuple of 3 ints, default (64, 128, 128)
        Widths of the three residual blocks (smaller for quick runs).
"""
_INCEPTION_EXTRA = """    n_estimators : int, default 5
        Networks in the ensemble (the paper's is 5); their outputs are averaged.
    depth, n_filters, bottleneck, kernel_sizes : see :class:`nnlite.models.InceptionTime`
        Defaults 6, 32, 32, (40, 20, 10): the paper's.
"""


def _store(estimator, arguments):
    """Set each constructor argument as an attribute of the same name, unchanged (scikit-learn's rule)."""
    for name, value in arguments.items():
        if name != "self":
            setattr(estimator, name, value)


class _FCNMixin:
    _batch_cap = 16

    def __init__(self, n_epochs=2000, batch_size=None, learning_rate=1e-3, random_state=None, verbose=0,
                 n_threads=None, device="cpu", filters=(128, 256, 128)):
        _store(self, locals())

    def _network(self, in_channels, n_outputs):
        return FCN(in_channels, n_outputs, filters=tuple(self.filters))


class _ResNetMixin:
    _batch_cap = 64

    def __init__(self, n_epochs=1500, batch_size=None, learning_rate=1e-3, random_state=None, verbose=0,
                 n_threads=None, device="cpu", filters=(64, 128, 128)):
        _store(self, locals())

    def _network(self, in_channels, n_outputs):
        return ResNet(in_channels, n_outputs, filters=tuple(self.filters))


class _InceptionMixin:
    def __init__(self, n_epochs=1500, batch_size=None, learning_rate=1e-3, random_state=None, verbose=0,
                 n_threads=None, device="cpu", n_estimators=5, depth=6, n_filters=32, bottleneck=32,
                 kernel_sizes=(40, 20, 10)):
        _store(self, locals())

    def _n_networks(self):
        return self.n_estimators

    def _batch_size_for(self, n):
        return min(self.batch_size if self.batch_size is not None else 64, n)

    def _network(self, in_channels, n_outputs):
        return InceptionTime(in_channels, n_outputs, self.depth, self.n_filters, self.bottleneck,
                             tuple(self.kernel_sizes))


_FCN_BATCH = "``min(n_cases // 10, 16)`` (at least 1)"
_RESNET_BATCH = "``min(n_cases // 10, 64)`` (at least 1)"
_INCEPTION_BATCH = "64 (at most ``n_cases``)"


class FCNClassifier(_FCNMixin, _Classifier):
    __doc__ = _doc("""Classify series with the fully convolutional network (:class:`nnlite.models.FCN`).
""", 2000, _FCN_BATCH, _FCN_EXTRA, """
    >>> import numpy
    >>> from nnlite.sklearn import FCNClassifier
    >>> X = numpy.zeros((10, 2, 8), dtype="float32"); y = [0, 1] * 5
    >>> FCNClassifier(n_epochs=1, filters=(4, 4, 4), random_state=0).fit(X, y).predict_proba(X).shape
    (10, 2)
""")


class ResNetClassifier(_ResNetMixin, _Classifier):
    __doc__ = _doc("""Classify series with the residual network (:class:`nnlite.models.ResNet`).
""", 1500, _RESNET_BATCH, _RESNET_EXTRA, """
    >>> import numpy
    >>> from nnlite.sklearn import ResNetClassifier
    >>> X = numpy.zeros((10, 8), dtype="float32"); y = ["u", "v"] * 5
    >>> ResNetClassifier(n_epochs=1, filters=(4, 4, 4), random_state=0).fit(X, y).predict(X[:2]).shape
    (2,)
""")


class InceptionTimeClassifier(_InceptionMixin, _Classifier):
    __doc__ = _doc("""Classify series with an ensemble of InceptionTime networks (:class:`nnlite.models.InceptionTime`).

    The paper's InceptionTime: ``n_estimators`` networks trained from different random
    initialisations, their softmax outputs averaged.
""", 1500, _INCEPTION_BATCH, _INCEPTION_EXTRA, """
    >>> import numpy
    >>> from nnlite.sklearn import InceptionTimeClassifier
    >>> X = numpy.zeros((10, 8), dtype="float32"); y = [0, 1] * 5
    >>> clf = InceptionTimeClassifier(n_epochs=1, n_estimators=2, depth=3, n_filters=4, bottleneck=4,
    ...                               kernel_sizes=(5, 3), random_state=0).fit(X, y)
    >>> len(clf.networks_), clf.predict_proba(X).sum(1).round(6).tolist()[:2]
    (2, [1.0, 1.0])
""")


class FCNRegressor(_FCNMixin, _Regressor):
    __doc__ = _doc("""Regress on series with the fully convolutional network (mean squared error loss).
""", 2000, _FCN_BATCH, _FCN_EXTRA, """
    >>> import numpy
    >>> from nnlite.sklearn import FCNRegressor
    >>> X = numpy.zeros((10, 1, 8), dtype="float32"); y = numpy.arange(10.0)
    >>> FCNRegressor(n_epochs=1, filters=(4, 4, 4), random_state=0).fit(X, y).predict(X).shape
    (10,)
""")


class ResNetRegressor(_ResNetMixin, _Regressor):
    __doc__ = _doc("""Regress on series with the residual network (mean squared error loss).
""", 1500, _RESNET_BATCH, _RESNET_EXTRA, """
    >>> import numpy
    >>> from nnlite.sklearn import ResNetRegressor
    >>> X = numpy.zeros((10, 1, 8), dtype="float32"); y = numpy.ones((10, 2))
    >>> ResNetRegressor(n_epochs=1, filters=(4, 4, 4), random_state=0).fit(X, y).predict(X).shape
    (10, 2)
""")


class InceptionTimeRegressor(_InceptionMixin, _Regressor):
    __doc__ = _doc("""Regress on series with an ensemble of InceptionTime networks (outputs averaged, MSE loss).
""", 1500, _INCEPTION_BATCH, _INCEPTION_EXTRA, """
    >>> import numpy
    >>> from nnlite.sklearn import InceptionTimeRegressor
    >>> X = numpy.zeros((10, 1, 8), dtype="float32"); y = numpy.arange(10.0)
    >>> reg = InceptionTimeRegressor(n_epochs=1, n_estimators=2, depth=3, n_filters=4, bottleneck=4,
    ...                              kernel_sizes=(5, 3), random_state=0).fit(X, y)
    >>> reg.predict(X).shape
    (10,)
""")
