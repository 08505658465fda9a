"""Flat offsets of kernel taps and output rows for the row-wise loops."""

from __future__ import annotations

import numpy as np

from ._problem import Sampled


def element_strides(shape: tuple[int, ...]) -> np.ndarray:
    """C-order strides of ``shape`` counted in elements."""
    strides = np.ones(len(shape), dtype=np.int64)
    for a in range(len(shape) - 2, -1, -1):
        strides[a] = strides[a + 1] * shape[a + 1]
    return strides


def flat_offsets(sampled: Sampled, padded_shape: tuple[int, ...], firsts: tuple[int, ...]):
    """``(tap_offsets, row_offsets)`` into one padded item of shape ``padded_shape``.

    Taps are in C order of the *flipped* kernel (correlation form); rows are the
    output positions of all convolved axes but the last, in C order.
    """
    est = element_strides(padded_shape)
    ksh = sampled.kernel_shape
    taps = np.zeros(int(np.prod(ksh)), dtype=np.int64)
    grids = np.indices(ksh).reshape(len(ksh), -1)
    for a in range(len(ksh)):
        taps += grids[a] * (sampled.dilations[a] * est[a])
    lead = sampled.counts[:-1]
    rows = np.full(int(np.prod(lead, dtype=np.int64)), firsts[-1] * est[-1], dtype=np.int64)
    if lead:
        rgrid = np.indices(lead).reshape(len(lead), -1)
        for a in range(len(lead)):
            rows += (firsts[a] + rgrid[a] * sampled.strides[a]) * est[a]
    return taps, rows
