"""The pure-integer shape arithmetic of §1, against brute-force enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ndconv
from ndconv._shapes import (
    axis_geometry,
    broadcast,
    dilated_length,
    mode_length,
    mode_start,
    output_length,
    strided_length,
)


def brute_force(mode, n, k, origin, stride, dilation):
    """Indices of y_full that the mode and stride keep, straight from §1."""
    kd = dilation * (k - 1) + 1
    full = list(range(n + kd - 1))
    if mode == "full":
        kept = full
    elif mode == "same":
        kept = [i + (kd - 1) // 2 + origin for i in range(n)]
    else:
        kept = [i + kd - 1 for i in range(n - kd + 1)]
    return kept[::stride]


def _cases():
    for mode, n, k, stride, dilation in itertools.product(("full", "same", "valid"), range(1, 8), range(1, 6),
                                                          (1, 2, 3, 7), (1, 2, 3)):
        kd = dilation * (k - 1) + 1
        if mode == "valid" and kd > n:
            continue
        origins = range(-((kd - 1) // 2), kd - (kd - 1) // 2) if mode == "same" else [0]
        for origin in origins:
            yield mode, n, k, origin, stride, dilation


CASES = list(_cases())


def test_dilated_length():
    for k in range(1, 10):
        for d in range(1, 5):
            h = np.zeros(d * (k - 1) + 1)
            h[::d] = 1
            assert dilated_length(k, d) == h.size and h.sum() == k


def test_strided_length_is_len_of_range():
    for length in range(-3, 30):
        for stride in range(1, 9):
            assert strided_length(length, stride) == len(range(0, length, stride))


def test_geometry_matches_brute_force():
    assert len(CASES) > 1000
    for mode, n, k, origin, stride, dilation in CASES:
        kept = brute_force(mode, n, k, origin, stride, dilation)
        g = axis_geometry(mode, n, k, origin=origin, stride=stride, dilation=dilation)
        kd = dilation * (k - 1) + 1
        # a stride past the window's end keeps its first sample, stored as the window's length
        assert (g.n, g.k, g.kd, g.dilation) == (n, k, kd, dilation)
        assert g.stride == min(stride, max(mode_length(mode, n, kd), 1))
        assert g.count == len(kept) == output_length(mode, n, k, stride=stride, dilation=dilation)
        assert [g.start + i * g.stride for i in range(g.count)] == kept
        assert g.start == mode_start(mode, kd, origin)
        assert strided_length(mode_length(mode, n, kd), stride) == len(kept)
        # the samples of x̃ that the kept outputs read: y_full[m] reads x̃[m − j], j = 0 … kd−1
        read = [m - j for m in kept for j in range(kd)]
        assert g.first_needed == min(read) and g.last_needed == max(read)
        assert g.pad_before == max(0, -min(read))
        assert g.pad_after == max(0, max(read) - (n - 1))
        assert g.is_same_window == (g.stride == 1 and len(kept) == n and 0 <= g.start <= kd - 1)


@pytest.mark.parametrize("stride", [5, 6, 2**31, 2**63 - 1, 2**63, 10**30])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_strides_past_the_window_keep_its_first_sample(mode, stride):
    """Any stride of at least the window's length gives the same one output (and no int64
    overflow: a stride of 2**63 once reached the compiled loops and raised OverflowError)."""
    g = axis_geometry(mode, 4, 2, stride=stride)
    assert g.count == 1 and g.stride == mode_length(mode, 4, 2)
    assert g.last_needed == g.start
    x, h = np.arange(1.0, 5.0), np.array([2.0, -1.0])
    expected = ndconv.convolve(x, h, mode)[:1]
    np.testing.assert_array_equal(ndconv.convolve(x, h, mode, stride=stride), expected)
    np.testing.assert_array_equal(ndconv.convolve(x.astype(np.int64), h.astype(np.int64), mode, stride=stride),
                                  expected.astype(np.int64))
    image = np.arange(20.0).reshape(5, 4)
    np.testing.assert_array_equal(ndconv.convolve(image, np.ones((3, 3)), "same", "reflect", stride=(1, stride)),
                                  ndconv.convolve(image, np.ones((3, 3)), "same", "reflect")[:, :1])


def test_output_shapes_of_convolve_follow_the_arithmetic():
    rng = np.random.default_rng(0)
    for mode, n, k, origin, stride, dilation in CASES[::37]:
        y = ndconv.convolve(rng.standard_normal(n), rng.standard_normal(k), mode, origin=origin, stride=stride,
                            dilation=dilation)
        assert y.shape == (output_length(mode, n, k, stride=stride, dilation=dilation),)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_lengths_match_numpy_convolve(mode):
    for n in range(1, 9):
        for k in range(1, n + 1):  # numpy's 'same' is max(M, N) long: compare with n ≥ k
            assert output_length(mode, n, k) == np.convolve(np.ones(n), np.ones(k), mode).size


def test_nd_output_shape_with_batch_and_per_axis_arguments():
    x = np.ones((2, 3, 11, 12))
    k = np.ones((3, 4))
    y = ndconv.convolve(x, k, "valid", stride=(2, 3), dilation=(1, 2))
    assert y.shape == (2, 3, output_length("valid", 11, 3, stride=2), output_length("valid", 12, 4, stride=3,
                                                                                   dilation=2))
    y = ndconv.convolve(x, k, "same", axes=(3, 1), stride=(1, 2))
    assert y.shape == (2, 2, 11, 12)   # kernel axis 0 (3 taps) on x axis 3, axis 1 (4 taps, stride 2) on x axis 1


shape_strategy = st.lists(st.integers(0, 4), max_size=4).map(tuple)


@given(a=shape_strategy, b=shape_strategy)
def test_broadcast_is_numpys(a, b):
    try:
        want = np.broadcast_shapes(a, b)
    except ValueError:
        with pytest.raises(ValueError, match="do not broadcast"):
            broadcast(a, b)
    else:
        assert broadcast(a, b) == want
