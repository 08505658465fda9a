"""Optimizers of ndconv.nn equal torch.optim step for step; a small CNN learns."""

from __future__ import annotations

import numpy as np
import pytest

from ndconv.nn import SGD, Adam, Conv, CrossEntropyLoss, Flatten, Linear, MaxPool, ReLU, Sequential


def _steps_against_torch(make_ours, make_theirs, dtype=np.float64, steps=4):
    torch = pytest.importorskip("torch")
    model = Sequential(Linear(3, 2, dtype=dtype, seed=0), ReLU(), Linear(2, 2, dtype=dtype, seed=1))
    tensors = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in model.params.items()}
    ours, theirs = make_ours(model), make_theirs(list(tensors.values()))
    rng = np.random.default_rng(0)
    for _ in range(steps):
        grads = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in model.params.items()}
        for i in (0, 2):                                       # set the layers' gradients directly
            model[i].grads = {name: grads[f"{i}.{name}"] for name in model[i].params}
        for k, t in tensors.items():
            t.grad = torch.tensor(grads[k])
        ours.step()
        theirs.step()
    tol = 1e-12 if dtype == np.float64 else 1e-6
    for k, t in tensors.items():
        np.testing.assert_allclose(model.params[k], t.detach().numpy(), rtol=tol, atol=tol, err_msg=k)


@pytest.mark.parametrize("momentum,weight_decay", [(0, 0), (0.9, 0), (0.5, 0.01)])
def test_sgd_equals_torch(momentum, weight_decay):
    torch = pytest.importorskip("torch")
    _steps_against_torch(lambda m: SGD(m, lr=0.1, momentum=momentum, weight_decay=weight_decay),
                         lambda p: torch.optim.SGD(p, lr=0.1, momentum=momentum, weight_decay=weight_decay))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_equals_torch(dtype):
    torch = pytest.importorskip("torch")
    _steps_against_torch(lambda m: Adam(m, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01), dtype=dtype)


def test_optimizer_updates_in_place_and_zero_grad():
    layer = Linear(2, 1, seed=0)
    weight = layer.params["weight"]
    before = weight.copy()
    layer.forward(np.ones((3, 2)))
    layer.backward(np.ones((3, 1)))
    opt = SGD(layer, lr=0.1)
    opt.step()
    assert layer.params["weight"] is weight
    np.testing.assert_allclose(weight, before - 0.1 * 3, rtol=1e-6)
    opt.zero_grad()
    assert not any(g.any() for g in layer.grads.values())


@pytest.mark.parametrize("call,error,match", [
    (lambda: SGD(Linear(1, 1), lr=0), ValueError, "lr must be a number > 0, got 0"),
    (lambda: SGD(Linear(1, 1), lr=0.1, momentum=1.5), ValueError, r"momentum must be a number in \[0, 1\), got 1.5"),
    (lambda: SGD(Linear(1, 1), lr=0.1, weight_decay=-1), ValueError, "weight_decay must be a number >= 0, got -1"),
    (lambda: Adam(Linear(1, 1), lr="big"), ValueError, "lr must be a number > 0, got 'big'"),
    (lambda: Adam([1, 2]), TypeError, "model must be a layer or Sequential with params and grads, got list"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_small_cnn_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    n = 64
    labels = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32) * 0.3
    x[labels == 1, :, :, :4] += 1.0                          # class 1: bright left half
    x[labels == 0, :, :, 4:] += 1.0                          # class 0: bright right half
    model = Sequential(Conv(1, 4, 3, padding=1, seed=1), ReLU(), MaxPool(2), Flatten(), Linear(64, 2, seed=2))
    loss, opt = CrossEntropyLoss(), Adam(model, lr=0.01)
    history = []
    for _ in range(40):
        history.append(loss.forward(model.forward(x), labels))
        model.backward(loss.backward())
        opt.step()
    assert history[-1] < 0.1 * history[0]
    assert (model.forward(x).argmax(axis=1) == labels).mean() == 1.0
