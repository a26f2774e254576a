"""The examples in README.md and docs/*.md run, and every docstring example passes."""
import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import nnlite

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _blocks():
    for page in PAGES:
        for i, code in enumerate(BLOCK.findall(page.read_text())):
            yield pytest.param(code, id=f"{page.name}-{i}")


@pytest.mark.parametrize("code", list(_blocks()))
def test_doc_example_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if "nnlite.onnx" in code:
        pytest.importorskip("onnx")
    exec(compile(code, "<doc>", "exec"), {"__name__": "__doc_example__"})


from nnlite._kernels.conv1d_cpu import supported_variants  # noqa: E402
_RUNNABLE = supported_variants()


def _modules():
    names = ["nnlite"]
    for info in pkgutil.walk_packages(nnlite.__path__, "nnlite."):
        if info.name.startswith("nnlite._kernels.conv1d_cuda") or info.name.endswith("__main__"):
            continue
        if info.name.startswith("nnlite._kernels._conv1d_") and info.name.rsplit("_", 1)[1] not in _RUNNABLE:
            continue   # a kernel variant this CPU cannot run: importing it is SIGILL (avx512 on AVX2)
        names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def _public_objects():
    import inspect
    seen = set()
    for name in _modules():
        if any(part.startswith("_") for part in name.split(".")[1:]):
            continue  # private modules: their public names are re-exported and checked where they land
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
