"""ndconv.fourier against numpy.fft, scipy.fft and scipy.signal.resample."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from ndconv import fourier
from ndconv.fourier import aliased_frequency, cfft, dft_matrix, freqs, icfft, resample, sinc_interpolate

DTYPES = (np.float32, np.float64, np.complex64, np.complex128)
TOL = {np.float32: 2e-5, np.complex64: 2e-5, np.float64: 1e-12, np.complex128: 1e-12}


def random(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


# -- DFT matrix, centred transforms, frequencies ----------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9, 10, 16, 31, 64, 100])
def test_dft_matrix_is_fft_of_identity(n):
    np.testing.assert_allclose(dft_matrix(n), np.fft.fft(np.eye(n)), rtol=0, atol=1e-13)
    centred = np.fft.fftshift(np.fft.fft(np.fft.ifftshift(np.eye(n), axes=0), axis=0), axes=0)
    np.testing.assert_allclose(dft_matrix(n, centered=True), centred, rtol=0, atol=1e-13)
    assert dft_matrix(n).dtype == np.complex128 and dft_matrix(n).shape == (n, n)


def test_dft_matrix_exact_entries_and_large_n_accuracy():
    f = dft_matrix(8)
    assert f[2, 1] == -1j and f[4, 1] == -1 and f[6, 1] == 1j and f[4, 4] == 1  # quarter turns are exact
    n = 1031  # prime: every exponent j·k mod n occurs
    w = dft_matrix(n)
    u = random(n, np.complex128)
    np.testing.assert_allclose(w @ u, np.fft.fft(u), rtol=0, atol=1e-10)
    np.testing.assert_allclose(w[n - 1, n - 1], np.exp(-2j * np.pi / n), rtol=0, atol=1e-15)  # (n−1)² ≡ 1
    np.testing.assert_allclose(np.abs(w), 1.0, rtol=0, atol=1e-15)


def test_dft_matrix_notes_example_ten():
    """The notes' np.fftshift(np.fft(np.ifftshift(np.eye(10)))): the middle row is f_x = 0."""
    c = dft_matrix(10, centered=True)
    np.testing.assert_allclose(c[5], 1.0, atol=1e-15)
    u = random(10, np.float64)
    np.testing.assert_allclose(c @ u, np.fft.fftshift(np.fft.fft(np.fft.ifftshift(u))), atol=1e-13)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=3), dtype=st.sampled_from(DTYPES),
       norm=st.sampled_from([None, "backward", "ortho", "forward"]), data=st.data())
def test_cfft_matches_numpy_and_inverts(shape, dtype, norm, data):
    x = random(shape, dtype)
    axes = data.draw(st.one_of(st.none(), st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True)))
    ref_axes = tuple(range(len(shape))) if axes is None else tuple(axes)
    ref = np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(x, axes=ref_axes), axes=ref_axes, norm=norm), axes=ref_axes)
    y = cfft(x, axes=axes, norm=norm)
    tol = TOL[dtype] * max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(y, ref, rtol=0, atol=tol)
    np.testing.assert_allclose(icfft(y, axes=axes, norm=norm), x, rtol=0, atol=TOL[dtype] * 10)


def test_cfft_is_centred_dft_matrix_on_each_axis():
    x = random((6, 7), np.float64)
    expected = dft_matrix(6, centered=True) @ x @ dft_matrix(7, centered=True).T
    np.testing.assert_allclose(cfft(x), expected, atol=1e-12)
    np.testing.assert_allclose(cfft(x, axes=1), x @ dft_matrix(7, centered=True).T, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
@pytest.mark.parametrize("d", [1.0, 0.1, 3])
def test_freqs_match_fftfreq(n, d):
    np.testing.assert_array_equal(freqs(n, d), np.fft.fftfreq(n, d))
    np.testing.assert_array_equal(freqs(n, d, centered=True), np.fft.fftshift(np.fft.fftfreq(n, d)))
    assert freqs(n, d, centered=True)[n // 2] == 0  # the zero of cfft's output


# -- resample -----------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 20), num=st.integers(1, 25), dtype=st.sampled_from(DTYPES), batch=st.integers(0, 2))
def test_resample_equals_scipy(n, num, dtype, batch):
    shape = (3,) * batch + (n,)
    x = random(shape, dtype, seed=n * 31 + num)
    ref = scipy.signal.resample(x, num, axis=-1)
    y = resample(x, num)
    assert y.shape == ref.shape and y.dtype == ref.dtype
    np.testing.assert_allclose(y, ref, rtol=0, atol=TOL[dtype] * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize(("n", "num"), [(8, 4), (8, 12), (7, 4), (6, 9), (4, 4), (1, 5), (5, 1)])
def test_resample_other_axis_and_nyquist(n, num):
    x = random((n, 3), np.float64)
    np.testing.assert_allclose(resample(x, num, axis=0), scipy.signal.resample(x, num, axis=0), atol=1e-13)
    xc = random((3, n), np.complex128)
    np.testing.assert_allclose(resample(xc, num), scipy.signal.resample(xc, num, axis=-1), atol=1e-13)


def test_resample_band_limited_periodic_signal_exactly():
    t = np.arange(8) / 8
    up = resample(np.sin(2 * np.pi * 3 * t), 32)
    np.testing.assert_allclose(up, np.sin(2 * np.pi * 3 * np.arange(32) / 32), atol=1e-13)


# -- sinc reconstruction --------------------------------------------------------------------

def band_limited(t):
    """sinc²(0.4 t): spectrum a triangle on |f| ≤ 0.4 < 1/2, decays like 1/t²."""
    return np.sinc(0.4 * t) ** 2


def test_sinc_reconstruction_of_band_limited_signal():
    n = np.arange(-100, 101)
    t = np.linspace(-20, 20, 333)  # interior: truncation error ~ Σ_{|n|>100} |U(n)| / (π·80)
    y = sinc_interpolate(band_limited(n), t, t0=-100.0)
    assert np.max(np.abs(y - band_limited(t))) < 2e-4
    np.testing.assert_allclose(sinc_interpolate(band_limited(n), n, t0=-100.0), band_limited(n), atol=1e-15)


def test_sinc_truncation_far_outside_decays_to_zero():
    y = sinc_interpolate(np.ones(10), [4.5, 1e4])
    assert abs(y[1]) < 1e-3 and abs(y[0] - 1) < 0.1


def test_sinc_spacing_and_t0():
    spacing, t0 = 0.25, 1.0  # fs = 4, signal bandwidth 1.5 < 2
    tn = t0 + spacing * np.arange(400)
    signal = lambda t: np.sinc(1.5 * (t - 50.0)) ** 2 * np.cos(0.3 * t)  # noqa: E731
    t = np.linspace(40, 60, 101)
    y = sinc_interpolate(signal(tn), t, spacing=spacing, t0=t0)
    assert np.max(np.abs(y - signal(t))) < 1e-3


def test_sinc_2d_outer_grid():
    spacing = (0.5, 1.0)
    nx, ny = np.arange(-40, 41) * 0.5, np.arange(-30, 31) * 1.0
    signal = lambda x, y: band_limited(0.5 * x)[:, None] * band_limited(y)[None, :]  # noqa: E731
    x, y = np.linspace(-3, 3, 13), np.array([-2.25, 0.0, 0.5, 1.75])
    out = sinc_interpolate(signal(nx, ny), (x, y), spacing=spacing, t0=(-20.0, -30.0))
    assert out.shape == (13, 4)
    assert np.max(np.abs(out - signal(x, y))) < 2e-3
    # separable: the 2-D sum is the 1-D sum on each axis
    s = np.random.default_rng(1).standard_normal((5, 6))
    grid = sinc_interpolate(s, (x, y))
    rows = np.stack([sinc_interpolate(s[:, j], x) for j in range(6)], axis=1)
    expected = np.stack([sinc_interpolate(rows[i], y) for i in range(13)])
    np.testing.assert_allclose(grid, expected, atol=1e-13)


@pytest.mark.parametrize(("n", "lanes", "count", "u0"),
                         [(50, 1, 80, 0.3), (200, 2, 500, -10.0), (300, 4, 1500, 3.25), (64, 3, 7, 0.0),
                          (1, 5, 30, -2.0), (400, 10, 5000, -40.0)])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_sinc_fft_path_equals_direct(n, lanes, count, u0, dtype):
    x = random(n, dtype, seed=lanes)
    t = u0 + np.arange(count) / lanes
    direct = sinc_interpolate(x, t, method="direct")
    fast = sinc_interpolate(x, t, method="fft")
    assert fast.dtype == direct.dtype
    np.testing.assert_allclose(fast, direct, rtol=0, atol=1e-12 * max(1.0, np.abs(t).max()) * np.abs(x).sum() ** 0.5)
    np.testing.assert_allclose(sinc_interpolate(x, t), direct, rtol=0, atol=1e-11)


def test_sinc_auto_takes_fft_path_when_it_pays(monkeypatch):
    calls = []
    original = fourier._sinc._fft
    monkeypatch.setattr(fourier._sinc, "_fft", lambda *a: calls.append(a[2]) or original(*a))
    x = random(2000, np.float64)
    sinc_interpolate(x, np.linspace(0, 1999, 8000 - 3))  # step 1/4 in units of spacing
    assert calls == [4]
    sinc_interpolate(x[:10], np.linspace(0, 9, 37))  # small: direct
    sinc_interpolate(x, np.sort(np.random.default_rng(0).uniform(0, 1999, 5000)))  # not a grid: direct
    assert calls == [4]


def test_sinc_fft_path_on_2d_grid_and_spacing():
    s = random((40, 30), np.float64)
    grid = (0.5 + np.arange(100) * 0.25, -1.0 + np.arange(45) * (2.0 / 3.0))
    kwargs = dict(spacing=(1.0, 2.0), t0=(0.0, 1.0))
    np.testing.assert_allclose(sinc_interpolate(s, grid, method="fft", **kwargs),
                               sinc_interpolate(s, grid, method="direct", **kwargs), atol=1e-12)


def test_sinc_fft_path_takes_one_point_and_no_points():
    """One query point is a grid (of any step) and none is an empty one: method='fft' gives
    what 'direct' gives instead of refusing them as non-uniform (found by the fuzzing campaign)."""
    x = random(7, np.float64)
    for t in ([2.5], 2.5, np.array([-1.25]), []):
        fast, direct = sinc_interpolate(x, t, method="fft"), sinc_interpolate(x, t, method="direct")
        assert fast.shape == direct.shape == np.shape(t)
        np.testing.assert_allclose(fast, direct, rtol=0, atol=1e-12)
    s = random((4, 5), np.float64)
    for grid in (([0.5], [1.0, 1.5, 2.0]), ([], [1.0]), ([0.5], [])):
        fast, direct = sinc_interpolate(s, grid, method="fft"), sinc_interpolate(s, grid, method="direct")
        assert fast.shape == direct.shape == (len(grid[0]), len(grid[1]))
        np.testing.assert_allclose(fast, direct, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="uniform grid"):
        sinc_interpolate(x, [0.1, 0.7], method="fft")


def test_sinc_fft_path_takes_a_unit_step_rounded_up():
    """Query points start + m whose mean step rounds to 1 + 1 ulp are still the grid of
    step 1 (found by the fuzzing campaign: method='fft' refused them as non-uniform)."""
    t = 19.959672806120224 + np.arange(107.0)
    assert (t[-1] + 2.5 - (t[0] + 2.5)) / 106 > 1   # the premise
    x = random(9, np.float64)
    np.testing.assert_allclose(sinc_interpolate(x, t, t0=-2.5, method="fft"),
                               sinc_interpolate(x, t, t0=-2.5, method="direct"), rtol=0, atol=1e-12)


def test_sinc_dtypes_and_shapes():
    assert sinc_interpolate(np.ones(4, np.float32), [0.5]).dtype == np.float32
    assert sinc_interpolate(np.ones(4, np.complex64), [0.5]).dtype == np.complex64
    assert sinc_interpolate(np.arange(4), [0.5]).dtype == np.float64
    assert sinc_interpolate([1.0, 2.0], np.zeros((2, 3))).shape == (2, 3)
    assert sinc_interpolate([1.0, 2.0], 1.0) == pytest.approx(2.0)
    assert sinc_interpolate([1.0, 2.0], []).shape == (0,)


def test_sinc_direct_blocks_bound_memory(monkeypatch):
    monkeypatch.setattr(fourier._sinc, "_BLOCK_BYTES", 800)  # 1 row of 100 samples per block
    x = random(100, np.float64)
    t = np.random.default_rng(2).uniform(-5, 105, 37)
    blocked = sinc_interpolate(x, t, method="direct")
    np.testing.assert_allclose(blocked, np.sinc(t[:, None] - np.arange(100)) @ x, atol=1e-13)


# -- aliasing ---------------------------------------------------------------------------------

# fs = 10 Hz, Nyquist 5 Hz: a tone above 5 Hz folds back into [0, 5].
ALIAS_TABLE = [(0, 0), (1, 1), (3, 3), (5, 5), (6, 4), (7, 3), (9, 1), (10, 0), (11, 1), (13, 3), (17, 3),
               (20, 0), (23, 3), (-3, 3), (-7, 3), (2.5, 2.5), (12.5, 2.5)]


def test_aliased_frequency_table():
    f, apparent = np.array(ALIAS_TABLE, dtype=float).T
    np.testing.assert_array_equal(aliased_frequency(f, 10.0), apparent)
    assert aliased_frequency(7, 10) == 3.0 and np.ndim(aliased_frequency(7, 10)) == 0
    np.testing.assert_allclose(aliased_frequency([[3.0], [13.0]], [10.0, 4.0]), [[3.0, 1.0], [3.0, 1.0]])


def test_aliased_frequency_is_what_the_samples_show():
    fs, n = 8.0, np.arange(64)
    for f in (1.0, 3.0, 5.0, 7.0, 9.5, 15.0):
        samples = np.cos(2 * np.pi * f * n / fs)
        np.testing.assert_allclose(samples, np.cos(2 * np.pi * aliased_frequency(f, fs) * n / fs), atol=1e-12)


# -- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: dft_matrix(0), ValueError, r"n must be a positive int, got 0"),
    (lambda: dft_matrix(-3), ValueError, r"n must be a positive int, got -3"),
    (lambda: dft_matrix(2.5), TypeError, r"n must be a positive int, got float"),
    (lambda: dft_matrix(True), TypeError, r"n must be a positive int, got bool"),
    (lambda: dft_matrix(10**7), ValueError, r"n=10000000 gives a dft_matrix of .* more than the .* available"),
    (lambda: cfft(np.array(["a"])), TypeError, r"x must be an array of numbers, got ndarray of dtype <U1"),
    (lambda: cfft(np.zeros(3), norm="unit"), ValueError, r"norm must be None, 'backward', 'ortho' or 'forward'"),
    (lambda: cfft(np.zeros((2, 3)), axes=2), ValueError, r"axes must be axes of an array with 2 dimensions, got 2"),
    (lambda: cfft(np.zeros((2, 3)), axes=(0, 0)), ValueError, r"axes must be distinct axes, got \(0, 0\)"),
    (lambda: cfft(np.zeros((2, 3)), axes="0"), TypeError, r"axes must be an int or a sequence of ints"),
    (lambda: icfft(np.zeros((0, 3))), ValueError, r"x must be non-empty along the transformed axes"),
    (lambda: cfft(1.0), ValueError, r"x must be an array with at least one axis"),
    (lambda: freqs(0), ValueError, r"n must be a positive int, got 0"),
    (lambda: freqs(4, d=0), ValueError, r"d must be a positive finite number, got 0"),
    (lambda: freqs(4, d="1"), TypeError, r"d must be a positive real number, got str"),
    (lambda: resample(np.zeros(4), 0), ValueError, r"num must be a positive int, got 0"),
    (lambda: resample(np.zeros(4), 2.0), TypeError, r"num must be a positive int, got float"),
    (lambda: resample(np.zeros(4), 2, axis=1), ValueError, r"axis must be an axis of an array with 1 dimensions"),
    (lambda: resample(np.zeros((4, 0)), 2), ValueError, r"x must be non-empty along axis -1, got 'an array of"),
    (lambda: resample([object()], 2), TypeError, r"x must be an array of numbers, got ndarray of dtype object"),
    (lambda: sinc_interpolate([], [0.0]), ValueError, r"samples must be a non-empty array"),
    (lambda: sinc_interpolate(np.zeros(3), [0.0], spacing=0), ValueError, r"spacing must be positive, got 0"),
    (lambda: sinc_interpolate(np.zeros(3), [0.0], spacing=(1, 2)), ValueError,
     r"spacing must be a number or 1 numbers, one per axis of samples, got \(1, 2\)"),
    (lambda: sinc_interpolate(np.zeros(3), [0.0], t0=np.inf), ValueError, r"t0 must be finite, got inf"),
    (lambda: sinc_interpolate(np.zeros(3), [0.0], t0="0"), TypeError, r"t0 must be a real number, got str"),
    (lambda: sinc_interpolate(np.zeros(3), [np.nan]), ValueError, r"t must be finite coordinates"),
    (lambda: sinc_interpolate(np.zeros(3), [1j]), TypeError, r"t must be real coordinates, got ndarray of dtype"),
    (lambda: sinc_interpolate(np.zeros((3, 3)), [0.0]), ValueError, r"t must be a tuple of 2 1-D arrays"),
    (lambda: sinc_interpolate(np.zeros((3, 3)), ([0.0], [[0.0]])), ValueError, r"t must be 1-D arrays on a grid"),
    (lambda: sinc_interpolate(np.zeros(3), [0.0], method="fast"), ValueError,
     r"method must be 'auto', 'direct' or 'fft', got 'fast'"),
    (lambda: sinc_interpolate(np.zeros(3), [0.0, 0.3, 1.0], method="fft"), ValueError,
     r"t must be a uniform grid whose step divides spacing for method='fft'"),
    (lambda: aliased_frequency(3.0, 0), ValueError, r"fs must be positive and finite, got 0"),
    (lambda: aliased_frequency(3.0, [10.0, -1.0]), ValueError, r"fs must be positive and finite, got 'an array"),
    (lambda: aliased_frequency(np.nan, 10), ValueError, r"f must be finite, got nan"),
    (lambda: aliased_frequency([1.0, np.inf], 10), ValueError, r"f must be finite, got 'an array with NaN or Inf'"),
    (lambda: aliased_frequency(1j, 10), TypeError, r"f must be real numbers, got ndarray of dtype complex128"),
])
def test_errors_name_argument_and_value(call, error, match):
    with pytest.raises(error, match=match):
        call()
