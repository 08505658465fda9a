"""fold, the adjoint of the boundary extension: against the extension's own
index formula, the dot test with extend, repeats of long extensions, negative
widths (x̃ starting inside x), in place and out of place, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import ALIASES, BOUNDARIES
from ndconv.boundary import extend, extension_index, fold


def extension_matrix(n: int, first: int, last: int, boundary: str) -> np.ndarray:
    """E with x̃[first..last] = E x, from extension_index (fill 0 for constant)."""
    idx, inside = extension_index(n, first, last, boundary)
    matrix = np.zeros((idx.size, n))
    matrix[np.arange(idx.size), idx] = inside
    return matrix


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("n, pad", [(n, pad) for n in (1, 2, 3, 5)
                                    for pad in ((0, 0), (1, 2), (3, 0), (7, 9), (-1, 2), (2, -1), (-1, -2), (-2, 0))
                                    if n + min(pad[0], 0) + min(pad[1], 0) >= 1])  # x̃ holds a sample of x
def test_fold_is_the_transpose_of_the_extension(boundary, n, pad):
    before, after = pad
    length = n + before + after
    z = np.random.default_rng(n).standard_normal(length)
    expected = extension_matrix(n, -before, n - 1 + after, boundary).T @ z
    np.testing.assert_allclose(fold(z, (pad,), boundary), expected, atol=1e-12)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_fold_adjoint_of_extend_nd(boundary):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 4)) + 1j * rng.standard_normal((2, 3, 4))
    pad = ((2, 5), (4, 1))
    ex = extend(x, pad, boundary)
    z = rng.standard_normal(ex.shape) + 1j * rng.standard_normal(ex.shape)
    folded = fold(z, pad, boundary)
    assert folded.shape == x.shape
    np.testing.assert_allclose(np.vdot(ex, z), np.vdot(x, folded), rtol=1e-12)


@given(n=st.integers(1, 6), before=st.integers(-3, 12), after=st.integers(-3, 12),
       boundary=st.sampled_from(BOUNDARIES))
def test_fold_hypothesis(n, before, after, boundary):
    length = n + before + after
    if length < 1 or n + min(before, 0) + min(after, 0) < 1:
        return
    z = np.arange(1.0, length + 1)
    expected = extension_matrix(n, -before, n - 1 + after, boundary).T @ z
    np.testing.assert_allclose(fold(z, ((before, after),), boundary), expected)
    # the total is conserved by every rule but constant (which drops the outside)
    if boundary != "constant":
        assert np.isclose(fold(z, ((before, after),), boundary).sum(), z.sum())


def test_fold_examples_and_aliases():
    z = np.arange(1, 8)
    np.testing.assert_array_equal(fold(z, ((2, 2),), "wrap"), [9, 12, 7])
    np.testing.assert_array_equal(fold(z, ((2, 2),), "constant"), [3, 4, 5])
    np.testing.assert_array_equal(fold(z, ((2, 2),), "edge"), [1 + 2 + 3, 4, 5 + 6 + 7])
    # abc → ba|abc|cb  and  cb|abc|ba
    np.testing.assert_array_equal(fold(z, ((2, 2),), "symmetric"), [2 + 3, 1 + 4 + 7, 5 + 6])
    np.testing.assert_array_equal(fold(z, ((2, 2),), "reflect"), [3 + 7, 2 + 4 + 6, 1 + 5])
    for alias, rule in ALIASES.items():
        np.testing.assert_array_equal(fold(z, ((2, 2),), alias), fold(z, ((2, 2),), rule))


def test_fold_keeps_its_input_unless_told():
    z = np.arange(1.0, 8.0)
    kept = z.copy()
    out = fold(z, ((2, 2),), "wrap")
    np.testing.assert_array_equal(z, kept)
    assert not np.shares_memory(out, z)
    inplace = fold(z, ((2, 2),), "wrap", overwrite_input=True)
    np.testing.assert_array_equal(inplace, out)
    assert np.shares_memory(inplace, z)
    np.testing.assert_array_equal(fold(np.arange(3), ((0, 0),), "constant"), [0, 1, 2])


def test_fold_leading_axes_untouched():
    z = np.arange(24.0).reshape(2, 3, 4)
    out = fold(z, ((1, 1),), "edge")
    assert out.shape == (2, 3, 2)
    np.testing.assert_array_equal(out[..., 0], z[..., 0] + z[..., 1])


def test_fold_errors():
    with pytest.raises(ValueError, match=r"pad must leave at least one sample of x on axis 0, got "
                                         r"\(before, after\)=\(2, 2\) for length 3"):
        fold(np.zeros(3), ((2, 2),), "wrap")
    with pytest.raises(ValueError, match=r"pad must not name more axes than z has, got 2 pairs for z.ndim=1"):
        fold(np.zeros(3), ((0, 0), (0, 0)), "wrap")
    with pytest.raises(ValueError, match=r"boundary must be"):
        fold(np.zeros(3), ((0, 0),), "sym")


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("pad", [((2, 2), (2, 2)), ((1, 4), (9, 3)), ((0, -1), (-2, 7)), ((3, 0), (0, 1))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("overwrite", [False, True])
def test_fold_2d_columns_equal_the_transposed_extensions(boundary, pad, dtype, overwrite):
    """A 2-D image's border columns (folded by a compiled loop over the rows) and rows:
    Eᵣᵀ z E_c, for long extensions (sources repeat), negative widths and a strided z."""
    (b0, a0), (b1, a1) = pad
    n0, n1 = 5, 4
    rng = np.random.default_rng(abs(hash((boundary, pad))) % 2**32)
    big = rng.standard_normal((n0 + b0 + a0, 2 * (n1 + b1 + a1)))
    z = (big + (1j * big[::-1] if dtype == np.complex128 else 0)).astype(dtype)[:, ::2]   # strided columns
    rows = extension_matrix(n0, -b0, n0 - 1 + a0, boundary)
    cols = extension_matrix(n1, -b1, n1 - 1 + a1, boundary)
    expected = rows.T @ z.astype(np.complex128) @ cols
    kept = z.copy()
    got = fold(z, pad, boundary, overwrite_input=overwrite)
    assert got.shape == (n0, n1) and got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)
    if not overwrite:
        np.testing.assert_array_equal(z, kept)


@pytest.mark.parametrize("shape", [(7,), (6, 7)])
def test_fold_of_a_read_only_array_copies_even_when_allowed_to_overwrite(shape):
    """``overwrite_input=True`` permits writing z; a read-only z is folded into a copy."""
    z = np.arange(float(np.prod(shape))).reshape(shape)
    z.flags.writeable = False
    pad = ((2, 2),) * len(shape)
    want = fold(z.copy(), pad, "reflect")
    np.testing.assert_array_equal(fold(z, pad, "reflect", overwrite_input=True), want)
    assert not z.flags.writeable
