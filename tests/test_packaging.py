"""The sdist a packager gets: it builds without a compiler or Cython, and carries the sources,
tests and docs (the wheel itself is built and smoke-tested by .ci/wheel_smoke, not here)."""
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sdist_names(tmp_path_factory):
    pytest.importorskip("setuptools")
    if not (ROOT / "setup.py").exists():
        pytest.skip("not a source tree")
    out = tmp_path_factory.mktemp("sdist")
    # setup.py imports neither numpy nor Cython and compiles nothing for an sdist
    code = ("import sys; from setuptools import build_meta; "
            "print(build_meta.build_sdist(sys.argv[1]))")
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    name = proc.stdout.split()[-1]
    with tarfile.open(out / name) as tar:
        top = name[:-len(".tar.gz")]
        return {m.name[len(top) + 1:] for m in tar.getmembers() if m.isfile()}


def _tracked(pattern):
    return {str(p.relative_to(ROOT)) for p in ROOT.glob(pattern) if "__pycache__" not in p.parts}


def test_sdist_has_build_sources(sdist_names):
    for f in ["setup.py", "pyproject.toml", "README.md", "nnlite/_kernels/conv1d.pxi",
              "nnlite/_kernels/omp_compat.h", "nnlite/_kernels/conv1d_cuda.cu"]:
        assert f in sdist_names
    assert _tracked("nnlite/_kernels/*.pyx") <= sdist_names


def test_sdist_has_tests_and_docs(sdist_names):
    assert _tracked("tests/*.py") <= sdist_names
    assert _tracked("docs/*.md") <= sdist_names
    assert "docs/install.md" in sdist_names and "tests/conftest.py" in sdist_names


def test_sdist_has_no_build_outputs(sdist_names):
    built = sorted(n for n in sdist_names if n.endswith((".so", ".pyd", ".c", ".pyc")))
    assert built == []
