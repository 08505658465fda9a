"""fit / evaluate / lenet on the real digits, and the `ndconv train` command."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ndconv import nn, param
from ndconv.datasets import load_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.mark.parametrize("seed", [0, 1])
def test_lenet_reaches_97_percent_on_the_digits(digits, seed):
    (X_train, y_train), (X_test, y_test) = digits
    model = nn.lenet(seed=seed)
    history = nn.fit(model, X_train, y_train, epochs=15, batch_size=32, progress=False, seed=seed,
                     validation=(X_test, y_test))
    assert len(history.loss) == len(history.val_accuracy) == 15
    assert history.loss[-1] < 0.2 * history.loss[0]
    accuracy = nn.evaluate(model, X_test, y_test)
    assert accuracy >= 0.97
    assert accuracy == pytest.approx(history.val_accuracy[-1])


def test_parametric_kernels_train(digits):
    (X_train, y_train), (X_test, y_test) = digits
    free = nn.lenet(seed=0)
    symmetric = nn.lenet(seed=0, kernel_model=param.SymmetricStencil)
    count = lambda m: sum(p.size for p in m.params.values())  # noqa: E731
    assert count(symmetric) < count(free)
    assert "0.theta" in symmetric.params and "0.weight" not in symmetric.params
    nn.fit(symmetric, X_train, y_train, epochs=6, optimizer=nn.Adam(symmetric, lr=2e-3), progress=False)
    assert nn.evaluate(symmetric, X_test, y_test) > 0.8


def test_fit_is_reproducible_and_shuffles_by_seed(digits):
    (X_train, y_train), _ = digits
    runs = []
    for _ in range(2):
        model = nn.lenet(seed=3)
        runs.append(nn.fit(model, X_train[:200], y_train[:200], epochs=2, progress=False, seed=5).loss)
    assert runs[0] == runs[1]
    other = nn.fit(nn.lenet(seed=3), X_train[:200], y_train[:200], epochs=2, progress=False, seed=6).loss
    assert other != runs[0]


def test_fit_with_a_given_optimizer_and_progress_bar(digits, capsys):
    (X_train, y_train), _ = digits
    model = nn.lenet(seed=0)
    history = nn.fit(model, X_train[:64], y_train[:64], epochs=1, batch_size=16,
                     optimizer=nn.SGD(model, lr=0.05, momentum=0.9), progress=True)
    assert history["loss"] == history.loss and np.isfinite(history.loss[0])
    assert "epoch 1/1" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs must be a positive int, got 0"),
    ({"batch_size": 2.5}, "batch_size must be a positive int, got 2.5"),
    ({"validation": [1, 2, 3]}, "validation must be None or a pair"),
])
def test_fit_errors(digits, kwargs, message):
    (X_train, y_train), _ = digits
    with pytest.raises(ValueError, match=message):
        nn.fit(nn.lenet(seed=0), X_train[:8], y_train[:8], progress=False, **kwargs)


def test_data_errors():
    model = nn.lenet(seed=0)
    with pytest.raises(ValueError, match=r"\(X, y\) must be \(X, y\) with X of shape"):
        nn.evaluate(model, np.zeros((4, 1, 8, 8)), np.zeros(3, int))
    with pytest.raises(ValueError, match="integer class labels"):
        nn.evaluate(model, np.zeros((4, 1, 8, 8)), np.zeros(4))
    with pytest.raises(ValueError, match="input_size must be"):
        nn.lenet(input_size=(2, 2))
    with pytest.raises(ValueError, match="num_classes must be an int >= 1, got 0"):
        nn.lenet(num_classes=0)
    with pytest.raises(ValueError, match="in_channels must be an int >= 1, got 2.5"):
        nn.lenet(in_channels=2.5)


def _train(*args):
    return subprocess.run([sys.executable, "-m", "ndconv", "train", *args], capture_output=True, text=True,
                          timeout=600, check=False)


def test_train_command_prints_epochs_and_final_accuracy():
    done = _train("--epochs", "2", "--seed", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert "parameters" in lines[1]
    assert sum(line.startswith("epoch") for line in lines) == 2
    assert lines[-1].startswith("test accuracy: 0.") and len(lines[-1].split(": ")[1]) == 6


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "--epochs: must be a positive integer, got '0'"),
    (["--lr", "-1"], "--lr: must be a positive number, got '-1'"),
    (["--kernel-model", "wavy"], "invalid choice: 'wavy'"),
    (["--mnist", "/no/such/dir"], "load_mnist needs a directory holding the MNIST files"),
])
def test_train_command_user_errors(args, message):
    done = _train(*args)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_fit_stops_when_the_loss_is_not_finite(digits):
    (X, y), _ = digits
    model = nn.lenet(seed=0)
    model[0].params["bias"][0] = np.nan          # a poisoned first layer: the loss is NaN at once
    with pytest.raises(FloatingPointError, match=r"training diverged: the loss became nan in epoch 1, batch 1 of "
                                                 r"\d+; try a smaller learning rate than lr=0.001"):
        nn.fit(model, X[:64], y[:64], epochs=2, batch_size=32, progress=False)
