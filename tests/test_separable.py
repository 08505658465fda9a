"""The separable method's factors: exactly even or odd where the kernel is, so that
OpenCV's sepFilter2D folds the taps; the same sums as the definition either way."""

from __future__ import annotations

import numpy as np
import pytest

import ndconv
from ndconv.methods import _opencv, separable
from ndconv.testing import assert_conv_close, reference_convolve


def _gaussian(n: int, sigma: float) -> np.ndarray:
    t = np.exp(-0.5 * ((np.arange(n) - (n - 1) / 2) / sigma) ** 2)
    return t / t.sum()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_even_and_odd_factors_are_exact(dtype):
    even = _gaussian(31, 5.0)
    odd = np.gradient(_gaussian(9, 1.5))        # a derivative of a Gaussian: odd, zero in the middle
    for kernel, kinds in ((np.outer(even, even), ("even", "even")), (np.outer(even[:15], odd), (None, "odd")),
                          (np.outer(odd, even[11:20]), ("odd", "even"))):
        (u, v), = separable.kernel_factors(kernel.astype(dtype), 2)
        for vector, kind in zip((u, v), kinds):
            if kind == "even":
                assert np.array_equal(vector, vector[::-1])
            elif kind == "odd":
                assert np.array_equal(vector, -vector[::-1]) and vector[vector.size // 2] == 0
            else:   # a one-sided half Gaussian: left as the SVD gave it
                assert not np.allclose(vector, vector[::-1]) and not np.allclose(vector, -vector[::-1])


def test_symmetry_is_only_imposed_up_to_rounding():
    a = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    nearly = a + np.array([0, 0, 0, 1e-16, 0])
    assert np.array_equal(separable._exact_symmetry(nearly), separable._exact_symmetry(nearly)[::-1])
    skewed = a + np.array([0, 0, 0, 1e-6, 0])                     # asymmetric beyond rounding: kept
    assert np.array_equal(separable._exact_symmetry(skewed), skewed)
    assert np.array_equal(separable._exact_symmetry(np.array([1 + 1j, 1 + 1j])), [1 + 1j, 1 + 1j])


@pytest.mark.parametrize("opencv", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_symmetric_factors_give_the_definitions_sums(dtype, opencv, monkeypatch):
    monkeypatch.setattr(_opencv, "ENABLED", opencv)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((70, 90)).astype(dtype)
    k = np.outer(_gaussian(11, 2.0), np.gradient(_gaussian(7, 1.2))).astype(dtype)
    for boundary in ("constant", "reflect", "edge", "wrap"):
        got = ndconv.convolve(x, k, "same", boundary, method="separable")
        assert_conv_close(got, reference_convolve(x, k, "same", boundary), x, k)


@pytest.mark.parametrize("dtype,sigma", [(np.float32, 5.0), (np.float32, 12.0), (np.float64, 8.0), (np.float64, 12.0)])
def test_large_gaussians_are_rank_one(dtype, sigma):
    """The singular-value bound alone kept 2–21 terms of these (or gave up on 97×97):
    the rank is the first whose actual remainder fits the budget."""
    from ndconv.filters import gaussian_kernel

    g = gaussian_kernel(sigma, ndim=1).astype(dtype)
    kernel = np.multiply.outer(g, g)
    terms = separable.factors(kernel)
    assert terms is not None and len(terms) == 1
    u, v = terms[0]
    budget = separable.RANK_SHARE * separable._tolerance(kernel.dtype) * np.abs(kernel).sum()
    assert np.abs(kernel.astype(np.float64) - np.outer(u, v)).sum() <= budget


def test_the_rank_keeps_what_the_budget_needs():
    rng = np.random.default_rng(7)
    a, b, c, d = (rng.standard_normal(12) for _ in range(4))
    two = np.outer(a, b) + np.outer(c, d)
    assert len(separable.factors(two)) == 2
    nearly = np.outer(a, b) + 1e-9 * np.outer(c, d)     # the second term far above float64's budget
    assert len(separable.factors(nearly)) == 2
    assert len(separable.factors(nearly.astype(np.float32))) == 1   # and below float32's
    assert separable.factors(rng.standard_normal((9, 9))) is None


def test_opencv_terms_are_the_flipped_factors_kept_per_kernel():
    """What sepFilter2D reads of a kernel is found once per kernel: the factors flipped into
    correlation form, in the kernel's dtype, read-only; with the flag that says whether OpenCV
    keeps NaN/±∞ where the definition puts them (no zero tap, rank 1)."""
    g = np.exp(-0.5 * (np.arange(-4, 5) / 1.5) ** 2).astype(np.float32)
    ramp = np.arange(1.0, 8.0, dtype=np.float32)
    for kernel, keeps in ((np.outer(g, ramp), True), (np.outer(g, ramp - 4), False)):
        kept = separable.opencv_terms(kernel[None, None])
        assert kept is separable.opencv_terms(kernel.copy()[None, None])          # same bytes: kept
        (pair,), flag = kept
        assert flag is keeps
        u, v = pair
        assert u.dtype == v.dtype == np.float32 and not u.flags.writeable and not v.flags.writeable
        np.testing.assert_allclose(np.outer(u, v), kernel[::-1, ::-1], rtol=1e-5, atol=1e-6)
    assert separable.opencv_terms(np.arange(9.0).reshape(3, 3) ** 2) is None       # rank 3
