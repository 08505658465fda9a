"""ConvSpec: arguments validated and normalised once, the canonical layout, §2's dtypes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from conftest import ALIASES, BOUNDARIES, expected_dtype
from ndconv._errors import MemoryLimitError
from ndconv._spec import (
    make_spec,
    normalize_axes,
    normalize_boundary,
    per_axis,
    result_dtype,
)

ALL_DTYPES = ("bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16",
              "float32", "float64", "complex64", "complex128")


def test_result_dtype_every_pair():
    for a, b in itertools.product(ALL_DTYPES, repeat=2):
        got = result_dtype(np.dtype(a), np.dtype(b))
        assert got == expected_dtype(a, b), (a, b, got)
        assert got == result_dtype(np.dtype(b), np.dtype(a))
        assert got != np.float16 and got.kind != "b"


@pytest.mark.parametrize("spelling", BOUNDARIES + tuple(ALIASES))
def test_boundary_spellings(spelling):
    assert normalize_boundary(spelling) == ALIASES.get(spelling, spelling)


def test_per_axis_normalisation():
    assert per_axis("stride", 2, 3, minimum=1) == (2, 2, 2)
    assert per_axis("stride", [2], 3, minimum=1) == (2, 2, 2)
    assert per_axis("stride", (1, 2, 3), 3, minimum=1) == (1, 2, 3)
    assert per_axis("origin", np.array([-1, 0]), 2, minimum=None) == (-1, 0)
    assert per_axis("dilation", np.int64(3), 1, minimum=1) == (3,)
    assert all(type(v) is int for v in per_axis("stride", (np.int8(1), np.uint16(2)), 2, minimum=1))
    for bad in (0, (1, 0), True, (1, 2), 1.0, "1", None):
        with pytest.raises(ValueError, match="stride must be an int or a sequence of 3 ints >= 1"):
            per_axis("stride", bad, 3, minimum=1)


def test_axes_normalisation():
    assert normalize_axes(None, 3, 2) == ((1, 2), False)
    assert normalize_axes(None, 2, 2) == ((0, 1), False)
    assert normalize_axes((2, 0), 3, 2) == ((2, 0), False)          # kernel order kept
    assert normalize_axes(-1, 3, 1) == ((2,), False)
    assert normalize_axes((-1, 0), 3, 3) == ((2, 0), True)          # per-row kernels
    assert normalize_axes(np.array([1]), 2, 2) == ((1,), True)


def test_canonical_layout():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    k = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    spec = make_spec(x, k, mode="same", axes=(3, 1), origin=(1, 0), stride=(1, 2))
    assert spec.axes == (3, 1)
    assert spec.ndim == 2
    np.testing.assert_array_equal(spec.x, np.moveaxis(x, (3, 1), (2, 3)))  # batch first, convolved last
    assert spec.kernel.shape == (1, 1, 2, 3)
    assert spec.x.dtype == spec.kernel.dtype == spec.dtype == spec.compute_dtype == np.float32
    assert [(g.n, g.k, g.stride) for g in spec.geometry] == [(5, 2, 1), (3, 3, 2)]
    assert spec.geometry[0].start == (2 - 1) // 2 + 1
    assert spec.batch_shape == (2, 4)
    assert spec.output_shape == (2, 4, 5, 2)
    assert not spec.kernel_batched
    y = np.zeros(spec.output_shape)
    assert spec.to_user_layout(y).shape == (2, 2, 4, 5)


def test_correlate_flips_and_conjugates_only_convolved_axes():
    x = np.ones((3, 4, 5), dtype=complex)
    k = (np.arange(3 * 2 * 5) + 1j * np.arange(3 * 2 * 5)).reshape(3, 2, 5)
    spec = make_spec(x, k, axes=(1, 2), correlate=True)
    assert spec.kernel_batched
    np.testing.assert_array_equal(spec.kernel, np.conj(k[:, ::-1, ::-1]))
    spec = make_spec(x, k, axes=(1, 2), correlate=False)
    np.testing.assert_array_equal(spec.kernel, k)
    real = make_spec(np.ones(5), np.array([1.0, 2.0, 3.0]), correlate=True)
    np.testing.assert_array_equal(real.kernel, [3.0, 2.0, 1.0])


def test_dtypes_and_fill_are_converted_once():
    spec = make_spec(np.ones(4, np.float16), np.ones(2, np.int8), fill_value=2)
    assert spec.dtype == spec.compute_dtype == np.float32
    assert spec.x.dtype == spec.kernel.dtype == np.float32
    assert spec.fill_value == 2 and isinstance(spec.fill_value, np.float32)
    spec = make_spec(np.ones(4, bool), np.ones(2, np.uint8), fill_value=np.int16(3))
    assert spec.dtype == np.int64 and spec.is_integer
    assert spec.fill_value == 3 and type(spec.fill_value) is int
    spec = make_spec(np.ones(4, np.float32), np.ones(2, np.complex64), fill_value=1.5)
    assert spec.dtype == np.complex64 and spec.is_complex
    assert spec.boundary == "constant"
    assert make_spec(np.ones(4), np.ones(2), boundary="nearest").boundary == "edge"


def test_method_word_is_kept():
    for method in ("auto", "direct", "fft", "overlap_add", "separable"):
        assert make_spec(np.ones(4), np.ones(2), method=method).method == method


def test_user_arrays_are_not_modified():
    x = np.arange(12.0).reshape(3, 4)
    k = np.arange(4.0).reshape(2, 2)
    before_x, before_k = x.copy(), k.copy()
    make_spec(x, k, mode="same", correlate=True)
    np.testing.assert_array_equal(x, before_x)
    np.testing.assert_array_equal(k, before_k)


def test_kept_layouts_tell_equal_options_of_other_types_apart():
    """What depends on shapes, dtypes and options alone is kept; an option equal to a kept
    one but of another type (``1.0`` for ``1``, ``True`` for ``1``) is validated afresh,
    as is one that cannot be a key, and the store stays bounded."""
    from ndconv import _spec
    x, k = np.ones((5, 6)), np.ones((2, 3))
    _spec._LAYOUTS.clear()
    first = make_spec(x, k, mode="same", origin=1)
    assert len(_spec._LAYOUTS) == 1
    again = make_spec(2 * x, k, mode="same", origin=1)
    assert again.geometry == first.geometry and len(_spec._LAYOUTS) == 1
    assert again.x[0, 0] == 2.0                                   # the new array, not the kept one
    for bad in (1.0, True, [1.0]):
        with pytest.raises((TypeError, ValueError), match="origin"):
            make_spec(x, k, mode="same", origin=bad)
    ints = np.ones((5, 6), dtype=np.int32)
    assert make_spec(ints, k.astype(np.int8), fill_value=1).fill_value == 1
    with pytest.raises(ValueError, match="fill_value"):
        make_spec(ints, k.astype(np.int8), fill_value=1.5)
    assert np.signbit(make_spec(x, k, fill_value=0.0).fill_value) == 0
    assert np.signbit(make_spec(x, k, fill_value=-0.0).fill_value) == 1
    assert make_spec(x, k, axes=np.array([0, 1])).axes == (0, 1)    # an array option: not kept
    huge = np.broadcast_to(np.ones(1), (2**20, 2**20))
    for _ in range(2):                                             # checked on every call, kept or not
        with pytest.raises(MemoryLimitError):
            make_spec(huge, k)
    for n in range(1, _spec._LAYOUTS_MAX + 10):
        make_spec(np.ones(n), np.ones(1))
    assert len(_spec._LAYOUTS) <= _spec._LAYOUTS_MAX
