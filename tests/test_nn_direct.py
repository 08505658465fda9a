"""ndconv.nn._direct: the direct sum for layers with few input channels.

Checked against the im2col + GEMM path (the same sum, term for term) and torch,
for every boundary, kernel height, odd numbers of output channels, both float
dtypes and with and without bias; NaN and Inf stay in their windows; the path
runs exactly where :func:`ndconv.nn._direct.applies` says.
"""

from __future__ import annotations

import numpy as np
import pytest

from ndconv.nn import _conv_gemm, _direct
from ndconv.nn import functional as F

TOL = {np.float32: 1e-5, np.float64: 1e-12}

# (batch, in_channels, height, width, out_channels, kernel height, padding, boundary, bias)
CASES = [
    (4, 3, 32, 32, 64, 3, 1, "constant", True),      # an RGB image's first layer
    (2, 1, 8, 8, 6, 3, 1, "reflect", True),          # the digits' first layer, Cout not a multiple of 4
    (3, 2, 9, 7, 5, 3, 0, "constant", False),
    (2, 2, 10, 12, 7, 5, (2, 1), "wrap", True),      # kernel rows of 3 taps, 5 rows
    (1, 1, 1, 1, 3, 1, (0, 1), "edge", True),        # one output sample
    (2, 2, 6, 5, 1, 3, 1, "symmetric", False),       # one output channel
    (1, 10, 7, 9, 9, 1, (0, 1), "constant", True),   # inner dimension 30
    (2, 8, 9, 10, 13, 3, 1, "reflect", True),        # inner dimension 72
]


def _data(rng, case, dtype):
    batch, cin, h, w, cout, kh, *_ = case
    x = rng.standard_normal((batch, cin, h, w)).astype(dtype)
    k = rng.standard_normal((cout, cin, kh, 3)).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    return x, k, b


def _im2col(x, k, b, monkeypatch, **kwargs):
    with monkeypatch.context() as m:
        m.setattr(_direct, "applies", lambda *a, **kw: False)
        return F.conv(x, k, b, **kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_direct_sum_equals_im2col_and_torch(case, dtype, monkeypatch):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(case) + case[1] * 7 + case[4])
    x, k, b = _data(rng, case, dtype)
    b = b if case[-1] else None
    kwargs = dict(padding=case[6], boundary=case[7])
    calls = []
    original = _direct.correlate
    monkeypatch.setattr(_direct, "correlate", lambda *a, **kw: calls.append(1) or original(*a, **kw))
    got = F.conv(x, k, b, **kwargs)
    assert calls == [1]
    assert got.dtype == dtype
    want = _im2col(x, k, b, monkeypatch, **kwargs)
    assert got.shape == want.shape
    scale = np.abs(k).sum(axis=(1, 2, 3)).max() * np.abs(x).max() + (0 if b is None else np.abs(b).max())
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL[dtype] * scale)
    if case[7] == "constant":
        pad = case[6] if isinstance(case[6], tuple) else (case[6], case[6])
        ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(k),
                                         None if b is None else torch.from_numpy(b), padding=pad).numpy()
        np.testing.assert_allclose(got, ref, rtol=0, atol=TOL[dtype] * scale)


def test_cores_share_the_batch_with_the_same_bits(monkeypatch):
    rng = np.random.default_rng(5)
    x, k, b = _data(rng, CASES[0], np.float32)
    monkeypatch.setattr(_conv_gemm, "PARALLEL_WORK", 0)
    shared = F.conv(x, k, b, padding=1)
    monkeypatch.setattr(_conv_gemm, "PARALLEL_WORK", 1 << 62)
    assert np.array_equal(shared, F.conv(x, k, b, padding=1))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nonfinite_inputs_stay_in_their_windows(value, monkeypatch):
    """A NaN or ±∞ reaches exactly the outputs whose window holds it, with the value the
    im2col path gives (the same terms in the same order)."""
    rng = np.random.default_rng(11)
    x, k, b = _data(rng, (2, 3, 9, 8, 5, 3), np.float32)
    x[1, 2, 4, 3] = value
    got = F.conv(x, k, b, padding=1)
    want = _im2col(x, k, b, monkeypatch, padding=1)
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
    touched = np.zeros(got.shape, bool)
    touched[1, :, 3:6, 2:5] = True
    assert not np.isfinite(got[touched]).any() and np.isfinite(got[~touched]).all()
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(got[~finite], want[~finite])


def test_which_layers_sum_directly():
    f4 = np.dtype(np.float32)
    assert _direct.applies((3, 3), (1, 1), (1, 1), 1, 3, f4)
    assert _direct.applies((5, 3), (1, 1), (1, 1), 1, 2, np.dtype(np.float64))
    assert _direct.applies((1, 3), (1, 1), (1, 1), 1, 10, f4)          # inner dimension 30
    assert _direct.applies((3, 3), (1, 1), (1, 1), 1, 8, f4)           # 72
    assert not _direct.applies((3, 3), (1, 1), (1, 1), 1, 9, f4)       # 81 > MAX_INNER: im2col
    assert not _direct.applies((3, 5), (1, 1), (1, 1), 1, 1, f4)       # rows of 5 taps
    assert not _direct.applies((3, 3), (2, 1), (1, 1), 1, 1, f4)       # stride
    assert not _direct.applies((3, 3), (1, 1), (1, 2), 1, 1, f4)       # dilation
    assert not _direct.applies((3, 3), (1, 1), (1, 1), 2, 2, f4)       # groups
    assert not _direct.applies((3,), (1,), (1,), 1, 1, f4)             # 1-D
    assert not _direct.applies((3, 3, 3), (1, 1, 1), (1, 1, 1), 1, 1, f4)
    assert not _direct.applies((3, 3), (1, 1), (1, 1), 1, 1, np.dtype(np.complex64))


def test_gradients_of_a_direct_layer_match_finite_differences():
    """The backward pass (im2col's adjoints) is the derivative of this forward."""
    rng = np.random.default_rng(3)
    x, k, b = (a.astype(np.float64) for a in _data(rng, (2, 2, 6, 5, 3, 3), np.float64))
    dy = rng.standard_normal(F.conv(x, k, b, padding=1, boundary="reflect").shape)
    dx, dw, db = F.conv_backward(dy, x, k, padding=1, boundary="reflect")
    eps = 1e-6
    for grad, arr in ((dx, x), (dw, k), (db, b)):
        v = rng.standard_normal(arr.shape)
        plus, minus = arr + eps * v, arr - eps * v
        f = [F.conv(*(moved if a is arr else a for a in (x, k, b)), padding=1, boundary="reflect")
             for moved in (plus, minus)]
        numeric = np.sum(dy * (f[0] - f[1])) / (2 * eps)
        assert abs(numeric - np.sum(grad * v)) <= 1e-6 * max(1.0, abs(numeric))


def test_forward_is_dispatched_before_im2col(monkeypatch):
    """conv's forward takes the direct sum and never builds columns for such a layer."""
    monkeypatch.setattr(_conv_gemm, "_cols", lambda *a, **k: pytest.fail("im2col was built"))
    rng = np.random.default_rng(2)
    x, k, b = _data(rng, CASES[1], np.float32)
    assert F.conv(x, k, b, padding=1, boundary="reflect").shape == (2, 6, 8, 8)
