"""The five boundary rules of §1: the drawings, numpy.pad, any width (the
extension repeats), and the extension as every method sees it."""

from __future__ import annotations

import numpy as np
import pytest

import ndconv
from conftest import ALIASES, BOUNDARIES, METHODS
from ndconv.boundary import extend, extension_index

NUMPY_PAD = {"constant": "constant", "wrap": "wrap", "reflect": "reflect", "symmetric": "symmetric",
             "edge": "edge"}
PERIOD = {"wrap": lambda n: n, "reflect": lambda n: max(2 * (n - 1), 1), "symmetric": lambda n: 2 * n}


def letters(indices) -> str:
    return " ".join("abcdefgh"[i] for i in indices)


def test_drawings_of_the_contract():
    """§1: reflect ``d c b │ a b c d │ c b a``, symmetric ``b a │ a b c d │ d c``."""
    idx, _ = extension_index(4, -3, 6, "reflect")
    assert letters(idx) == "d c b a b c d c b a"
    idx, _ = extension_index(4, -2, 5, "symmetric")
    assert letters(idx) == "b a a b c d d c"


def test_drawings_of_the_module():
    """The table of boundary.py, three samples each side of ``abcd``."""
    drawn = {"wrap": "b c d a b c d a b c", "reflect": "d c b a b c d c b a",
             "symmetric": "c b a a b c d d c b", "edge": "a a a a b c d d d d"}
    for boundary, drawing in drawn.items():
        idx, inside = extension_index(4, -3, 6, boundary)
        assert letters(idx) == drawing
        assert inside.all()
    idx, inside = extension_index(4, -3, 6, "constant")
    assert inside.tolist() == [False] * 3 + [True] * 4 + [False] * 3
    assert letters(idx[inside]) == "a b c d"


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_extension_index_is_numpy_pad_for_any_width(boundary):
    for n in range(1, 8):
        x = np.arange(n)
        for before in range(4 * n + 3):
            after = (3 * before + 1) % (4 * n + 3)
            idx, inside = extension_index(n, -before, n - 1 + after, boundary)
            padded = np.pad(x, (before, after), mode=NUMPY_PAD[boundary],
                            **({"constant_values": -1} if boundary == "constant" else {}))
            np.testing.assert_array_equal(np.where(inside, x[idx], -1), padded)


@pytest.mark.parametrize("boundary", ["wrap", "reflect", "symmetric"])
def test_periodic_rules_repeat(boundary):
    for n in range(1, 7):
        idx, _ = extension_index(n, -50, 50, boundary)
        period = PERIOD[boundary](n)
        np.testing.assert_array_equal(idx[period:], idx[:-period])
        assert set(idx.tolist()) == set(range(n))


def test_edge_rule_clips():
    idx, _ = extension_index(3, -10, 12, "edge")
    np.testing.assert_array_equal(idx, np.clip(np.arange(-10, 13), 0, 2))


def test_window_away_from_the_input():
    """A window that never touches x (a long kernel reads far out)."""
    idx, inside = extension_index(3, 7, 12, "wrap")
    np.testing.assert_array_equal(idx, np.arange(7, 13) % 3)
    idx, inside = extension_index(3, -9, -4, "constant")
    assert not inside.any()


@pytest.mark.parametrize("spelling", BOUNDARIES + tuple(ALIASES))
def test_extend_accepts_every_spelling_and_matches_numpy_pad(spelling):
    rule = ALIASES.get(spelling, spelling)
    x = np.arange(1.0, 13.0).reshape(3, 4)
    pad = ((2, 7), (5, 1))
    got = extend(x, pad, spelling, fill_value=-2.5)
    extra = {"constant_values": -2.5} if rule == "constant" else {}
    np.testing.assert_array_equal(got, np.pad(x, pad, mode=NUMPY_PAD[rule], **extra))


def test_extend_only_the_last_axes():
    x = np.arange(24).reshape(2, 3, 4)
    got = extend(x, ((1, 1),), "wrap")
    assert got.shape == (2, 3, 6)
    np.testing.assert_array_equal(got, np.pad(x, ((0, 0), (0, 0), (1, 1)), mode="wrap"))
    assert extend(x, ((0, 0), (0, 0)), "reflect") is x  # nothing to add: no copy


def test_extend_keeps_dtype_and_fill():
    x = np.array([1 + 1j, 2 - 1j], dtype=np.complex64)
    got = extend(x, ((2, 1),), "constant", fill_value=3j)
    assert got.dtype == np.complex64
    np.testing.assert_array_equal(got, np.array([3j, 3j, 1 + 1j, 2 - 1j, 3j], dtype=np.complex64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.int64, np.uint8, bool, object])
def test_constant_extension_is_numpy_pad_for_every_fill(dtype):
    """The constant rule fills a new array itself (faster than numpy.pad) and gives
    numpy.pad's array: dtype, values (casts included), sign of zero, memory order."""
    base = np.arange(1, 13).reshape(3, 4).astype(dtype)
    pad = ((2, 0), (1, 3))
    for x in (base, np.asfortranarray(base), base[:, ::-2], np.zeros((0, 4), dtype)):
        for fill in (0, -0.0, 2, 1.5, True) + ((7 + 2j,) if np.dtype(dtype).kind in "cO" else ()):
            expected = np.pad(x, pad, mode="constant", constant_values=fill)
            got = extend(x, pad, "constant", fill_value=fill)
            assert got.dtype == expected.dtype and got.flags.f_contiguous == expected.flags.f_contiguous
            np.testing.assert_array_equal(got, expected)
            if dtype in (np.float32, np.float64):
                np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


@pytest.mark.parametrize("fill", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.int64, np.uint8, bool])
def test_constant_extension_refuses_non_finite_fills_for_integers(dtype, fill):
    """numpy.pad raises for int64 but writes 0 or True for uint8 and bool: extend raises for all."""
    with pytest.raises((ValueError, OverflowError)):
        extend(np.ones(3, dtype), ((1, 1),), "constant", fill_value=fill)


def extension_seen_by(method: str, x: np.ndarray, width: int, boundary: str, fill_value=0) -> np.ndarray:
    """x̃[−width … N−1+width] read back through convolve: with a delta at the last tap
    of a kernel of length K = width+1, y_full[n] = x̃[n − width] (n = 0 … N+width−1);
    with a delta at the first tap, y_full[n] = x̃[n]."""
    last = np.zeros(width + 1, dtype=x.dtype)
    last[-1] = 1
    first = np.zeros(width + 1, dtype=x.dtype)
    first[0] = 1
    left = ndconv.convolve(x, last, "full", boundary, fill_value=fill_value, method=method)
    right = ndconv.convolve(x, first, "full", boundary, fill_value=fill_value, method=method)
    return np.concatenate([left, right[x.size:]])


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_extension_as_every_method_sees_it(method, boundary):
    for n in (1, 2, 3, 5):
        x = np.array([2, 3, 5, 7, 11][:n], dtype=np.int64)
        for width in (1, n, 2 * n + 1, 3 * n + 2):
            want = np.pad(x, width, mode=NUMPY_PAD[boundary],
                          **({"constant_values": -4} if boundary == "constant" else {}))
            got = extension_seen_by(method, x, width, boundary, fill_value=-4)
            np.testing.assert_array_equal(got, want)
            xf = x.astype(np.float64)
            got = extension_seen_by(method, xf, width, boundary, fill_value=-4)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_reflect_of_a_single_sample(method):
    """n = 1: reflect, symmetric, wrap and edge all repeat the one sample."""
    for boundary in ("reflect", "symmetric", "wrap", "edge"):
        y = ndconv.convolve(np.array([3.0]), np.ones(5), "same", boundary, method=method)
        np.testing.assert_allclose(y, [15.0])


@pytest.mark.parametrize("call, error", [
    (lambda: extend(np.arange(4), ((-1, 0),), "reflect"),
     r"pad must be at most 1 \(before, after\) pairs of ints >= 0"),
    (lambda: extend(np.arange(4), ((1, 1), (1, 1)), "wrap"), r"pad must be at most 1 .*got \(\(1, 1\), \(1, 1\)\)"),
    (lambda: extend(np.arange(4), ((1.5, 1),), "wrap"), r"pad must be .*got \(\(1.5, 1\),\)"),
    (lambda: extend(np.arange(4), (3,), "wrap"), r"pad must be .*got \(3,\)"),
    (lambda: extend(np.zeros((0, 3)), ((1, 1), (0, 0)), "reflect"),
     r"x must be non-empty along each extended axis \(only 'constant' extends an empty axis, not 'reflect'\)"),
    (lambda: extension_index(0, -1, 1, "wrap"), r"n must be an int >= 1 .*got 0"),
])
def test_bad_pads_and_lengths_are_named(call, error):
    """These reached NumPy ('index can't contain negative values', a broadcast error,
    '`pad_width` must be of integral type') or divided by a zero length (a warning and
    garbage indices)."""
    with pytest.raises(ValueError, match=error):
        call()
    assert extend(np.zeros((0, 3)), ((1, 1), (0, 0)), "constant").shape == (2, 3)   # zeros around nothing
