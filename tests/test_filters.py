"""ndconv.filters against its scipy.ndimage namesakes, under the boundary mapping of §1."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

import ndconv
from ndconv import filters

#: ndconv boundary → scipy.ndimage mode (docs/conventions.md §3.3)
NDIMAGE_MODE = {"constant": "constant", "wrap": "wrap", "reflect": "mirror", "symmetric": "reflect",
                "edge": "nearest"}
BOUNDARIES = list(NDIMAGE_MODE)
RNG = np.random.default_rng(20240605)
IMAGE_3D = RNG.standard_normal((11, 14, 6))
IMAGE_2D = RNG.standard_normal((23, 19))


def tolerance(dtype) -> float:
    return 2e-5 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-12


def assert_matches(ours: np.ndarray, theirs: np.ndarray, dtype=np.float64) -> None:
    assert ours.shape == theirs.shape
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=tolerance(dtype) * scale)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("sigma", [0.7, 2.0, (1.0, 0.0, 2.5)])
def test_gaussian_equals_ndimage(boundary, sigma):
    mode = NDIMAGE_MODE[boundary]
    assert_matches(filters.gaussian(IMAGE_3D, sigma, boundary=boundary),
                   ndi.gaussian_filter(IMAGE_3D, sigma, mode=mode))


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_gaussian_axes_and_truncate(boundary):
    mode = NDIMAGE_MODE[boundary]
    ours = filters.gaussian(IMAGE_3D, (1.0, 2.0), axes=(2, 0), truncate=2.5, boundary=boundary)
    assert_matches(ours, ndi.gaussian_filter(IMAGE_3D, (1.0, 2.0), axes=(2, 0), truncate=2.5, mode=mode))
    # a kernel longer than the axis (radius 12 > 6 samples) repeats the extension
    assert_matches(filters.gaussian(IMAGE_3D, 3.0, axes=2, boundary=boundary),
                   ndi.gaussian_filter1d(IMAGE_3D, 3.0, axis=2, mode=mode))


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("name", ["sobel", "prewitt"])
def test_derivatives_equal_ndimage_on_every_axis(boundary, name):
    ours, theirs = getattr(filters, name), getattr(ndi, name)
    for axis in (0, 1, 2, -1):
        assert_matches(ours(IMAGE_3D, axis, boundary=boundary), theirs(IMAGE_3D, axis, mode=NDIMAGE_MODE[boundary]))


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_laplace_box_gradient_magnitude_equal_ndimage(boundary):
    mode = NDIMAGE_MODE[boundary]
    for image in (IMAGE_2D, IMAGE_3D, IMAGE_2D[0]):
        assert_matches(filters.laplace(image, boundary=boundary), ndi.laplace(image, mode=mode))
        for size in (1, 2, 3, 4):
            assert_matches(filters.box(image, size, boundary=boundary), ndi.uniform_filter(image, size, mode=mode))
        assert_matches(filters.gradient_magnitude(image, boundary=boundary),
                       ndi.generic_gradient_magnitude(image, ndi.sobel, mode=mode))
        assert_matches(filters.gradient_magnitude(image, operator="prewitt", boundary=boundary),
                       ndi.generic_gradient_magnitude(image, ndi.prewitt, mode=mode))
    assert_matches(filters.box(IMAGE_3D, (2, 5), axes=(0, 2), boundary=boundary),
                   ndi.uniform_filter(IMAGE_3D, (2, 5), axes=(0, 2), mode=mode))


def test_constant_boundary_fill_value():
    for ours, theirs in ((filters.gaussian(IMAGE_2D, 1.5, boundary="constant", fill_value=2.5),
                          ndi.gaussian_filter(IMAGE_2D, 1.5, mode="constant", cval=2.5)),
                         (filters.box(IMAGE_2D, 3, boundary="fill", fill_value=4.0),
                          ndi.uniform_filter(IMAGE_2D, 3, mode="constant", cval=4.0))):
        assert_matches(ours, theirs)


def test_derivative_fill_value_extends_the_image():
    """§1: x is extended by fill_value, then filtered.  ndimage instead fills each
    1-D pass's input with cval, so its sobel differs where fill_value != 0."""
    padded = np.pad(IMAGE_2D, 1, constant_values=-1.0)
    for name in ("sobel", "prewitt"):
        ours = getattr(filters, name)(IMAGE_2D, 0, boundary="zero", fill_value=-1.0)
        assert_matches(ours, getattr(ndi, name)(padded, 0)[1:-1, 1:-1])
    assert_matches(filters.laplace(IMAGE_2D, boundary="constant", fill_value=-1.0),
                   ndi.laplace(IMAGE_2D, mode="constant", cval=-1.0))


def test_default_boundary_is_reflect_which_is_ndimage_mirror():
    assert_matches(filters.gaussian(IMAGE_2D, 2.0), ndi.gaussian_filter(IMAGE_2D, 2.0, mode="mirror"))
    assert_matches(filters.sobel(IMAGE_2D), ndi.sobel(IMAGE_2D, mode="mirror"))
    assert not np.allclose(filters.sobel(IMAGE_2D), ndi.sobel(IMAGE_2D))  # ndimage's default is our 'symmetric'


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("boundary", ["reflect", "symmetric", "wrap"])
def test_float_dtypes(dtype, boundary):
    image = IMAGE_2D.astype(dtype)
    expected = np.float32 if dtype in (np.float16, np.float32) else np.float64
    reference = image.astype(np.float64)
    mode = NDIMAGE_MODE[boundary]
    cases = [(filters.gaussian(image, 1.2, boundary=boundary), ndi.gaussian_filter(reference, 1.2, mode=mode)),
             (filters.sobel(image, 0, boundary=boundary), ndi.sobel(reference, 0, mode=mode)),
             (filters.prewitt(image, 1, boundary=boundary), ndi.prewitt(reference, 1, mode=mode)),
             (filters.laplace(image, boundary=boundary), ndi.laplace(reference, mode=mode)),
             (filters.box(image, 4, boundary=boundary), ndi.uniform_filter(reference, 4, mode=mode)),
             (filters.gradient_magnitude(image, boundary=boundary),
              ndi.generic_gradient_magnitude(reference, ndi.sobel, mode=mode))]
    for ours, theirs in cases:
        assert ours.dtype == expected
        assert_matches(ours, theirs, expected)


def test_complex_gaussian():
    image = IMAGE_2D + 1j * IMAGE_2D[::-1]
    ours = filters.gaussian(image, 1.5)
    assert ours.dtype == np.complex128
    assert_matches(ours, ndi.gaussian_filter(image, 1.5, mode="mirror"))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64, np.bool_])
def test_integer_inputs(dtype):
    """Integer-weight filters are exact int64 (ndimage's result before it is cast
    back to the input type); the others are float64."""
    image = RNG.integers(0, 2 if dtype == np.bool_ else 200, size=(15, 12)).astype(dtype)
    wide = image.astype(np.int64)
    for boundary, mode in NDIMAGE_MODE.items():
        for ours, theirs in ((filters.sobel(image, 0, boundary=boundary), ndi.sobel(wide, 0, mode=mode)),
                             (filters.prewitt(image, 1, boundary=boundary), ndi.prewitt(wide, 1, mode=mode)),
                             (filters.laplace(image, boundary=boundary), ndi.laplace(wide, mode=mode))):
            assert ours.dtype == np.int64
            np.testing.assert_array_equal(ours, theirs)
    floats = image.astype(np.float64)
    assert filters.gaussian(image, 1.0).dtype == np.float64
    assert_matches(filters.gaussian(image, 1.0), ndi.gaussian_filter(floats, 1.0, mode="mirror"))
    assert_matches(filters.box(image, 3), ndi.uniform_filter(floats, 3, mode="mirror"))
    assert filters.gradient_magnitude(image).dtype == np.float64


def test_gaussian_kernel_radius_rule_and_normalisation():
    for sigma, truncate in ((1.0, 4.0), (2.0, 4.0), (0.5, 3.0), (3.75, 4.0), (1.3, 2.2)):
        kernel = filters.gaussian_kernel(sigma, ndim=1, truncate=truncate)
        radius = int(truncate * sigma + 0.5)
        assert kernel.shape == (2 * radius + 1,)
        impulse = np.zeros(2 * radius + 1)
        impulse[radius] = 1
        np.testing.assert_allclose(kernel, ndi.gaussian_filter1d(impulse, sigma, truncate=truncate,
                                                                 mode="constant"), atol=1e-15)
    kernel = filters.gaussian_kernel((1.0, 2.0, 0.0), ndim=3)
    assert kernel.shape == (9, 17, 1) and kernel.dtype == np.float64
    assert abs(kernel.sum() - 1) < 1e-14
    assert filters.gaussian_kernel(0.0, ndim=2).tolist() == [[1.0]]
    assert filters.gaussian_kernel(1.0, ndim=3).shape == (9, 9, 9)


def test_sigma_zero_is_identity_with_the_result_dtype():
    assert filters.gaussian(IMAGE_2D, 0).tolist() == IMAGE_2D.tolist()
    assert filters.gaussian(np.arange(4), 0).dtype == np.float64
    assert filters.box(np.arange(4.0, dtype=np.float32), 1).dtype == np.float32


def test_sobel_sign_convention():
    ramp = np.tile(np.arange(6.0), (4, 1))
    np.testing.assert_allclose(filters.sobel(ramp, axis=1)[:, 1:-1], 8, atol=1e-12)
    np.testing.assert_allclose(filters.sobel(ramp, axis=0), 0, atol=1e-12)


@pytest.mark.parametrize("name", ["gaussian", "sobel"])
def test_auto_takes_the_separable_path(name, monkeypatch):
    """The filters reach correlate with one nD kernel; the core factors it (the Gaussian
    when OpenCV's direct path is off: with it, see the test below)."""
    monkeypatch.setattr(ndconv.filters._opencv, "centred_sep_filter", lambda *args: None)
    image = np.zeros((512, 512), dtype=np.float32)
    seen = {}
    original = ndconv.filters.correlate

    def spy(x, k, *args, **kwargs):
        seen["choice"] = ndconv.choose_method(x, k, *args, correlate=True, **kwargs)
        return original(x, k, *args, **kwargs)

    ndconv.filters.correlate = spy
    try:
        filters.gaussian(image, 2.0) if name == "gaussian" else filters.sobel(image)
    finally:
        ndconv.filters.correlate = original
    choice = seen["choice"]
    assert "rank 1" in choice.reasons["separable"], choice.report()      # recognised as an outer product
    if name == "gaussian":   # 17×17: 34 taps in passes against 289 whole
        assert choice == "separable", choice.report()
    else:                    # 3×3: the passes save 3 taps of 9 but stream the image twice
        assert choice == min(choice.costs, key=choice.costs.get), choice.report()


@pytest.mark.skipif(not ndconv.methods._opencv.available(), reason="OpenCV not installed")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("boundary", ["reflect", "symmetric", "edge", "constant", "wrap"])
def test_2d_gaussians_go_straight_to_opencv_with_their_own_weights(dtype, boundary, monkeypatch):
    """A 2-D float Gaussian runs one sepFilter2D call with the 1-D weights (no 2-D kernel
    for correlate to factor), and gives correlate's answer; wrap, a non-zero fill and a zero
    weight keep the generic path."""
    rng = np.random.default_rng(21)
    image = rng.standard_normal((70, 90)).astype(dtype)
    image[10, 20] = np.nan
    image[40, 60] = np.inf
    calls = []
    original = ndconv.filters.correlate
    monkeypatch.setattr(ndconv.filters, "correlate", lambda *a, **k: calls.append(1) or original(*a, **k))
    got = filters.gaussian(image, (2.0, 3.0), boundary=boundary)
    assert bool(calls) == (boundary == "wrap")
    expected = original(image, filters.gaussian_kernel((2.0, 3.0)).astype(dtype), "same", boundary)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))     # NaN and ∞ stay local
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], atol=2e-6 if dtype == np.float32 else 1e-13)
    calls.clear()
    filters.gaussian(image, 2.0, boundary="constant", fill_value=1.5)
    assert calls
    calls.clear()
    filters.gaussian(image, 2.0, truncate=16.0)     # float32 weights that underflow to 0 (e^-128)
    assert bool(calls) == (dtype == np.float32)
    calls.clear()
    filters.gaussian(image, 0.5)                    # 5 taps: the core's loops over the whole kernel
    assert calls


def test_large_kernels_run_as_one_dimensional_passes():
    image = RNG.standard_normal((6, 7, 8))
    assert_matches(filters.gaussian(image, 12.0, boundary="wrap"), ndi.gaussian_filter(image, 12.0, mode="wrap"))


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=3), sigma=st.floats(0.0, 3.0),
       boundary=st.sampled_from(BOUNDARIES), size=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_random_shapes_against_ndimage(shape, sigma, boundary, size, seed):
    image = np.random.default_rng(seed).standard_normal(shape)
    mode = NDIMAGE_MODE[boundary]
    assert_matches(filters.gaussian(image, sigma, boundary=boundary), ndi.gaussian_filter(image, sigma, mode=mode))
    assert_matches(filters.box(image, size, boundary=boundary), ndi.uniform_filter(image, size, mode=mode))
    assert_matches(filters.sobel(image, -1, boundary=boundary), ndi.sobel(image, -1, mode=mode))
    assert_matches(filters.laplace(image, boundary=boundary), ndi.laplace(image, mode=mode))


@pytest.mark.parametrize("call, error, match", [
    (lambda: filters.gaussian(IMAGE_2D, -1.0), ValueError, r"sigma must be a number >= 0 .*got -1.0"),
    (lambda: filters.gaussian(IMAGE_2D, (1.0, 2.0, 3.0)), ValueError, r"sigma must be .*2 numbers.*got \(1.0"),
    (lambda: filters.gaussian(IMAGE_2D, "a"), ValueError, r"sigma must be .*got 'a'"),
    (lambda: filters.gaussian(IMAGE_2D, 1.0, truncate=-2), ValueError,
     r"truncate must be a finite number >= 0, got -2"),
    (lambda: filters.gaussian(IMAGE_2D, 1.0, boundary="mirorr"), ValueError, r"boundary must be .*got 'mirorr'"),
    (lambda: filters.gaussian(IMAGE_2D, 1.0, axes=5), ValueError, r"axes must be .*got 5"),
    (lambda: filters.gaussian_kernel(1.0, ndim=0), ValueError, r"ndim must be an int >= 1, got 0"),
    (lambda: filters.sobel(IMAGE_2D, axis=2), ValueError, r"axis must be an int in \[-2, 1\], got 2"),
    (lambda: filters.prewitt(IMAGE_2D, axis=1.5), ValueError, r"axis must be .*got 1.5"),
    (lambda: filters.box(IMAGE_2D, 0), ValueError, r"size must be an int >= 1 .*got 0"),
    (lambda: filters.box(IMAGE_2D, (2, 2, 2)), ValueError, r"size must be .*got \(2, 2, 2\)"),
    (lambda: filters.gradient_magnitude(IMAGE_2D, operator="scharr"), ValueError,
     r"operator must be 'sobel' or 'prewitt', got 'scharr'"),
    (lambda: filters.laplace(np.float64(3.0)), ValueError, r"x must be a non-empty array"),
    (lambda: filters.laplace(np.zeros((0, 3))), ValueError, r"x must be a non-empty array"),
    (lambda: filters.sobel(np.array(["a", "b"])), TypeError, r"x must be an array of .*got ndarray of dtype <U1"),
])
def test_errors_name_argument_and_value(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_straight_sepfilter_checks_the_weights_values_not_their_shapes():
    """The check of the 1-D weights (finite, no product of taps below the smallest normal
    number, where sepFilter2D would flush to zero and lose 0·∞ = NaN) is kept by the
    weights' bytes: other values of the same shape are checked afresh."""
    from ndconv.methods import _opencv

    if not _opencv.available():
        pytest.skip("OpenCV is not installed")
    x = np.random.default_rng(0).random((40, 40), dtype=np.float32)
    good = np.full(7, 1 / 7, np.float32)
    assert _opencv.centred_sep_filter(x, good, good, "reflect", 0) is not None
    for bad in (np.float32(1e-38), np.float32(np.nan), np.float32(np.inf)):
        weights = good.copy()
        weights[3] = bad
        assert _opencv.centred_sep_filter(x, weights, good, "reflect", 0) is None
    assert _opencv.centred_sep_filter(x, good, good, "reflect", 0) is not None


def test_kept_gaussian_weights_are_read_only_and_kernels_are_not():
    """gaussian() keeps its 1-D weights (read-only); gaussian_kernel hands out a fresh array."""
    from ndconv.filters import _gaussian_weights, gaussian_kernel

    assert not _gaussian_weights(2.0, 4.0, np.float32).flags.writeable
    kernel = gaussian_kernel(2.0, ndim=1)
    kernel[0] = 5.0                                   # the caller's own array
    assert gaussian_kernel(2.0, ndim=1)[0] != 5.0
