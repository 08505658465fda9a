"""match_template against scikit-image, OpenCV and a brute-force loop; find_matches."""

from __future__ import annotations

import numpy as np
import pytest

import ndconv
from ndconv.filters import find_matches, match_template

skimage_feature = pytest.importorskip("skimage.feature")
RNG = np.random.default_rng(7)
METHODS = ["zncc", "ncc", "ccorr", "sqdiff"]


def brute_force(image: np.ndarray, template: np.ndarray, method: str) -> np.ndarray:
    """Every window scored by its definition (0 where a norm is 0)."""
    out_shape = tuple(n - t + 1 for n, t in zip(image.shape, template.shape))
    out = np.zeros(out_shape)
    t = template.astype(np.float64)
    for index in np.ndindex(*out_shape):
        w = image[tuple(slice(i, i + k) for i, k in zip(index, template.shape))].astype(np.float64)
        if method == "ccorr":
            out[index] = np.sum(w * t)
        elif method == "sqdiff":
            out[index] = np.sum((w - t) ** 2)
        else:
            a, b = (w - w.mean(), t - t.mean()) if method == "zncc" else (w, t)
            norm = np.sqrt(np.sum(a * a) * np.sum(b * b))
            out[index] = np.sum(a * b) / norm if norm > 1e-12 else 0.0
    return out


@pytest.mark.parametrize("pad_input", [False, True])
@pytest.mark.parametrize("shape, template_shape", [((40, 33), (7, 4)), ((12, 13, 9), (3, 4, 5))])
def test_zncc_equals_skimage(pad_input, shape, template_shape):
    image = RNG.standard_normal(shape)
    template = RNG.standard_normal(template_shape)
    ours = match_template(image, template, pad_input=pad_input)
    theirs = skimage_feature.match_template(image, template, pad_input=pad_input)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


@pytest.mark.parametrize("boundary", ["constant", "wrap", "reflect", "symmetric", "edge"])
def test_pad_input_boundaries_equal_skimage_modes(boundary):
    """ndconv boundary names are numpy.pad's, which skimage's ``mode`` takes."""
    image = RNG.random((21, 26))
    template = image[3:8, 10:16] + 0.1 * RNG.random((5, 6))
    ours = match_template(image, template, pad_input=True, boundary=boundary)
    theirs = skimage_feature.match_template(image, template, pad_input=True, mode=boundary)
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
    filled = match_template(image, template, pad_input=True, fill_value=0.5)
    np.testing.assert_allclose(filled, skimage_feature.match_template(image, template, pad_input=True,
                                                                      constant_values=0.5), atol=1e-12)


def test_float32_follows_skimage():
    image = RNG.random((50, 45), dtype=np.float32)
    template = image[20:29, 5:12].copy()
    ours = match_template(image, template)
    theirs = skimage_feature.match_template(image, template)
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=2e-5)
    assert match_template(image.astype(np.float16), template).dtype == np.float32
    assert match_template(np.arange(20).reshape(4, 5), [[1, 2], [3, 5]]).dtype == np.float64


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape, template_shape", [((30,), (5,)), ((9, 11), (3, 4)), ((6, 5, 7), (2, 3, 3))])
def test_every_method_equals_brute_force(method, shape, template_shape):
    image = RNG.standard_normal(shape) + 3.0
    template = RNG.standard_normal(template_shape)
    np.testing.assert_allclose(match_template(image, template, method=method),
                               brute_force(image, template, method), atol=1e-10)


@pytest.mark.parametrize("method", ["zncc", "ncc", "sqdiff"])
def test_scores_split_among_cores_equal_brute_force(method, monkeypatch):
    """Rows of scores shared by the cores (each range restarts its running sums) give the
    same scores as one range and as the definition."""
    import ndconv._match as match_module

    image = RNG.standard_normal((37, 29)) + 3.0
    template = RNG.standard_normal((6, 5))
    monkeypatch.setattr(match_module, "PARALLEL_SCORES", 0)
    split = match_template(image, template, method=method)
    monkeypatch.setattr(match_module, "PARALLEL_SCORES", 2**62)
    whole = match_template(image, template, method=method)
    np.testing.assert_allclose(split, whole, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(split, brute_force(image, template, method), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_float32_methods_close_to_brute_force(method):
    image = RNG.random((24, 20), dtype=np.float32)
    template = RNG.random((5, 6), dtype=np.float32)
    expected = brute_force(image, template, method)
    ours = match_template(image, template, method=method)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, atol=2e-5 * max(1.0, np.abs(expected).max()))


def test_agrees_with_opencv():
    cv2 = pytest.importorskip("cv2")
    image = RNG.random((64, 70), dtype=np.float32)
    template = image[10:25, 30:42].copy() + RNG.random((15, 12), dtype=np.float32) * 0.2
    for method, code in (("zncc", cv2.TM_CCOEFF_NORMED), ("ncc", cv2.TM_CCORR_NORMED),
                         ("ccorr", cv2.TM_CCORR), ("sqdiff", cv2.TM_SQDIFF)):
        theirs = cv2.matchTemplate(image, template, code)
        np.testing.assert_allclose(match_template(image, template, method=method), theirs,
                                   atol=1e-4 * max(1.0, np.abs(theirs).max()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_planted_template_found_at_its_position(dtype):
    image = RNG.random((120, 97)).astype(dtype)
    template = image[41:57, 63:75].copy()
    for method in ("zncc", "ncc", "sqdiff"):
        scores = match_template(image, template, method=method)
        best = find_matches(scores, template.shape, method=method)
        assert best.positions.tolist() == [[41, 63]], method
    zncc = match_template(image, template)
    assert abs(zncc[41, 63] - 1) < 1e-5
    centred = match_template(image, template, pad_input=True)
    assert np.unravel_index(np.argmax(centred), centred.shape) == (41 + 8, 63 + 6)


def test_large_offset_keeps_precision():
    image = 1e4 + RNG.standard_normal((30, 28))
    template = image[5:12, 9:15] + 0.3 * RNG.standard_normal((7, 6))
    for method in ("zncc", "sqdiff"):
        expected = brute_force(image, template, method)
        np.testing.assert_allclose(match_template(image, template, method=method), expected,
                                   atol=1e-8 * max(1.0, np.abs(expected).max()))


@pytest.mark.parametrize(("dtype", "exponents", "normal"), [
    (np.float32, (-90, -60, 60, 90), 110),        # data of about 1e±27 and 1e±18
    (np.float64, (-700, -500, 500, 700), 1000),   # about 1e±210 and 1e±150
])
def test_any_magnitude_gives_the_scores_of_unit_data(dtype, exponents, normal):
    """Squares and FFT products of such values over- or underflow: zncc/ncc were 0 everywhere
    (every window looked flat) and ccorr/sqdiff inf or 0.  Power-of-two scales are exact, so
    zncc/ncc keep their bits and ccorr/sqdiff scale exactly with the data."""
    image = RNG.standard_normal((24, 30)).astype(dtype)
    template = image[5:11, 7:12] + dtype(0.1) * RNG.standard_normal((6, 5)).astype(dtype)
    unit = {m: match_template(image, template, method=m) for m in ("zncc", "ncc", "ccorr", "sqdiff")}
    assert np.unravel_index(np.argmax(unit["zncc"]), unit["zncc"].shape) == (5, 7)
    for a in exponents:
        for b in exponents:
            x, t = np.ldexp(image, a), np.ldexp(template, b)
            for method in ("zncc", "ncc"):
                np.testing.assert_array_equal(match_template(x, t, method=method), unit[method])
            if abs(a + b) <= normal:   # results in the normal range: exactly the unit ones, scaled
                np.testing.assert_array_equal(match_template(x, t, method="ccorr"), np.ldexp(unit["ccorr"], a + b))
        if abs(2 * a) <= normal:
            np.testing.assert_array_equal(match_template(np.ldexp(image, a), np.ldexp(template, a), method="sqdiff"),
                                          np.ldexp(unit["sqdiff"], 2 * a))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flat_windows_and_templates_score_zero(dtype):
    image = np.zeros((40, 50), dtype=dtype)
    image[20:, 25:] = RNG.random((20, 25))
    template = RNG.random((6, 5)).astype(dtype)
    for method in ("zncc", "ncc"):
        scores = match_template(image, template, method=method)
        assert np.isfinite(scores).all() and np.abs(scores).max() <= 1
        assert (scores[:14, :20] == 0).all()       # windows wholly in the flat part
    for image_, template_ in ((np.full((9, 9), 3.0, dtype), template),        # constant image
                              (image, np.full((4, 4), 0.7, dtype)),          # constant template
                              (np.full((9, 9), 3.0, dtype), np.ones((2, 2), dtype))):
        zncc = match_template(image_, template_)
        assert zncc.dtype == dtype and (zncc == 0).all()
    assert (match_template(image, np.zeros((3, 3), dtype), method="ncc") == 0).all()
    constant = match_template(np.full((9, 9), 3.0, dtype), np.ones((2, 2), dtype), method="ncc")
    np.testing.assert_allclose(constant, 1.0, atol=1e-6)
    assert (match_template(np.full((5, 5), 2.0), np.full((2, 2), 2.0), method="sqdiff") == 0).all()


def test_scores_stay_in_range():
    image = RNG.standard_normal((64, 64)) * 1e3
    image[10:30, 10:30] = 5.0
    image[40:50, 40:50] = 5.0 + 1e-9 * RNG.standard_normal((10, 10))
    scores = match_template(image, RNG.standard_normal((8, 8)))
    assert np.isfinite(scores).all() and scores.min() >= -1 and scores.max() <= 1
    assert (match_template(image, image[:8, :8], method="sqdiff") >= 0).all()


def test_top_level_export():
    assert ndconv.match_template is match_template
    assert ndconv.filters.find_matches is find_matches


def test_find_matches_do_not_overlap():
    image = RNG.random((80, 90)) * 0.5
    template = RNG.random((9, 7))
    places = [(5, 10), (40, 50), (60, 3), (20, 70)]
    for row, col in places:
        image[row:row + 9, col:col + 7] = template
    scores = match_template(image, template)
    found = find_matches(scores, template.shape, k=10)
    assert sorted(map(tuple, found.positions[:4].tolist())) == sorted(places)
    assert np.all(np.diff(found.scores) <= 0)
    for i, a in enumerate(found.positions):
        for b in found.positions[i + 1:]:
            assert abs(a[0] - b[0]) >= 9 or abs(a[1] - b[1]) >= 7
    assert len(find_matches(scores, template.shape, k=10, threshold=0.99).scores) == 4
    assert find_matches(scores, template.shape, k=0).positions.shape == (0, 2)


def test_find_matches_small_and_special_cases():
    scores = np.array([3.0, np.nan, 1.0, 0.5, 2.0])
    found = find_matches(scores, (2,), k=5)
    assert found.positions.ravel().tolist() == [0, 4, 2] and found.scores.tolist() == [3.0, 2.0, 1.0]
    lowest = find_matches(scores, (1,), k=2, method="sqdiff")
    assert lowest.positions.ravel().tolist() == [3, 2]
    assert len(find_matches(np.full(4, np.nan), (1,), k=3).scores) == 0


@pytest.mark.parametrize("call, error, match", [
    (lambda: match_template(np.zeros((5, 5)), np.zeros((6, 2))), ValueError,
     r"template must fit inside image .*template.shape=\(6, 2\) and image.shape=\(5, 5\)"),
    (lambda: match_template(np.zeros((5, 5)), np.zeros(3)), ValueError,
     r"template must have as many axes as image \(2\), got template.ndim=1"),
    (lambda: match_template(np.zeros((5, 5)), np.zeros((2, 2)), method="ssd"), ValueError,
     r"method must be 'zncc', 'ncc', 'ccorr' or 'sqdiff', got 'ssd'"),
    (lambda: match_template(np.zeros((5, 5)), np.zeros((2, 2)), pad_input=True, boundary="mirorr"), ValueError,
     r"boundary must be .*got 'mirorr'"),
    (lambda: match_template(np.zeros((5, 5)), np.zeros((2, 2)), pad_input="yes"), ValueError,
     r"pad_input must be True or False, got 'yes'"),
    (lambda: match_template(np.zeros((5, 5), complex), np.zeros((2, 2))), TypeError,
     r"image must be an array of real numbers, got ndarray of dtype complex128"),
    (lambda: match_template(np.zeros((5, 5)), np.array([["a"]])), TypeError, r"template must be an array of"),
    (lambda: match_template(np.full((5, 5), np.nan), np.ones((2, 2))), ValueError, r"image must hold only finite"),
    (lambda: match_template(np.ones((5, 5)), np.array([[np.inf]])), ValueError, r"template must hold only finite"),
    (lambda: match_template(np.float64(1.0), np.float64(1.0)), ValueError, r"image must be a non-empty array"),
    (lambda: find_matches(np.zeros((4, 4)), (2,)), ValueError, r"template_shape must be a sequence of 2 ints"),
    (lambda: find_matches(np.zeros((4, 4)), (2, 2), k=-1), ValueError, r"k must be an int >= 0, got -1"),
    (lambda: find_matches(np.zeros((4, 4)), (2, 2), method="max"), ValueError, r"method must be .*got 'max'"),
])
def test_errors_name_argument_and_value(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_scores_are_a_fresh_c_contiguous_array():
    """The scores are written to their own C-contiguous array (through the view of the
    inverse transform's rows the compiled loop could not vectorise its stores)."""
    rng = np.random.default_rng(11)
    image = rng.random((300, 280)).astype(np.float32)
    template = image[40:72, 50:80].copy()
    for method in ("zncc", "ncc", "sqdiff"):
        scores = ndconv.match_template(image, template, method=method)
        assert scores.flags.c_contiguous
        reference = ndconv.match_template(image.astype(np.float64), template.astype(np.float64), method=method)
        np.testing.assert_allclose(scores, reference, atol=2e-4 * max(1.0, float(np.abs(reference).max())))
