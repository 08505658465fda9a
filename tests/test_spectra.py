"""The kernel-spectrum cache of the FFT methods (ndconv.methods._spectra)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import ndconv
from ndconv.methods import _spectra
from ndconv.methods import fft as fft_module


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(_spectra, "ENABLED", True)
    _spectra.clear()
    yield
    _spectra.clear()


def _data(seed: int = 0, shape=(96, 80), kshape=(9, 7), dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(dtype), rng.standard_normal(kshape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("method", ["fft", "overlap_add"])
def test_a_kept_spectrum_gives_the_bits_of_a_fresh_one(fresh, monkeypatch, dtype, method):
    x, k = _data(dtype=dtype) if method == "fft" else _data(shape=(6000,), kshape=(65,), dtype=dtype)
    first = ndconv.convolve(x, k, "same", method=method)
    assert _spectra.info().misses >= 1 and _spectra.info().entries >= 1
    hits = _spectra.info().hits
    again = ndconv.convolve(x, k, "same", method=method)
    assert _spectra.info().hits > hits
    monkeypatch.setattr(_spectra, "ENABLED", False)
    uncached = ndconv.convolve(x, k, "same", method=method)
    assert np.array_equal(first, again) and np.array_equal(first, uncached)


def test_a_kernel_changed_in_place_is_a_new_kernel(fresh):
    x, k = _data()
    before = ndconv.convolve(x, k, "same", method="fft")
    k[2, 3] += 1.0
    after = ndconv.convolve(x, k, "same", method="fft")
    np.testing.assert_allclose(after, ndconv.convolve(x, k, "same", method="direct"), atol=1e-11)
    assert not np.allclose(before, after)
    assert _spectra.info().misses == 2


def test_kept_spectra_are_read_only_and_keyed_by_sizes(fresh):
    _, k = _data()
    a = fft_module._kernel_forward(k, (0, 1), (120, 100), True)
    b = fft_module._kernel_forward(k.copy(), (0, 1), (120, 100), True)
    c = fft_module._kernel_forward(k, (0, 1), (128, 100), True)
    assert a is b and c is not a and c.shape == (128, 51)
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0, 0] = 0
    np.testing.assert_allclose(a, np.fft.rfft2(k, s=(120, 100)), rtol=1e-12, atol=1e-12)


def test_the_cache_keeps_at_most_its_bytes(fresh, monkeypatch):
    _, k = _data()
    one = fft_module._kernel_forward(k, (0, 1), (64, 64), True).nbytes
    monkeypatch.setattr(_spectra, "CACHE_BYTES", 3 * one)
    for size in (64, 72, 80, 96, 100):
        fft_module._kernel_forward(k, (0, 1), (size, 64), True)
        assert _spectra.info().bytes <= 3 * one
    assert _spectra.info().entries == 2  # 64×33, 72×33 and 80×33 were dropped oldest first


def test_large_kernels_and_a_disabled_cache_keep_nothing(fresh, monkeypatch):
    big = np.ones((40, 40))   # 12.8 kB of kernel against a 48×25 complex spectrum of 19 kB
    fft_module._kernel_forward(big, (0, 1), (48, 48), True)
    assert _spectra.info() == (0, 0, 0, 0)
    monkeypatch.setattr(_spectra, "ENABLED", False)
    x, k = _data()
    ndconv.convolve(x, k, method="fft")
    assert _spectra.info() == (0, 0, 0, 0)


def test_match_template_reuses_the_template_spectrum(fresh):
    rng = np.random.default_rng(3)
    image = rng.random((128, 120)).astype(np.float32)
    template = image[30:46, 50:70].copy()
    first = ndconv.match_template(image, template)
    hits = _spectra.info().hits
    again = ndconv.match_template(image, template)
    assert _spectra.info().hits == hits + 1 and np.array_equal(first, again)


def test_threads_sharing_the_cache_get_the_same_bits(fresh):
    x, k = _data(shape=(200, 190))
    expected = ndconv.convolve(x, k, "same", method="fft")
    _spectra.clear()
    results, errors = [None] * 8, []

    def work(i):
        try:
            results[i] = ndconv.convolve(x, k, "same", method="fft")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(np.array_equal(r, expected) for r in results)
    assert _spectra.info().entries == 1


def test_the_dft_product_shares_rows_and_matches_the_fft(fresh, monkeypatch):
    """Large DFT-matrix products run as row shares on single-threaded BLAS (no spinning
    BLAS workers afterwards); small ones as one product; both equal the FFT's transform."""
    seen = []
    original = fft_module._blas.by_batch
    monkeypatch.setattr(fft_module._blas, "by_batch",
                        lambda job, n, parallel: seen.append((n, parallel)) or original(job, n, parallel))
    rng = np.random.default_rng(5)
    for shape, sizes, parallel in [((31, 31), (2079, 2160), True), ((5, 5), (40, 40), False)]:
        k = rng.standard_normal(shape)
        got = fft_module._kernel_forward(k, (0, 1), sizes, True)
        assert seen[-1] == (sizes[0], parallel)
        np.testing.assert_allclose(got, np.fft.rfft2(k, s=sizes), rtol=1e-10, atol=1e-10 * np.abs(k).sum())
    batched = rng.standard_normal((3, 9, 7))   # per-row kernels: the product broadcasts the batch
    got = fft_module._kernel_forward(batched, (1, 2), (700, 64), True)
    np.testing.assert_allclose(got, np.fft.rfft2(batched, s=(700, 64)), rtol=1e-10, atol=1e-9)
