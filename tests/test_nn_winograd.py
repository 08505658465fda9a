"""Winograd F(m×m, 3×3) behind ndconv.nn.functional (3×3, stride 1, ≥ 16 channels).

Checked against the definition (a float64 sliding-window sum), against torch
autograd, by the adjoint dot test, and with the project's accuracy contract for
convolution: ``|error| ≤ tol · Σ|w| · max|x|`` per output channel, tol 1e-5 in
float32 and 1e-12 in float64.  Both tile sizes (2 and 4) are tested, with the
blocks of images and the bands of tile rows that large layers are cut into.
"""

from __future__ import annotations

import importlib.util
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ndconv import _blas
from ndconv.nn import _conv_gemm, _winograd
from ndconv.nn import functional as F
from ndconv.nn._winograd_loops import VARIANTS

ROOT = Path(__file__).resolve().parent.parent
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def _tool():
    spec = importlib.util.spec_from_file_location("make_winograd", ROOT / "tools" / "make_winograd.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference(x, w, pad, output):
    """y[n, o, i, j] = Σ_{c,a,b} w[o, c, a, b] · x̃[n, c, i + a, j + b], x̃ zero-padded, in float64."""
    (top, bottom), (left, right) = pad
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))))
    xp = xp[:, :, max(-top, 0):, max(-left, 0):]
    y = np.zeros((x.shape[0], w.shape[0]) + output)
    for a in range(3):
        for b in range(3):
            window = xp[:, :, a:a + output[0], b:b + output[1]]
            y += np.einsum("ncij,oc->noij", window, w[:, :, a, b].astype(np.float64))
    return y


def assert_within_contract(got, expected, w, x, dtype):
    bound = TOL[dtype] * np.abs(w).reshape(w.shape[0], -1).sum(1)[None, :, None, None] * np.abs(x).max()
    assert got.dtype == dtype
    assert got.shape == expected.shape
    assert np.all(np.abs(got - expected) <= bound)


def test_generated_module_is_up_to_date():
    committed = (ROOT / "src" / "ndconv" / "nn" / "_winograd_loops.py").read_text(encoding="utf-8")
    assert _tool().render() == committed


@pytest.mark.parametrize("m", sorted(VARIANTS))
def test_matrices_compute_the_correlation_exactly(m):
    """In exact arithmetic Aᵀ[(G g) ⊙ (Bᵀ d)] is the m outputs of a 3-tap correlation."""
    at, g, bt = _tool().matrices(m, VARIANTS[m]["points"])
    assert [[str(c) for c in row] for row in g] == [[str(c) for c in row] for row in VARIANTS[m]["G"]]
    rng = np.random.default_rng(m)
    for _ in range(5):
        d = [Fraction(int(v)) for v in rng.integers(-9, 10, m + 2)]
        h = [Fraction(int(v)) for v in rng.integers(-9, 10, 3)]
        gh = [sum(gk * hk for gk, hk in zip(row, h)) for row in g]
        bd = [sum(bk * dk for bk, dk in zip(row, d)) for row in bt]
        y = [sum(a * p * q for a, p, q in zip(row, gh, bd)) for row in at]
        assert y == [sum(d[i + k] * h[k] for k in range(3)) for i in range(m)]


@pytest.mark.parametrize("m", sorted(VARIANTS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("block", [1 << 20, 1 << 12])           # whole images / bands of one tile row
def test_correlate_equals_the_definition(m, dtype, block, monkeypatch):
    monkeypatch.setattr(_winograd, "BLOCK_BYTES", block)
    rng = np.random.default_rng(7)
    for shape, pad in [((2, 16, 7, 9), (1, 1)), ((3, 17, 8, 8), (0, 0)), ((1, 16, 13, 11), (2, 0)),
                       ((2, 16, 3, 3), (1, 2)), ((1, 18, 5, 6), (3, 1)), ((2, 16, 9, 10), (-1, 1))]:
        x = rng.standard_normal(shape).astype(dtype)
        w = (rng.standard_normal((19, shape[1], 3, 3)) / 12).astype(dtype)
        b = rng.standard_normal(19).astype(dtype)
        output = (shape[2] + 2 * pad[0] - 2, shape[3] + 2 * pad[1] - 2)
        y = np.full((shape[0], 19) + output, np.nan, dtype)
        _winograd.correlate(x, _winograd.transform_weights(w, m), b, pad, y, _conv_gemm._buffer, m)
        expected = reference(x, w, ((pad[0], pad[0]), (pad[1], pad[1])), output) + b[:, None, None]
        assert_within_contract(y, expected, w, x, dtype)


@pytest.mark.parametrize("m", sorted(VARIANTS))
def test_weight_products_are_the_adjoint(m, monkeypatch):
    """⟨correlate(x; U), dy⟩ = ⟨U, weight_products(x, dy)⟩ for every U (the dot test), with bands."""
    monkeypatch.setattr(_winograd, "BLOCK_BYTES", 1 << 13)
    rng = np.random.default_rng(m)
    x = rng.standard_normal((2, 16, 11, 10))
    u = rng.standard_normal(((m + 2) ** 2, 17, 16))
    y = np.empty((2, 17, 11, 10))
    _winograd.correlate(x, u, np.zeros(17), (1, 1), y, _conv_gemm._buffer, m)
    dy = rng.standard_normal(y.shape)
    du = _winograd.weight_products(x, dy, (1, 1), _conv_gemm._buffer, m)
    assert np.isclose((y * dy).sum(), (u * du).sum(), rtol=1e-12)
    w = rng.standard_normal((17, 16, 3, 3))
    assert np.isclose((_winograd.transform_weights(w, m) * du).sum(),
                      (w * _winograd.weights_from_products(du, m)).sum(), rtol=1e-12)


@pytest.mark.parametrize("m", sorted(VARIANTS))
@pytest.mark.parametrize("boundary", ["constant", "reflect", "symmetric", "wrap", "edge"])
@pytest.mark.parametrize("padding", [1, 2, (0, 1), "same"])
def test_layer_and_gradients_match_torch(m, boundary, padding, monkeypatch):
    """conv, conv_input_grad and conv_weight_grad of a Winograd layer against torch autograd
    (float64; the native torch padding modes, or a gather for 'symmetric')."""
    torch = pytest.importorskip("torch")
    from test_nn_functional import torch_conv

    monkeypatch.setattr(_winograd, "TILE", m)
    monkeypatch.setattr(_winograd, "MIN_OUTPUT", 2)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 16, 9, 11))
    w = rng.standard_normal((18, 16, 3, 3))
    b = rng.standard_normal(18)
    assert _conv_gemm._winograd_applies(_conv_gemm.ConvGeometry(3, 16, 18, 1, (9, 11), (3, 3), (1, 1), (1, 1),
                                                                ((1, 1), (1, 1)), "constant"))
    kw = dict(stride=1, padding=padding, boundary=boundary, dilation=1, groups=1)
    y = F.conv(x, w, b, **kw)
    expected, xt, wt, bt = torch_conv(x, w, b, 1, padding, boundary, 1, 1)
    np.testing.assert_allclose(y, expected.detach().numpy(), rtol=1e-12, atol=1e-12 * np.abs(y).max())
    dy = rng.standard_normal(y.shape)
    (expected * torch.from_numpy(dy)).sum().backward()
    dx, dw, db = F.conv_backward(dy, x, w, **kw)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-11, atol=1e-12 * np.abs(dx).max())
    np.testing.assert_allclose(dw, wt.grad.numpy(), rtol=1e-11, atol=1e-12 * np.abs(dw).max())
    np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-12)
    assert np.array_equal(F.conv_input_grad(dy, x, w, **kw), dx)      # the separate entry points
    assert np.array_equal(F.conv_weight_grad(dy, x, w, **kw), dw)


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_float32_layers_within_the_contract(batch):
    """Large enough to be shared by the cores (batch ≥ 2) and cut into blocks."""
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 32, 30, 29)).astype(np.float32)
    w = (rng.standard_normal((24, 32, 3, 3)) / 17).astype(np.float32)
    assert _winograd.applies((3, 3), (1, 1), (1, 1), 1, 32, 24, (30, 29))
    y = F.conv(x, w, padding=1)
    assert_within_contract(y, reference(x, w, ((1, 1), (1, 1)), (30, 29)), w, x, np.float32)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, _ = F.conv_backward(dy, x, w, padding=1)
    x64, w64, dy64 = (a.astype(np.float64) for a in (x, w, dy))
    _, dw64, _ = F.conv_backward(dy64, x64, w64, padding=1)
    dx64 = F.conv_input_grad(dy64, x64, w64, padding=1)
    flipped = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
    assert_within_contract(dx, dx64, flipped, dy, np.float32)
    assert dw.dtype == np.float32
    assert np.abs(dw - dw64).max() <= 1e-5 * x.size / 32 * np.abs(x).max() * np.abs(dy).max()


def test_which_layers_use_winograd():
    assert _winograd.applies((3, 3), (1, 1), (1, 1), 1, 16, 16, (16, 16))
    assert not _winograd.applies((3, 3), (1, 1), (1, 1), 1, 16, 16, (15, 40))     # small images
    assert not _winograd.applies((3, 3), (1, 1), (1, 1), 1, 3, 64, (32, 32))      # few input channels
    assert not _winograd.applies((3, 3), (2, 2), (1, 1), 1, 64, 64, (32, 32))     # stride
    assert not _winograd.applies((3, 3), (1, 1), (2, 2), 1, 64, 64, (32, 32))     # dilation
    assert not _winograd.applies((3, 3), (1, 1), (1, 1), 2, 64, 64, (32, 32))     # groups
    assert not _winograd.applies((5, 5), (1, 1), (1, 1), 1, 64, 64, (32, 32))
    assert not _winograd.applies((3,), (1,), (1,), 1, 64, 64, (32,))
    assert not _winograd.applies((3, 3), (1, 1), (1, 1), 1, 64, 64, (1, 40))      # one output row
    assert not _winograd.applies((3, 3), (1, 1), (1, 1), 1, 64, 64, (32, 32, 32))


def test_nan_stays_in_its_windows(monkeypatch):
    monkeypatch.setattr(_winograd, "MIN_OUTPUT", 2)
    x = np.ones((1, 16, 12, 12))
    x[0, 3, 5, 6] = np.nan
    y = F.conv(x, np.ones((16, 16, 3, 3)), padding=1)
    hit = np.zeros((12, 12), bool)
    hit[4:7, 5:8] = True
    assert np.isnan(y[0][:, hit]).all() and not np.isnan(y[0][:, ~hit]).any()


def test_serial_blas_sets_one_thread_and_restores():
    before = _blas.blas_threads()
    if before is None:
        pytest.skip("no BLAS library found by threadpoolctl")
    with _blas.serial_blas():
        with _blas.serial_blas():
            assert _blas.blas_threads() == 1
        assert _blas.blas_threads() == 1
    assert _blas.blas_threads() == before


def test_serial_blas_counts_concurrent_users(monkeypatch):
    """The first of overlapping users sets the limit, the last restores it, whatever
    the order in which they leave (a fake library records the calls)."""
    calls = []

    class Limiter:
        def restore_original_limits(self):
            calls.append("restore")

    class Controller:
        def limit(self, limits):
            calls.append(("limit", limits))
            return Limiter()

    monkeypatch.setattr(_blas, "_controller", lambda: Controller())
    entered, leave = threading.Barrier(4), threading.Event()

    def user():
        with _blas.serial_blas():
            entered.wait()
            leave.wait()

    threads = [threading.Thread(target=user) for _ in range(3)]
    for t in threads:
        t.start()
    entered.wait()
    with _blas.serial_blas():
        assert calls == [("limit", 1)]
    leave.set()
    for t in threads:
        t.join()
    assert calls == [("limit", 1), "restore"]
    assert _blas._state == {"depth": 0, "limiter": None}


def test_by_batch_covers_the_batch_once_on_one_core_per_share(monkeypatch):
    from ndconv import _memory

    monkeypatch.setattr(_blas, "cpu_count", lambda: 2)
    seen = []
    _blas.by_batch(lambda lo, hi: seen.append((lo, hi, _memory.cpu_count())), 5, parallel=True)
    assert sorted(seen) == [(0, 2, 1), (2, 5, 1)]
    seen.clear()
    _blas.by_batch(lambda lo, hi: seen.append((lo, hi)), 5, parallel=False)
    _blas.by_batch(lambda lo, hi: seen.append((lo, hi)), 1, parallel=True)
    assert seen == [(0, 5), (0, 1)]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_keep_torch_locality_in_every_gradient(bad, monkeypatch):
    """Non-finite operands take the im2col path: NaN/Inf reach only the outputs (and
    gradient entries) whose window holds them, the same values as torch."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(_winograd, "MIN_OUTPUT", 2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 16, 10, 10))
    w = rng.standard_normal((16, 16, 3, 3))
    x[1, 2, 4, 7] = bad
    dy = rng.standard_normal((2, 16, 10, 10))
    dy[0, 5, 2, 2] = bad
    tx, tw = (torch.from_numpy(a).requires_grad_() for a in (x, w))
    out = torch.nn.functional.conv2d(tx, tw, padding=1)
    gx, gw = torch.autograd.grad(out, (tx, tw), torch.from_numpy(dy))
    for got, expected in [(F.conv(x, w, padding=1), out.detach().numpy()),
                          (F.conv_input_grad(dy, x, w, padding=1), gx.numpy()),
                          (F.conv_weight_grad(dy, x, w, padding=1), gw.numpy())]:
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))
        finite = np.isfinite(expected)
        np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-10, atol=1e-10)


def test_shares_are_summed_in_batch_order(monkeypatch):
    """With four shares (as on a 4-core machine) the weight gradients' partial sums are
    added in batch order: the same bits whichever share finishes first."""
    from ndconv.methods import _numba_kernels

    monkeypatch.setattr(_blas, "cpu_count", lambda: 4)
    monkeypatch.setattr(_numba_kernels, "cpu_count", lambda: 4)
    monkeypatch.setattr(_winograd, "MIN_OUTPUT", 2)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 16, 12, 12)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((8, 16, 12, 12)).astype(np.float32)
    for boundary in ("constant", "reflect"):
        for stride, grad_out in ((1, dy), (2, dy[:, :, :6, :6])):      # Winograd, then im2col
            kw = dict(stride=stride, padding=1, boundary=boundary)
            first = F.conv_weight_grad(grad_out, x, w, **kw)
            for _ in range(4):
                assert F.conv_weight_grad(grad_out, x, w, **kw).tobytes() == first.tobytes()
