"""ndconv._memory: large results start half a page away from their input; the memory available, read when needed."""

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


def test_available_memory_is_read_again_only_when_the_need_calls_for_it(monkeypatch):
    """Within a quarter second the last look answers; after it, a need of at most 1/16 of the
    last look (less than 5 s ago) is answered from it too (a /proc read cost a cold call
    0.1 ms), and a larger need, or an older look, reads again."""
    reads = []
    monkeypatch.setattr(_memory, "_read_available", lambda: reads.append(1) or 1600)
    clock = [100.0]
    monkeypatch.setattr(_memory.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(_memory, "_CACHE", [-1.0, 0.0])
    assert _memory.available_bytes(50) == 1600 and len(reads) == 1
    clock[0] += 0.1
    assert _memory.available_bytes(10**6) == 1600 and len(reads) == 1     # within a quarter second
    clock[0] += 1.0
    assert _memory.available_bytes(100) == 1600 and len(reads) == 1       # 100 · 16 ≤ 1600
    assert _memory.available_bytes(101) == 1600 and len(reads) == 2       # more: looked again
    clock[0] += 1.0
    assert _memory.available_bytes() == 1600 and len(reads) == 2          # no need given: 0
    clock[0] += 6.0
    assert _memory.available_bytes(1) == 1600 and len(reads) == 3         # the look is too old
