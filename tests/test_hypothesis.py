"""Random problems (shapes, modes, boundaries, origins, strides, dilations,
dtypes, batch and per-row axes) against the oracle, for every method."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from conftest import ALIASES, BOUNDARIES, DTYPES, METHODS, MODES, check, draw_fill_value, make_array
from ndconv.methods import _opencv

SPELLINGS = BOUNDARIES + tuple(sorted(ALIASES))


@st.composite
def problems(draw, per_row: bool = False):
    ndim = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(MODES))
    max_n = {1: 24, 2: 9, 3: 5}[ndim]
    n = draw(st.lists(st.integers(1, max_n), min_size=ndim, max_size=ndim))
    dilation = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))
    k = []
    for ni, di in zip(n, dilation):
        top = 6 if mode != "valid" else min(6, (ni - 1) // di + 1)  # valid: K_d ≤ N
        k.append(draw(st.integers(1, top)))
    stride = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))
    kw = {"mode": mode, "boundary": draw(st.sampled_from(SPELLINGS)),
              "stride": stride if draw(st.booleans()) else stride[0],
              "dilation": dilation if len(set(dilation)) > 1 else dilation[0]}
    if mode == "same":
        kds = [di * (ki - 1) + 1 for ki, di in zip(k, dilation)]
        kw["origin"] = [draw(st.integers(-((kd - 1) // 2), kd - 1 - (kd - 1) // 2)) for kd in kds]
    x_dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    k_dtype = x_dtype if draw(st.booleans()) else np.dtype(draw(st.sampled_from(DTYPES)))
    if ALIASES.get(kw["boundary"], kw["boundary"]) == "constant" and draw(st.booleans()):
        result_kind = np.result_type(x_dtype, k_dtype).kind
        kw["fill_value"] = draw_fill_value(draw, np.result_type(x_dtype, k_dtype)) if result_kind != "b" \
            else draw(st.integers(0, 1))
    x_shape, k_shape = tuple(n), tuple(k)
    if per_row:
        # batch axes inserted among the convolved ones; k carries 1 or the batch size there
        nbatch = draw(st.integers(1, 2))
        batch = draw(st.lists(st.integers(1, 3), min_size=nbatch, max_size=nbatch))
        positions = sorted(draw(st.permutations(range(ndim + nbatch)))[:nbatch])
        x_list, k_list = list(x_shape), list(k_shape)
        for pos, size in zip(positions, batch):
            x_list.insert(pos, size)
            k_list.insert(pos, draw(st.sampled_from([1, size])))
        # x may also carry 1 where k has the batch size (one input row, several kernels)
        x_list = [1 if (i in positions and draw(st.integers(0, 4)) == 0) else s for i, s in enumerate(x_list)]
        conv = [i for i in range(ndim + nbatch) if i not in positions]
        order = draw(st.permutations(conv))
        kw["axes"] = [a - (ndim + nbatch) if draw(st.booleans()) else a for a in order]
        # per-axis arguments follow the order of `axes`: permute them the same way
        for name in ("stride", "dilation", "origin"):
            if isinstance(kw.get(name), list):
                kw[name] = [kw[name][conv.index(a)] for a in order]
        x_shape, k_shape = tuple(x_list), tuple(k_list)
    else:
        nbatch = draw(st.integers(0, 2))
        x_shape = tuple(draw(st.lists(st.integers(1, 3), min_size=nbatch, max_size=nbatch))) + x_shape
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x, kern = make_array(rng, x_shape, x_dtype), make_array(rng, k_shape, k_dtype)
    return x, kern, kw, draw(st.booleans())


def _per_row_consistent(x, k, kw):
    """In per-row problems the convolved lengths were drawn for the kernel order;
    re-derive validity (valid mode, origin range) for the axes as placed."""
    axes = [a % x.ndim for a in kw["axes"]]
    dil = kw["dilation"] if isinstance(kw["dilation"], list) else [kw["dilation"]] * len(axes)
    for a, d in zip(axes, dil):
        kd = d * (k.shape[a] - 1) + 1
        if kw["mode"] == "valid" and kd > x.shape[a]:
            return False
    if "origin" in kw:
        for a, d, o in zip(axes, dil, kw["origin"]):
            kd = d * (k.shape[a] - 1) + 1
            if not 0 <= (kd - 1) // 2 + o <= kd - 1:
                return False
    return True


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=45)
@given(problem=problems(), opencv=st.booleans(), numpy_rows=st.booleans())
def test_random_problems_match_oracle(method, problem, opencv, numpy_rows):
    """Every method against the oracle, with OpenCV's engine and numpy.convolve (small
    1-D rows of the direct method) each allowed or not."""
    from ndconv.methods import direct

    x, k, kw, correlate = problem
    note(f"x {x.shape} {x.dtype}, k {k.shape} {k.dtype}, {kw}, correlate={correlate}, opencv={opencv}, "
         f"numpy_rows={numpy_rows}")
    with mock.patch.object(_opencv, "ENABLED", opencv), \
            mock.patch.object(direct, "NUMPY_WORK", direct.NUMPY_WORK if numpy_rows else 0):
        check(x, k, method, correlate=correlate, **kw)


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=30)
@given(problem=problems(per_row=True))
def test_random_per_row_problems_match_oracle(method, problem):
    x, k, kw, correlate = problem
    note(f"x {x.shape} {x.dtype}, k {k.shape} {k.dtype}, {kw}, correlate={correlate}")
    if not _per_row_consistent(x, k, kw):
        return
    check(x, k, method, correlate=correlate, **kw)


@settings(max_examples=30)
@given(problem=problems())
def test_random_problems_every_method_agrees(problem):
    """All methods and 'auto' agree with each other (exactly for integers)."""
    x, k, kw, correlate = problem
    results = [check(x, k, m, correlate=correlate, **kw) for m in ("auto",) + METHODS]
    for y in results[1:]:
        assert y.dtype == results[0].dtype and y.shape == results[0].shape
        if y.dtype.kind in "iu":
            np.testing.assert_array_equal(y, results[0])


@settings(max_examples=60)
@given(problem=problems(), method=st.sampled_from(("direct", "separable")), opencv=st.booleans())
def test_random_problems_with_interior_and_border_boxes(problem, method, opencv):
    """The direct loops read the interior of large inputs in place and pad only
    border strips; force that path on small problems too."""
    from ndconv.methods import direct

    if not hasattr(direct, "SMALL_INPUT"):  # pragma: no cover - the split moved
        pytest.skip("direct.SMALL_INPUT is gone")
    x, k, kw, correlate = problem
    with mock.patch.object(direct, "SMALL_INPUT", 0), mock.patch.object(_opencv, "ENABLED", opencv), \
            mock.patch.object(direct, "NUMPY_WORK", 0):
        check(x, k, method, correlate=correlate, **kw)
