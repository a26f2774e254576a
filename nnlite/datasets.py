"""Time-series classification data: the UCR/UEA ``.ts`` reader and a synthetic generator.

Everything here returns plain numpy arrays, ready for
:class:`nnlite.utils.data.TensorDataset`:

>>> import nnlite.datasets
>>> X, y = nnlite.datasets.cylinder_bell_funnel(6, length=64)
>>> X.shape, X.dtype, sorted(set(y.tolist()))
((6, 1, 64), dtype('float32'), [0, 1, 2])

The ``.ts`` format (see ``docs/data.md``): ``#`` comment lines, ``@key value``
header lines ending with ``@data``, then one series per line with the values of
a channel separated by ``,``, channels separated by ``:`` and the class label
after the last ``:``; ``?`` marks a missing value.
"""
import os

import numpy

__all__ = ["load_ts", "load_ucr", "cylinder_bell_funnel"]

_BOOL_KEYS = ("timestamps", "missing", "univariate", "equallength")
_INT_KEYS = ("dimensions", "serieslength")


def load_ts(path):
    """Read one UCR/UEA ``.ts`` file into ``(X, y, classes)``.

    ``X`` is a float32 array ``(n_series, n_channels, length)`` with NaN for
    missing values, ``y`` the int64 index of each series' label in ``classes``,
    and ``classes`` the label strings: those declared by ``@classLabel``, or
    those present when nothing is declared, sorted (numerically when every
    label is a number, so ``'2' < '10'``).  Only equal-length series without
    time stamps are read.  Malformed input raises ``ValueError`` naming the file
    and the 1-based line number.

    >>> import nnlite.datasets, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.ts"
    >>> _ = path.write_text("@problemName tiny\\n@classLabel true b a\\n@data\\n"
    ...                     "1,2,3:0,?,1:a\\n4,5,6:7,8,9:b\\n")
    >>> X, y, classes = nnlite.datasets.load_ts(path)
    >>> X.shape, y.tolist(), classes
    ((2, 2, 3), [0, 1], ['a', 'b'])
    >>> X[0, 1].tolist()
    [0.0, nan, 1.0]
    """
    X, labels, declared, _ = _parse(path)
    classes = _sorted_labels(declared if declared is not None else set(labels.tolist()))
    return X, _encode(labels, classes), classes


def load_ucr(folder, name=None):
    """Read ``<folder>/<name>_TRAIN.ts`` and ``_TEST.ts`` → ``(X_train, y_train, X_test, y_test, classes)``.

    ``name`` defaults to the folder's base name, as the archive lays data sets
    out.  Both splits share one class mapping (the union of their labels), so
    ``y_test`` can be compared with predictions of a model trained on
    ``y_train``.

    >>> import nnlite.datasets, pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "Toy"; d.mkdir()
    >>> _ = (d / "Toy_TRAIN.ts").write_text("@classLabel true 1 2 10\\n@data\\n1,2:10\\n3,4:2\\n")
    >>> _ = (d / "Toy_TEST.ts").write_text("@classLabel true 1 2 10\\n@data\\n5,6:1\\n")
    >>> Xtr, ytr, Xte, yte, classes = nnlite.datasets.load_ucr(d)
    >>> ytr.tolist(), yte.tolist(), classes
    ([2, 1], [0], ['1', '2', '10'])
    """
    folder = os.fspath(folder)
    if name is None:
        name = os.path.basename(os.path.normpath(folder))
    parts = [_parse(os.path.join(folder, f"{name}_{split}.ts")) for split in ("TRAIN", "TEST")]
    found = set()
    for X, labels, declared, _ in parts:
        found.update(declared if declared is not None else labels.tolist())
    classes = _sorted_labels(found)
    (Xtr, ltr, _, _), (Xte, lte, _, _) = parts
    return Xtr, _encode(ltr, classes), Xte, _encode(lte, classes), classes


def cylinder_bell_funnel(n, length=128, seed=0):
    """``n`` series of Saito's (1994) Cylinder–Bell–Funnel task → ``(X, y)``.

    Class 0 (cylinder) is a plateau on ``[a, b]``, class 1 (bell) a ramp up
    over it, class 2 (funnel) a ramp down; the height is ``6 + η`` with
    ``η ~ N(0, 1)``, every point gets ``N(0, 1)`` noise, ``a ~ U{16..32}`` and
    ``b - a ~ U{32..96}`` (scaled by ``length / 128``).  Each series is then
    z-normalised.  ``X`` is float32 ``(n, 1, length)``, ``y`` int64 with
    classes as balanced as ``n`` allows; ``seed`` makes the draw repeatable
    without touching any global generator.

    >>> import nnlite.datasets
    >>> X, y = nnlite.datasets.cylinder_bell_funnel(300, seed=1)
    >>> X.shape, numpy.bincount(y).tolist()
    ((300, 1, 128), [100, 100, 100])
    >>> bool(abs(X.mean(-1)).max() < 1e-5 and abs(X.std(-1) - 1).max() < 1e-4)
    True
    """
    n, length = int(n), int(length)
    if n < 0 or length < 1:
        raise ValueError(f"cylinder_bell_funnel: need n >= 0 and length >= 1, got n={n}, length={length}")
    rng = numpy.random.default_rng(seed)
    scale = length / 128.0
    y = rng.permutation(numpy.arange(n, dtype=numpy.int64) % 3)
    a = rng.integers(16, 33, n) * scale
    b = a + rng.integers(32, 97, n) * scale
    height = 6.0 + rng.standard_normal(n)
    t = numpy.arange(length, dtype=numpy.float64)
    a, b, height = a[:, None], b[:, None], height[:, None]
    inside = (t >= a) & (t <= b)
    ramp = numpy.where(y[:, None] == 1, (t - a) / (b - a), (b - t) / (b - a))
    shape = numpy.where(y[:, None] == 0, 1.0, ramp)
    x = height * inside * shape + rng.standard_normal((n, length))
    x -= x.mean(axis=1, keepdims=True)
    std = x.std(axis=1, keepdims=True)
    x /= numpy.where(std > 0, std, 1.0)
    return x[:, None, :].astype(numpy.float32), y


# -- parsing -------------------------------------------------------------------------------------------

def _parse(path):
    """``(X, labels, declared, header)``: ``labels`` a str array, ``declared`` a list or None."""
    path = os.fspath(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    lines = text.splitlines()

    def fail(lineno, msg):
        raise ValueError(f"{path}, line {lineno}: {msg}")

    header = {}
    declared = None
    labelled = True
    start = None
    for i, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("@"):
            fail(i, "data line before @data (the header must end with an @data line)")
        key, _, value = line[1:].partition(" ")
        key, value = key.lower(), value.strip()
        if key == "data":
            start = i
            break
        if key in _BOOL_KEYS:
            header[key] = _parse_bool(value, key, lambda m: fail(i, m))
        elif key in _INT_KEYS:
            if not value.isdigit() or int(value) < 1:
                fail(i, f"@{key} expects a positive integer, got {value!r}")
            header[key] = int(value)
        elif key == "classlabel":
            words = value.split()
            labelled = _parse_bool(words[0] if words else "", key, lambda m: fail(i, m))
            if labelled:
                if len(words) < 2:
                    fail(i, "@classLabel true must be followed by the class labels")
                declared = list(dict.fromkeys(words[1:]))
            elif len(words) > 1:
                fail(i, "@classLabel false takes no labels")
        else:
            header[key] = value  # @problemName and keys this reader does not need
    if start is None:
        fail(len(lines), "end of file without an @data line: not a .ts file, or a truncated one")
    if header.get("timestamps"):
        fail(start, "@timeStamps true files are not supported (only plain comma-separated values)")
    if header.get("equallength") is False:
        fail(start, "@equalLength false: unequal-length series are not supported; "
                    "pad or resample them to one length first")
    n_ch = header.get("dimensions", 1 if header.get("univariate") else None)
    if header.get("univariate") and n_ch != 1:
        fail(start, f"@univariate true contradicts @dimensions {n_ch}")
    length = header.get("serieslength")

    # Per line: split off the label and check the shape with str methods (C speed); the values of
    # all lines are then parsed in one numpy call.
    declared_set = set(declared or ())
    bodies, labels, linenos = [], [], []
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            fail(i + 1, f"header line {line.split()[0]!r} after @data")
        if labelled:
            body, sep, label = line.rpartition(":")
            label = label.strip()
            if not sep or not label:
                fail(i + 1, "missing class label after the last ':'")
            if declared is not None and label not in declared_set:
                fail(i + 1, f"class label {label!r} is not declared by @classLabel {' '.join(declared)}")
        else:
            body, label = line, None
        chans = body.split(":")
        if n_ch is None:
            n_ch = len(chans)
        if len(chans) != n_ch:
            fail(i + 1, f"expected {n_ch} channel(s), found {len(chans)}")
        counts = {c.count(",") + 1 for c in chans}
        if length is None:
            length = next(iter(counts))
        if len(counts) != 1 or length not in counts:
            found = [c.count(",") + 1 for c in chans]
            fail(i + 1, f"series of unequal length (expected {length} values per channel, found "
                        f"{found[0] if len(found) == 1 else found}); unequal-length series are not supported")
        bodies.append(body.replace(":", ",").replace("?", "nan"))
        labels.append(label)
        linenos.append(i + 1)

    n_ch = n_ch or 1
    length = length or 0
    if not bodies:
        return (numpy.empty((0, n_ch, length), numpy.float32), numpy.array([], dtype=str),
                declared, header)
    try:
        X = numpy.loadtxt(bodies, delimiter=",", dtype=numpy.float32, comments=None, ndmin=2)
    except ValueError as exc:
        for body, lineno in zip(bodies, linenos):
            for v in body.split(","):
                try:
                    float(v)
                except ValueError:
                    fail(lineno, f"{v.strip()!r} is not a number (use '?' for a missing value)")
        raise ValueError(f"{path}: {exc}") from exc
    labels = numpy.array(labels, dtype=str) if labelled else None
    return X.reshape(len(bodies), n_ch, length), labels, (declared if labelled else []), header


def _parse_bool(value, key, fail):
    v = value.lower()
    if v not in ("true", "false"):
        fail(f"@{key} expects true or false, got {value!r}")
    return v == "true"


def _sorted_labels(labels):
    labels = list(labels)
    try:
        return sorted(labels, key=lambda s: (float(s), s))
    except ValueError:
        return sorted(labels)


def _encode(labels, classes):
    """int64 indices of ``labels`` (a str array, or None for unlabelled files) in ``classes``."""
    if labels is None:
        return None
    uniq, inverse = numpy.unique(labels, return_inverse=True)
    where = {c: k for k, c in enumerate(classes)}
    return numpy.array([where[u] for u in uniq.tolist()], dtype=numpy.int64)[inverse.reshape(-1)]
