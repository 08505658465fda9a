"""Sequential.save / load: architecture and parameters round-trip, whole files only."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ndconv import nn, param


def _net(kernel_model=None):
    return nn.Sequential(
        nn.Conv(1, 4, 3, padding="same", boundary="reflect", seed=0, kernel_model=kernel_model,
                dtype=np.float64),
        nn.LeakyReLU(0.1), nn.MaxPool(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3, seed=1, dtype=np.float64))


@pytest.mark.parametrize("kernel_model", [None, param.SymmetricStencil((3, 3)),
                                          param.SeparableStencil((3, 3), order="F")])
def test_round_trip(tmp_path, kernel_model):
    model = _net(kernel_model)
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8))
    for value in model.params.values():  # not the initial values
        value += 0.25
    path = model.save(tmp_path / "net")
    assert path.name == "net.npz" and [p.name for p in tmp_path.iterdir()] == ["net.npz"]
    again = nn.Sequential.load(path)
    assert sorted(again.params) == sorted(model.params)
    np.testing.assert_array_equal(again.forward(x), model.forward(x))
    assert repr(again) == repr(model)


def test_lenet_round_trip(tmp_path):
    model = nn.lenet(seed=2)
    path = model.save(tmp_path / "lenet.npz")
    x = np.random.default_rng(1).random((3, 1, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(nn.Sequential.load(path).forward(x), model.forward(x))


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no model file at .*missing\.npz"):
        nn.Sequential.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="is not a model saved by ndconv.nn"):
        nn.Sequential.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "plain.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="holds no ndconv.nn architecture"):
        nn.Sequential.load(tmp_path / "plain.npz")
    path = _net().save(tmp_path / "net.npz")
    with np.load(path) as data:
        arrays = dict(data)
    arrays["4.weight"] = arrays["4.weight"][:, :5]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"parameter '4.weight' has shape \(3, 5\)"):
        nn.Sequential.load(tmp_path / "bad.npz")


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    from ndconv.nn import _serialize

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(_serialize.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        _net().save(tmp_path / "net.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_into_a_missing_folder_names_the_folder(tmp_path):
    """The error named mkstemp's temporary file ('.ndconv-….npz'), not the path asked for."""
    target = tmp_path / "missing" / "net.npz"
    with pytest.raises(FileNotFoundError, match=r"path's folder does not exist: .*missing' \(for .*net\.npz'\)"):
        _net().save(target)
    assert list(tmp_path.iterdir()) == []


def test_train_command_saves_a_loadable_model(tmp_path):
    target = tmp_path / "digits.npz"
    done = subprocess.run([sys.executable, "-m", "ndconv", "train", "--epochs", "1", "--save", str(target)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert f"saved: {target}" in done.stdout and done.stdout.strip().splitlines()[-1].startswith("test accuracy: ")
    model = nn.Sequential.load(target)
    assert model.forward(np.zeros((1, 1, 8, 8), np.float32)).shape == (1, 10)
