"""ndconv._memory.empty_apart: large results start half a page away from their input."""

from __future__ import annotations

import numpy as np
import pytest

import ndconv
from ndconv import _memory
from ndconv.methods import _opencv


def address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64, np.int64, np.complex64, np.complex128])
def test_large_results_start_half_a_page_from_the_source(dtype):
    source = np.ones(_memory.APART_BYTES)      # the heap's neighbour, whatever its address
    for shape in [(1024, 1024), (3, 700, 500), (_memory.APART_BYTES,)]:
        out = _memory.empty_apart(shape, dtype, source)
        assert out.shape == shape and out.dtype == np.dtype(dtype)
        assert out.flags.c_contiguous and out.flags.writeable
        assert (address(out) - address(source)) % 4096 == 2048
        out[...] = 1                             # the whole view lies inside its buffer
        assert out.base.nbytes - out.nbytes < 4096 + out.itemsize


def test_odd_source_addresses_stay_far_from_every_page_multiple():
    raw = np.ones(_memory.APART_BYTES + 16, dtype=np.uint8)
    for skew in range(1, 16):
        out = _memory.empty_apart((512, 512), np.float64, raw[skew:])
        distance = (address(out) - address(raw[skew:])) % 4096
        assert 2048 - out.itemsize < distance <= 2048


def test_small_results_are_plain_arrays():
    out = _memory.empty_apart((100, 100), np.float64, np.ones(10))
    assert out.flags.owndata and out.shape == (100, 100)


def test_the_direct_loops_write_half_a_page_from_the_input(monkeypatch):
    """The compiled loops read x in place: their result starts 2 KiB (mod 4096) after it."""
    monkeypatch.setattr(_opencv, "ENABLED", False)
    x = np.random.default_rng(0).standard_normal((700, 600)).astype(np.float32)
    for boundary in ("constant", "reflect"):
        y = ndconv.convolve(x, np.ones((5, 5), np.float32), mode="same", boundary=boundary, method="direct")
        assert (address(y) - address(x)) % 4096 == 2048
        np.testing.assert_allclose(y[300, 300], x[298:303, 298:303].sum(), rtol=1e-5)
