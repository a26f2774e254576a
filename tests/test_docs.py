"""The examples in README.md and docs/*.md run, and every docstring example passes."""
import doctest
import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path

import pytest

import nnlite

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
# modules that import an optional dependency at import time, and that dependency
# nnlite modules that need an optional dependency, and the import that provides it
OPTIONAL = {"nnlite.sklearn": "sklearn", "nnlite.dask": "dask.array", "nnlite.onnx": "onnx"}


def _blocks():
    for page in PAGES:
        for i, code in enumerate(BLOCK.findall(page.read_text())):
            yield pytest.param(code, id=f"{page.name}-{i}")


@pytest.mark.parametrize("code", list(_blocks()))
def test_doc_example_runs(code, tmp_path, monkeypatch):
    for module, dependency in OPTIONAL.items():
        if module in code:
            pytest.importorskip(dependency)
    if "import dask" in code:
        pytest.importorskip("dask.array")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<doc>", "exec"), {"__name__": "__doc_example__"})


def _runnable_here(name):
    """False for a kernel variant compiled for instructions this CPU lacks: importing it would
    end the interpreter with SIGILL."""
    from nnlite._kernels import conv1d_cpu
    prefix = "nnlite._kernels._conv1d_"
    return not name.startswith(prefix) or name[len(prefix):] in conv1d_cpu.supported_variants()


def _modules():
    names = ["nnlite"]
    for info in pkgutil.walk_packages(nnlite.__path__, "nnlite."):
        if info.name.startswith("nnlite._kernels.conv1d_cuda") or info.name.endswith("__main__"):
            continue
        if not _runnable_here(info.name):
            continue
        names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def _public_objects():
    import inspect
    seen = set()
    for name in _modules():
        if any(part.startswith("_") for part in name.split(".")[1:]):
            continue  # private modules: their public names are re-exported and checked where they land
        if name in OPTIONAL and importlib.util.find_spec(OPTIONAL[name]) is None:
            continue  # an edge module whose optional dependency is not installed
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")]):
            obj = getattr(module, attr, None)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if not getattr(obj, "__module__", "").startswith("nnlite") or id(obj) in seen:
                continue
            seen.add(id(obj))
            yield f"{name}.{attr}", obj
            if inspect.isclass(obj):
                for meth_name, meth in vars(obj).items():
                    if meth_name.startswith("_") or not (inspect.isfunction(meth) or isinstance(meth, property)):
                        continue
                    yield f"{name}.{attr}.{meth_name}", getattr(obj, meth_name)


def test_every_public_name_has_a_docstring():
    import inspect
    missing = []
    for qualname, obj in _public_objects():
        doc = inspect.getdoc(obj)  # an override inherits its base's docstring, as in help()
        if not (doc and doc.strip()):
            missing.append(qualname)
    assert missing == []
