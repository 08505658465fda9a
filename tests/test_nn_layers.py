"""Layers and losses of ndconv.nn: gradients by central differences, equality with
torch (forward and autograd), parametric kernels, seeds and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

from ndconv.nn import (
    AvgPool,
    Conv,
    CrossEntropyLoss,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool,
    MSELoss,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from ndconv.param import AntisymmetricStencil, SeparableStencil, Stencil, SymmetricStencil


def _rng(*key):
    return np.random.default_rng(abs(hash(key)) % 2**32)


def _numeric_grad(f, arr, eps=1e-6):
    """Central differences of the scalar ``f()`` in every entry of ``arr`` (in place)."""
    grad = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        plus = f()
        arr[idx] = old - eps
        minus = f()
        arr[idx] = old
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


def _check_layer(layer, x, seed=0):
    """backward(dy) against central differences of <forward(x), dy>, in x and every param."""
    rng = np.random.default_rng(seed)
    dy = rng.standard_normal(layer.forward(x).shape)
    dx = layer.backward(dy)

    def objective():
        return float(np.sum(layer.forward(x) * dy))

    np.testing.assert_allclose(dx, _numeric_grad(objective, x), rtol=1e-5, atol=1e-7)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    assert set(grads) == set(layer.params)
    for name, param in layer.params.items():
        np.testing.assert_allclose(grads[name], _numeric_grad(objective, param), rtol=1e-5, atol=1e-7,
                                   err_msg=name)


# -- finite differences (float64) -------------------------------------------------------
@pytest.mark.parametrize("layer", [ReLU(), LeakyReLU(0.2), Tanh(), Sigmoid(), Flatten()], ids=repr)
def test_activation_gradients(layer):
    x = np.random.default_rng(1).standard_normal((3, 2, 5)) + 0.01   # keep off the kink at 0
    _check_layer(layer, x)


def test_linear_gradients():
    _check_layer(Linear(4, 3, dtype=np.float64, seed=0), np.random.default_rng(2).standard_normal((5, 4)))


@pytest.mark.parametrize("kernel,options", [
    ((3,), dict(stride=2, padding=1, boundary="wrap")),
    ((2, 3), dict(padding="same", boundary="reflect", groups=2)),
    ((2, 2, 2), dict(dilation=(1, 2, 1), padding=1, boundary="edge")),
])
def test_conv_gradients(kernel, options):
    layer = Conv(4, 2, kernel, dtype=np.float64, seed=0, **options)
    layer.params["bias"][:] = [0.5, -0.25]
    x = np.random.default_rng(3).standard_normal((2, 4) + (6,) * len(kernel))
    _check_layer(layer, x)


@pytest.mark.parametrize("layer", [MaxPool((2,)), MaxPool((2, 3), stride=1), MaxPool((2, 2, 2), stride=(1, 2, 2)),
                                   AvgPool(3, stride=2), AvgPool((2, 3)), AvgPool((2, 1, 2), stride=1)],
                         ids=repr)
def test_pool_gradients(layer):
    naxes = len(layer.kernel_size)
    x = np.random.default_rng(4).permutation(2 * 3 * 5 ** naxes).reshape((2, 3) + (5,) * naxes) * 0.1
    _check_layer(layer, x.astype(np.float64))


def test_maxpool_ties_go_to_the_first():
    layer = MaxPool(2)
    layer.forward(np.ones((1, 1, 2, 2)))
    dx = layer.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(dx, [[[[1, 0], [0, 0]]]])


@pytest.mark.parametrize("model", [SymmetricStencil((3, 3)), AntisymmetricStencil((3, 3)),
                                   SeparableStencil((3, 3)), Stencil((2, 3), order="F"),
                                   SymmetricStencil((3, 2), order="F")], ids=repr)
def test_conv_kernel_model_gradients(model):
    layer = Conv(2, 2, model.shape, kernel_model=model, padding=1, dtype=np.float64, seed=0)
    assert "weight" not in layer.params and layer.params["theta"].shape == (2, 2, model.num_params)
    for o, i in np.ndindex(2, 2):
        np.testing.assert_allclose(layer.weight()[o, i], model.model(layer.params["theta"][o, i]))
    _check_layer(layer, np.random.default_rng(5).standard_normal((2, 2, 5, 5)))


def test_losses_gradients():
    rng = np.random.default_rng(6)
    logits, labels = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    loss = CrossEntropyLoss()
    loss.forward(logits, labels)
    np.testing.assert_allclose(loss.backward(), _numeric_grad(lambda: loss.forward(logits, labels), logits),
                               rtol=1e-6, atol=1e-8)
    pred, target = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    mse = MSELoss()
    mse.forward(pred, target)
    np.testing.assert_allclose(mse.backward(), _numeric_grad(lambda: mse.forward(pred, target), pred),
                               rtol=1e-6, atol=1e-8)


def test_cross_entropy_is_stable_for_large_logits():
    loss = CrossEntropyLoss()
    assert loss.forward(np.array([[1000.0, 0.0]]), [0]) == pytest.approx(0.0)
    assert np.isfinite(loss.backward()).all()


# -- behaviour ----------------------------------------------------------------------------
def test_int_sizes():
    assert Conv(1, 1, 3).params["weight"].shape == (1, 1, 3, 3)
    assert Conv(1, 1, 3, kernel_model=SymmetricStencil((3, 3, 3))).kernel_size == (3, 3, 3)
    assert MaxPool(2).forward(np.ones((1, 1, 4, 6, 2))).shape == (1, 1, 2, 3, 1)
    assert AvgPool(2, stride=1).forward(np.ones((1, 1, 4))).shape == (1, 1, 3)


def test_in_place_param_change_takes_effect():
    layer = Conv(1, 1, (3,), padding=1, seed=0)
    x = np.ones((1, 1, 5), np.float32)
    layer.params["weight"][...] = 0
    layer.params["bias"] += 2
    np.testing.assert_array_equal(layer.forward(x), 2 * x)
    model = Sequential(Linear(2, 1, seed=0))
    model.params["0.weight"][...] = [[1.0, 2.0]]
    assert model.forward(np.ones((1, 2))).item() == 3.0


def test_seeds_are_reproducible_and_dtype_is_kept():
    a, b, c = (Conv(2, 3, (3, 3), seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.params["weight"], b.params["weight"])
    assert not np.array_equal(a.params["weight"], c.params["weight"])
    np.testing.assert_array_equal(Linear(3, 2, seed=1).params["weight"], Linear(3, 2, seed=1).params["weight"])
    assert a.forward(np.ones((1, 2, 4, 4))).dtype == np.float32
    assert Linear(3, 2, dtype="float64").forward(np.ones((1, 3), np.float32)).dtype == np.float64
    std = Conv(8, 64, (3, 3), seed=0).params["weight"].std()
    assert std == pytest.approx(np.sqrt(2 / 72), rel=0.1)                 # He initialisation


def test_sequential_params_grads_and_indexing():
    model = Sequential(Conv(1, 2, (3,), seed=0), ReLU(), Sequential(Flatten(), Linear(8, 2, seed=1)))
    assert len(model) == 3 and isinstance(model[1], ReLU)
    assert sorted(model.params) == ["0.bias", "0.weight", "2.1.bias", "2.1.weight"]
    assert model.params["2.1.weight"] is model[2][1].params["weight"]
    out = model.forward(np.ones((4, 1, 6)))
    model.backward(np.ones_like(out))
    assert set(model.grads) == set(model.params)


@pytest.mark.parametrize("call,error,match", [
    (lambda: Conv(0, 1, 3), ValueError, "in_channels must be an int >= 1, got 0"),
    (lambda: Conv(3, 2, 3, groups=2), ValueError, "groups must be a divisor of in_channels=3, got 2"),
    (lambda: Conv(1, 1, (1, 2, 3, 4)), ValueError, r"kernel_size must be an int or a tuple of 1 to 3 ints"),
    (lambda: Conv(1, 1, 3, boundary="nope"), ValueError, "boundary must be .*got 'nope'"),
    (lambda: Conv(1, 1, 3, padding="full"), ValueError, "padding must be 'valid' or 'same', got 'full'"),
    (lambda: Conv(1, 1, 3, stride=0), ValueError, "stride must be an int or a sequence of 2 ints >= 1, got 0"),
    (lambda: Conv(1, 1, 3, dtype=np.int32), ValueError, "dtype must be 'float32' or 'float64'"),
    (lambda: Conv(1, 1, (3, 3), kernel_model=SymmetricStencil((5, 5))), ValueError,
     r"kernel_model must be a model of shape kernel_size=\(3, 3\)"),
    (lambda: Conv(1, 1, 3, kernel_model="sym"), TypeError, "kernel_model must be an ndconv.param model"),
    (lambda: Conv(1, 4, 3).forward(np.ones((10, 8, 8))), ValueError,
     r"x must be an array \(batch, 1, \*spatial\) with 2 spatial axes for this layer's kernel of size "
     r"\(3, 3\), got an array of shape \(10, 8, 8\)"),
    (lambda: Linear(2, -1), ValueError, "out_features must be an int >= 1, got -1"),
    (lambda: Linear(2, 1).forward(np.ones((3, 4))), ValueError, r"x must be an array of shape \(batch, 2\)"),
    (lambda: MaxPool(0), ValueError, "kernel_size must be an int >= 1, got 0"),
    (lambda: AvgPool((2,), stride=(1, 1)), ValueError, "stride must be an int or a sequence of 1 ints"),
    (lambda: AvgPool(2, stride=(1, 1)), ValueError, "stride must be an int or a sequence of 1 ints"),
    (lambda: AvgPool(2).forward(np.ones((2, 3))), ValueError, r"x must be an array \(batch, channels, \*spatial\)"),
    (lambda: MaxPool(4).forward(np.ones((1, 1, 3))), ValueError, "x must be an array .* at least kernel_size"),
    (lambda: LeakyReLU("a"), ValueError, "negative_slope must be a finite real number, got 'a'"),
    (lambda: Sequential(ReLU(), 3), TypeError, r"layers\[1\] must be an ndconv.nn layer, got int"),
    (lambda: CrossEntropyLoss().forward(np.ones((2, 3)), [0, 3]), ValueError, r"labels must be integers in \[0, 3\)"),
    (lambda: CrossEntropyLoss().forward(np.ones((2, 3)), [0.0, 1.0]), ValueError, r"labels must be integers of shape"),
    (lambda: MSELoss().forward(np.ones(3), np.ones(2)), ValueError, "target must be an array of the shape of pred"),
    (lambda: ReLU().backward(np.ones(2)), RuntimeError, "needs a forward pass first"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- against torch (forward, and gradients by autograd) -----------------------------------
_TORCH_MODE = {"constant": "zeros", "wrap": "circular", "reflect": "reflect", "edge": "replicate"}


def _torch_check(layer, module, x, params, tol=1e-10):
    """Forward equal; input and parameter gradients of <y, dy> equal to autograd's."""
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, requires_grad=True)
    yt = module(xt)
    y = layer.forward(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=tol, atol=tol)
    dy = np.random.default_rng(9).standard_normal(y.shape)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=tol, atol=tol)
    for ours, theirs in params.items():
        np.testing.assert_allclose(layer.grads[ours], theirs.grad.numpy(), rtol=tol, atol=tol, err_msg=ours)


@pytest.mark.parametrize("naxes,options", [
    (1, dict(stride=2, padding=2, boundary="constant", groups=2)),
    (1, dict(padding=1, boundary="wrap", dilation=2)),
    (2, dict(stride=(1, 2), padding=(1, 2), boundary="reflect", groups=2)),
    (2, dict(padding="same", boundary="edge", dilation=(2, 1))),
    (3, dict(padding=1, boundary="wrap", stride=2)),
    (3, dict(padding="valid", groups=4)),
])
def test_conv_equals_torch(naxes, options):
    torch = pytest.importorskip("torch")
    kernel = (3, 2, 3)[:naxes]
    layer = Conv(4, 4, kernel, dtype=np.float64, seed=1, **options)
    layer.params["bias"][:] = np.arange(4) * 0.1
    cls = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)[naxes - 1]
    module = cls(4, 4, kernel, stride=options.get("stride", 1), padding=options.get("padding", 0),
                 dilation=options.get("dilation", 1), groups=options.get("groups", 1),
                 padding_mode=_TORCH_MODE[options.get("boundary", "constant")]).double()
    with torch.no_grad():
        module.weight.copy_(torch.tensor(layer.params["weight"]))
        module.bias.copy_(torch.tensor(layer.params["bias"]))
    x = np.random.default_rng(2).standard_normal((2, 4) + (7, 6, 5)[:naxes])
    _torch_check(layer, module, x, {"weight": module.weight, "bias": module.bias})


@pytest.mark.parametrize("kind,kernel,stride", [("max", 2, None), ("max", (3, 2), (1, 2)), ("max", (2,), 1),
                                                ("avg", 2, None), ("avg", (2, 3, 2), 1), ("avg", (3,), 2)])
def test_pools_equal_torch(kind, kernel, stride):
    torch = pytest.importorskip("torch")
    naxes = 2 if isinstance(kernel, int) else len(kernel)
    layer = (MaxPool if kind == "max" else AvgPool)(kernel, stride=stride)
    name = f"{'Max' if kind == 'max' else 'Avg'}Pool{naxes}d"
    module = getattr(torch.nn, name)(kernel, stride=stride)
    x = np.random.default_rng(3).standard_normal((2, 3) + (7, 6, 5)[:naxes])
    _torch_check(layer, module, x, {})


def test_linear_and_activations_equal_torch():
    torch = pytest.importorskip("torch")
    layer = Linear(5, 3, dtype=np.float64, seed=0)
    layer.params["bias"][:] = [0.1, 0.2, 0.3]
    module = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        module.weight.copy_(torch.tensor(layer.params["weight"]))
        module.bias.copy_(torch.tensor(layer.params["bias"]))
    x = np.random.default_rng(4).standard_normal((4, 5))
    _torch_check(layer, module, x, {"weight": module.weight, "bias": module.bias})
    for ours, theirs in [(ReLU(), torch.nn.ReLU()), (LeakyReLU(0.1), torch.nn.LeakyReLU(0.1)),
                         (Tanh(), torch.nn.Tanh()), (Sigmoid(), torch.nn.Sigmoid()), (Flatten(), torch.nn.Flatten())]:
        _torch_check(ours, theirs, np.random.default_rng(5).standard_normal((3, 2, 4)) * 3, {})


def test_losses_equal_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    logits, labels = rng.standard_normal((6, 5)) * 4, rng.integers(0, 5, 6)
    for ours, theirs, target, target_t in [
            (CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), labels, torch.tensor(labels)),
            (MSELoss(), torch.nn.MSELoss(), logits[::-1].copy(), torch.tensor(logits[::-1].copy()))]:
        lt = torch.tensor(logits, requires_grad=True)
        value = theirs(lt, target_t)
        value.backward()
        assert ours.forward(logits, target) == pytest.approx(value.item(), rel=1e-12)
        np.testing.assert_allclose(ours.backward(), lt.grad.numpy(), rtol=1e-12, atol=1e-14)
