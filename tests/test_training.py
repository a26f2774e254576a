"""End-to-end training: a small FCN learns GunPoint, checkpoints resume bitwise, the demo runs.

The training pieces come from ``examples/fcn_ucr.py`` (the FCN recipe of
Ismail Fawaz et al. 2019), imported as a module.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

import nnlite
from nnlite import nn

ROOT = Path(__file__).resolve().parents[1]
UCR = ROOT.parent / "shared" / "data" / "ucr"
sys.path.insert(0, str(ROOT / "examples"))
import fcn_ucr  # noqa: E402


def gunpoint():
    if not (UCR / "GunPoint").is_dir():
        pytest.skip("../shared/data/ucr/GunPoint is not present")
    return UCR / "GunPoint"


def run(*args, timeout=120):
    """Run ``python *args`` from the repository root with nnlite importable; return stdout."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, f"exit {out.returncode}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    return out.stdout


def assert_same_state(a, b):
    assert list(a) == list(b)
    for k in a:
        x, y = numpy.asarray(a[k].numpy()), numpy.asarray(b[k].numpy())
        assert x.dtype == y.dtype and x.shape == y.shape, k
        assert x.tobytes() == y.tobytes(), f"{k} differs: max |diff| {numpy.abs(x - y).max()}"


def test_batch_size_rule():
    assert [fcn_ucr.batch_size_for(n) for n in (1, 9, 10, 36, 50, 160, 1000)] == [1, 1, 1, 3, 5, 16, 16]


def small_net():
    # position-aware (pooling then Linear over time): learns GunPoint in a few epochs, where the FCN's global
    # average needs hundreds
    return nn.Sequential(nn.Conv1d(1, 8, 7, padding="same"), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(5),
                         nn.Flatten(), nn.Linear(8 * 30, 2))


def test_small_network_learns_gunpoint():
    X, y, X_test, y_test, classes = nnlite.datasets.load_ucr(gunpoint())
    nnlite.manual_seed(0)
    model = small_net()
    state, _, _, _ = fcn_ucr.fit(model, X, y, epochs=12, lr=3e-3)
    assert state.losses[-1] < 0.5 * state.losses[0], state.losses
    model.load_state_dict(state.best_state)
    accuracy = fcn_ucr.evaluate(model, X_test, y_test)
    assert accuracy >= 0.70, (accuracy, state.losses)  # chance is 0.5 (76 / 74 test series)
    # seeded: a second run repeats the losses exactly
    nnlite.manual_seed(0)
    again = fcn_ucr.fit(small_net(), X, y, epochs=2, lr=3e-3)[0]
    assert again.losses == state.losses[:2]


def _cbf_model(seed):
    nnlite.manual_seed(seed)
    # Dropout on the input draws from nnlite's generator at every step, so the RNG state must be restored too
    return nn.Sequential(nn.Dropout(0.1), fcn_ucr.build_fcn(1, 3, filters=(4, 8, 4)))


def test_resume_from_checkpoint_is_bitwise_identical(tmp_path):
    X, y = nnlite.datasets.cylinder_bell_funnel(40, 48, seed=3)
    path = tmp_path / "ckpt.nnl"

    nnlite.manual_seed(7)
    full_model = _cbf_model(1)
    full, full_opt, full_sched, _ = fcn_ucr.fit(full_model, X, y, epochs=6)

    nnlite.manual_seed(7)
    fcn_ucr.fit(_cbf_model(1), X, y, epochs=3, checkpoint=str(path), save_every=3)
    assert nnlite.load(path)["epoch"] == 3

    # "killed": fresh objects from another seed, nnlite's generator elsewhere; the checkpoint restores it all
    nnlite.manual_seed(12345)
    model = _cbf_model(2)
    resumed, opt, sched, seconds = fcn_ucr.fit(model, X, y, epochs=6, checkpoint=str(path), resume=True)
    assert len(seconds) == 3
    assert resumed.losses == full.losses
    assert (resumed.best_epoch, resumed.best_loss) == (full.best_epoch, full.best_loss)
    assert_same_state(model.state_dict(), full_model.state_dict())
    assert_same_state(resumed.best_state, full.best_state)
    for (k, a), b in zip(opt.state_dict()["state"].items(), full_opt.state_dict()["state"].values()):
        assert_same_state(a, b)
    assert sched.state_dict() == full_sched.state_dict()
    assert nnlite.get_rng_state() == nnlite.load(path)["rng"]  # the final checkpoint has the final state


def test_resume_across_processes_is_bitwise_identical(tmp_path):
    data = gunpoint()
    common = ["examples/fcn_ucr.py", data, "--filters", "4,8,4", "--seed", "5", "--print-every", "1",
              "--plain-progress"]
    full, part = tmp_path / "full.nnl", tmp_path / "part.nnl"
    run(*common, "--epochs", "6", "--checkpoint", full, "--save-every", "3", "--json", tmp_path / "full.json")
    run(*common, "--epochs", "3", "--checkpoint", part, "--save-every", "3")  # the process ends after epoch 3
    assert nnlite.load(part)["epoch"] == 3
    out = run(*common, "--epochs", "6", "--checkpoint", part, "--save-every", "3", "--resume",
              "--json", tmp_path / "part.json")
    assert "epoch    4/6" in out and "epoch    3/6" not in out  # it resumed, not restarted
    a, b = nnlite.load(full), nnlite.load(part)
    assert a["epoch"] == b["epoch"] == 6
    assert a["losses"] == b["losses"]
    assert_same_state(a["model"], b["model"])
    assert_same_state(a["best_state"], b["best_state"])
    assert a["rng"] == b["rng"]
    ja, jb = (json.loads((tmp_path / f"{n}.json").read_text())["nnlite"] for n in ("full", "part"))
    assert ja["test_accuracy"] == jb["test_accuracy"] and ja["best_train_loss"] == jb["best_train_loss"]


def test_compare_torch_matches_pytorch(tmp_path):
    pytest.importorskip("torch")
    fcn_ucr.main([str(gunpoint()), "--filters", "4,8,4", "--epochs", "2", "--compare-torch", "--threads", "1",
                  "--json", str(tmp_path / "r.json")])
    r = json.loads((tmp_path / "r.json").read_text())
    # same initial weights, same batches: the training losses agree to float32 rounding
    assert r["torch"]["final_train_loss"] == pytest.approx(r["nnlite"]["final_train_loss"], rel=1e-4)
    assert r["torch"]["test_accuracy"] == pytest.approx(r["nnlite"]["test_accuracy"], abs=0.02)
    assert r["ratio_nnlite_over_torch"] > 0


def test_demo_runs():
    out = run("-m", "nnlite.demo", "--epochs", "2")
    assert "epoch   2" in out
    line = [s for s in out.splitlines() if s.startswith("test accuracy")]
    assert len(line) == 1 and 0.0 <= float(line[0].split()[2]) <= 1.0


def test_package_main_prints_summary_and_learns():
    out = run("-m", "nnlite")
    assert "CPU kernels: variant" in out and "Conv1d(1, 8, kernel_size=(9,)" in out
    accuracy = float([s for s in out.splitlines() if s.startswith("test accuracy")][0].split()[2])
    assert accuracy > 0.9


def test_demo_import_has_no_side_effects(capsys):
    import importlib
    import nnlite.demo
    importlib.reload(nnlite.demo)
    assert capsys.readouterr().out == ""
