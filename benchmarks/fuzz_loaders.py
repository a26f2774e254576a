"""Coverage-guided fuzzing of nnlite's checkpoint loaders with atheris (``pip install atheris``).

Usage::

    python benchmarks/fuzz_loaders.py LOADER [libFuzzer options, e.g. -max_total_time=600]

LOADER is one of

* ``torch-zip``: the input is the ``data.pkl`` of a PyTorch zip archive whose
  storages ``data/0`` (24 bytes) and ``data/1`` (8 bytes) exist, so mutations
  reach the restricted pickle VM and the tensor builders past the zip CRCs;
* ``zip``: the input is a whole file given to ``nnlite.load`` (zip checks,
  nnlite's own format, PyTorch's archive layout);
* ``torch-legacy``: the input is a legacy (pre-zip) PyTorch file;
* ``safetensors``: the input is a safetensors file.

Every input must either load or raise ``nnlite.serialization.CheckpointError``;
any other exception, a hang (``-timeout``) or a memory blow-up
(``-rss_limit_mb``) is a crash that libFuzzer reports and saves as
``crash-*``.  Seeds are valid files written by nnlite (and by torch when it is
installed).  libFuzzer prints the number of runs at the end ("Done N runs").
"""
import io
import os
import sys
import zipfile

import atheris

with atheris.instrument_imports():
    import nnlite
    from nnlite import _safetensors, _torch_format
    from nnlite.serialization import CheckpointError


def _zip_with(pkl):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/byteorder", b"little")
        zf.writestr("archive/data/0", bytes(range(24)))
        zf.writestr("archive/data/1", bytes(8))
    buf.seek(0)
    return buf


def _cpu(saved):
    return nnlite.device("cpu")


def one_input(loader, counter):
    import time
    count = [0, None]

    def run(data):
        count[0] += 1
        if count[1] is None:
            count[1] = time.monotonic()
        if counter and count[0] % 5000 == 0:  # runs and seconds since the first run (startup excluded)
            with open(counter, "w") as fh:
                fh.write(f"{count[0]} runs in {time.monotonic() - count[1]:.0f} s\n")
        try:
            if loader == "torch-zip":
                buf = _zip_with(data)
                _torch_format.load_zip(buf, "<fuzz>", _cpu)
            elif loader == "zip":
                nnlite.load(io.BytesIO(data))
            elif loader == "torch-legacy":
                _torch_format.load_legacy(data, "<fuzz>", _cpu)
            else:
                _safetensors.load(data, "<fuzz>")
        except CheckpointError:
            pass
    return run


def seeds(loader, directory):
    """Write valid example files for ``loader`` into ``directory`` (the initial corpus)."""
    import collections
    import numpy
    os.makedirs(directory, exist_ok=True)
    sd = collections.OrderedDict(w=nnlite.arange(6.0).reshape(2, 3), b=nnlite.tensor([7]))
    sd["v"] = sd["w"][:, 1]
    sd._metadata = {"": {"version": 1}}
    obj = {"model": sd, "epoch": 3, "hist": [0.5, (1, "x"), None, True], "p": nnlite.nn.Parameter(nnlite.ones(2))}
    out = []
    if loader in ("torch-zip", "zip"):
        buf = io.BytesIO()
        _torch_format.save(collections.OrderedDict(w=sd["w"], b=sd["b"]), buf)
        zf = zipfile.ZipFile(buf)
        pkl = zf.read("archive/data.pkl")
        out.append(pkl if loader == "torch-zip" else buf.getvalue())
        if loader == "zip":
            buf = io.BytesIO()
            nnlite.save(obj, buf)
            out.append(buf.getvalue())
            buf = io.BytesIO()
            nnlite.save(dict(obj, size=nnlite.Size([2, 3])), buf, format="torch")
            out.append(buf.getvalue())
    elif loader == "safetensors":
        buf = io.BytesIO()
        nnlite.save({"a": numpy.ones((2, 3), numpy.float32), "b": numpy.arange(3), "c": numpy.zeros(0, bool)},
                    buf, format="safetensors")
        out.append(buf.getvalue())
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and loader in ("torch-legacy", "zip", "safetensors"):
        tsd = collections.OrderedDict(w=torch.arange(6.0).reshape(2, 3), h=torch.ones(2, dtype=torch.bfloat16))
        tsd["v"] = tsd["w"][:, 1]
        buf = io.BytesIO()
        if loader == "safetensors":
            import safetensors.torch
            out.append(safetensors.torch.save({"w": tsd["w"], "h": tsd["h"]}, metadata={"k": "v"}))
        else:
            torch.save({"sd": tsd, "n": 3, "p": torch.nn.Parameter(torch.zeros(2))}, buf,
                       _use_new_zipfile_serialization=loader == "zip")
            out.append(buf.getvalue())
    for i, data in enumerate(out):
        with open(os.path.join(directory, f"seed{i}"), "wb") as fh:
            fh.write(data)


def main():
    loader = sys.argv[1]
    if loader not in ("torch-zip", "zip", "torch-legacy", "safetensors"):
        raise SystemExit(__doc__)
    corpus = f"/tmp/nnlite_fuzz_corpus_{loader}"
    seeds(loader, corpus)
    argv = [sys.argv[0]] + sys.argv[2:] + [corpus]
    # the harness also counts its own runs (every 5000) into this file, whatever way libFuzzer stops
    atheris.Setup(argv, one_input(loader, os.environ.get("NNLITE_FUZZ_COUNT")))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
