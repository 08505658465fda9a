"""Every argument error of §9, pinned by message: it names the argument, quotes the
value received and says what is allowed.  convolve, correlate and choose_method
validate identically; nothing crashes, hangs or allocates before refusing."""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest

import ndconv

FUNCS = [ndconv.convolve, ndconv.correlate, ndconv.choose_method]
FUNC_IDS = ["convolve", "correlate", "choose_method"]

X1, K1 = np.arange(6.0), np.array([1.0, 2.0, 1.0])
X2, K2 = np.ones((5, 6)), np.ones((2, 3))
X3 = np.ones((3, 4, 5))


@pytest.fixture(params=FUNCS, ids=FUNC_IDS)
def func(request):
    return request.param


# ------------------------------------------------------------------ words: mode, boundary, method

@pytest.mark.parametrize("mode", ["sam", "FULL", "", "same ", None, 1, ("full",)])
def test_bad_mode(func, mode):
    with pytest.raises(ValueError, match=re.escape(f"mode must be 'full', 'same' or 'valid', got {mode!r}")):
        func(X1, K1, mode)


@pytest.mark.parametrize("boundary", ["zeros", "periodical", "Reflect", "clamp", "", None, 0])
def test_bad_boundary(func, boundary):
    allowed = ("'constant', 'zero', 'fill', 'wrap', 'periodic', 'circular', 'reflect', 'mirror', "
               "'symmetric', 'edge', 'replicate' or 'nearest'")
    with pytest.raises(ValueError, match=re.escape(f"boundary must be {allowed}, got {boundary!r}")):
        func(X1, K1, "full", boundary)


@pytest.mark.parametrize("method", ["fastest", "FFT", "oa", "overlap-add", None, 2])
def test_bad_method(func, method):
    allowed = "'auto', 'direct', 'fft', 'overlap_add' or 'separable'"
    with pytest.raises(ValueError, match=re.escape(f"method must be {allowed}, got {method!r}")):
        func(X1, K1, method=method)


# ------------------------------------------------------------------ axes

@pytest.mark.parametrize(("x", "k", "axes", "bounds"), [
    (X2, [1.0], 2, "[-2, 1]"),
    (X2, [1.0], -3, "[-2, 1]"),
    (X2, K2, (0, 0), "[-2, 1]"),
    (X3, K2, (1, -2), "[-3, 2]"),           # the same axis twice, once negative
    (X2, [1.0], 1.0, "[-2, 1]"),
    (X2, [1.0], "1", "[-2, 1]"),
    (X2, K2, (), "[-2, 1]"),
    (X2, [1.0], [None], "[-2, 1]"),
])
def test_bad_axes(func, x, k, axes, bounds):
    message = f"axes must be None, an int or a sequence of distinct ints in {bounds}, got {axes!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        func(x, k, axes=axes)


def test_axes_count_must_match_kernel_when_k_has_fewer_axes(func):
    with pytest.raises(ValueError, match=re.escape("axes must name one axis of x per kernel axis (2) when "
                                                   "k.ndim < x.ndim, got (0,)")):
        func(X3, K2, axes=(0,))
    with pytest.raises(ValueError, match=re.escape("per kernel axis (1)")):
        func(X3, K1, axes=(0, 2))


def test_batch_axes_must_broadcast(func):
    with pytest.raises(ValueError, match=re.escape("the axes of x and k that are not convolved must broadcast, "
                                                   "got x.shape=(3, 5), k.shape=(2, 2) with axes=1")):
        func(np.ones((3, 5)), np.ones((2, 2)), axes=1)
    with pytest.raises(ValueError, match=r"must broadcast, got x\.shape=\(3, 4, 5\), k\.shape=\(2, 1, 3\)"):
        func(X3, np.ones((2, 1, 3)), axes=(2,))


def test_kernel_with_more_axes_than_x(func):
    with pytest.raises(ValueError, match=re.escape("k must not have more dimensions than x, got k.ndim=2 "
                                                   "and x.ndim=1")):
        func(X1, K2)


# ------------------------------------------------------------------ origin, stride, dilation

@pytest.mark.parametrize("mode", ["full", "valid"])
def test_origin_only_with_same(func, mode):
    with pytest.raises(ValueError, match=re.escape(f"origin is allowed only with mode='same', got origin=1 "
                                                   f"with mode={mode!r}")):
        func(X1, K1, mode, origin=1)
    with pytest.raises(ValueError, match=re.escape("origin is allowed only with mode='same', got origin=(0, -1)")):
        func(X2, K2, mode, origin=(0, -1))
    func(X1, K1, mode, origin=0)       # origin 0 is the default everywhere
    func(X2, K2, mode, origin=(0, 0))


@pytest.mark.parametrize(("k_len", "dilation", "origin", "lo", "hi", "kd"), [
    (3, 1, 2, -1, 1, 3), (3, 1, -2, -1, 1, 3), (4, 1, 3, -1, 2, 4), (4, 1, -2, -1, 2, 4), (1, 1, 1, 0, 0, 1),
    (1, 1, -1, 0, 0, 1), (2, 3, 3, -1, 2, 4), (3, 2, -3, -2, 2, 5),
])
def test_origin_out_of_range(func, k_len, dilation, origin, lo, hi, kd):
    message = (f"origin must keep the window inside the full output: between {lo} and {hi} for a kernel "
               f"of length {kd} on axis 0, got {origin}")
    with pytest.raises(ValueError, match=re.escape(message)):
        func(np.ones(9), np.ones(k_len), "same", origin=origin, dilation=dilation)
    func(np.ones(9), np.ones(k_len), "same", origin=lo, dilation=dilation)  # the limits themselves are fine
    func(np.ones(9), np.ones(k_len), "same", origin=hi, dilation=dilation)


def test_origin_out_of_range_names_the_axis(func):
    with pytest.raises(ValueError, match=re.escape("for a kernel of length 3 on axis 1, got -2")):
        func(X2, K2, "same", origin=(0, -2))


@pytest.mark.parametrize("name", ["stride", "dilation"])
@pytest.mark.parametrize(("x", "k", "value", "naxes"), [
    (X1, K1, 0, 1), (X1, K1, -1, 1), (X1, K1, (1, 2), 1), (X1, K1, True, 1), (X1, K1, np.True_, 1),
    (X1, K1, 2.0, 1), (X1, K1, None, 1), (X1, K1, "2", 1), (X2, K2, (1,) * 3, 2), (X2, K2, [1, True], 2),
    (X2, K2, (2, 0), 2), (X2, K2, (), 2), (X2, K2, [1.5, 1], 2),
])
def test_bad_stride_and_dilation(func, name, x, k, value, naxes):
    message = f"{name} must be an int or a sequence of {naxes} ints >= 1, got {value!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        func(x, k, **{name: value})


@pytest.mark.parametrize(("value", "naxes", "x", "k"), [
    (0.5, 1, X1, K1), ((1, 0), 1, X1, K1), (True, 1, X1, K1), ((0, 0, 0), 2, X2, K2), ("0", 1, X1, K1),
])
def test_bad_origin_type(func, value, naxes, x, k):
    with pytest.raises(ValueError, match=re.escape(f"origin must be an int or a sequence of {naxes} ints, "
                                                   f"got {value!r}")):
        func(x, k, "same", origin=value)


def test_numpy_integers_are_accepted_where_ints_are(func):
    func(X2, K2, "same", origin=np.int8(1), stride=np.int64(2), dilation=(np.uint8(1), 2))
    func(X2, K1, axes=np.int32(-1))
    func(X2, K2, "same", origin=np.array([0, 1]), stride=np.array([1, 2]), axes=np.array([0, 1]))


# ------------------------------------------------------------------ sizes

@pytest.mark.parametrize(("x_shape", "k_shape", "dilation", "kd", "kk", "n", "axis"), [
    ((3,), (4,), 1, 4, 4, 3, 0), ((3,), (2,), 3, 4, 2, 3, 0), ((5, 2), (2, 3), 1, 3, 3, 2, 1),
    ((4, 5, 6), (5, 1, 1), 1, 5, 5, 4, 0),
])
def test_valid_needs_kernel_inside(func, x_shape, k_shape, dilation, kd, kk, n, axis):
    message = (f"mode='valid' needs the dilated kernel to fit in x on every convolved axis, got kernel length "
               f"{kd} (k={kk}, dilation={dilation}) > input length {n} on axis {axis}")
    with pytest.raises(ValueError, match=re.escape(message)):
        func(np.ones(x_shape), np.ones(k_shape), "valid", dilation=dilation)


@pytest.mark.parametrize(("x", "k"), [
    (np.array([]), K1), (X1, np.array([])), (np.ones((0, 3)), np.ones((1, 1))), (np.ones((3, 0)), np.ones(1)),
    ([], []), (np.ones((2, 3)), np.ones((0, 2))),
])
def test_empty_inputs(func, x, k):
    x, k = np.asarray(x), np.asarray(k)
    message = f"x and k must be non-empty, got x.shape={x.shape} and k.shape={k.shape}"
    with pytest.raises(ValueError, match=re.escape(message)):
        func(x, k)


@pytest.mark.parametrize(("x", "k", "name", "value"), [
    (3, K1, "x", 3), (np.float64(2.5), K1, "x", np.float64(2.5)), (X1, 2, "k", 2), (np.array(1.0), K1, "x", None),
])
def test_zero_dimensional_inputs(func, x, k, name, value):
    message = f"{name} must be an array with at least 1 dimension (0-d arrays have no axis to convolve), got "
    with pytest.raises(ValueError, match=re.escape(message)):
        func(x, k)


def _quick_refusal(call):
    """Refused before any work: no allocation of the input's size (tracemalloc
    sees numpy's allocations), and so no scan of a huge broadcast view."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"needs .* with its working copy, more than the .* of memory available"):
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


@pytest.mark.parametrize("case", ["2d", "2d-full-kernel", "1d", "batch", "uint64", "complex", "per-row"])
def test_huge_sizes_refused_before_allocating(func, case):
    """Broadcast views: the test allocates nothing; the library must refuse at once."""
    view = np.broadcast_to
    problems = {
        "2d": (view(np.float64(1), (2**20, 2**20)), np.ones((3, 3)), {}),
        "2d-full-kernel": (view(np.float32(1), (2**20, 2**20)), view(np.float32(1), (2**20, 2**20)), {}),
        "1d": (view(np.float64(1), (2**41,)), np.ones(3), {"mode": "same"}),
        "batch": (view(np.int8(1), (2**22, 2**10, 2**10)), np.ones((2, 2), np.int8), {"mode": "valid"}),
        "uint64": (view(np.uint64(2**64 - 1), (2**20, 2**20)), np.ones((3, 3), np.uint64), {}),
        "complex": (view(np.complex64(1), (2**19, 2**19)), np.ones((2, 2), np.complex64), {"boundary": "wrap"}),
        "per-row": (view(np.float64(1), (2**20, 1)), view(np.float64(1), (2**20, 2**20)), {"axes": 1}),
    }
    x, k, kw = problems[case]
    _quick_refusal(lambda: func(x, k, **kw))


def test_huge_result_refused_even_with_modest_inputs():
    """Two long 1-D inputs in 2-D give a 4·10**12-sample 'full' output: refused."""
    x = np.broadcast_to(1.0, (2**20, 2**20))
    _quick_refusal(lambda: ndconv.convolve(x, x))
    _quick_refusal(lambda: ndconv.correlate(x, x, "full", "wrap", method="fft"))


# ------------------------------------------------------------------ dtypes

@pytest.mark.parametrize(("value", "dtype_name"), [
    (np.array([1, 2], dtype=object), "object"),
    (np.array(["a", "b"]), "<U1"),
    (np.array([b"a"]), "|S1"),
    (np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime64[D]"),
    (np.array([1], dtype="timedelta64[s]"), "timedelta64[s]"),
    (np.ones(3, np.longdouble), np.dtype(np.longdouble).name),
    (np.ones(3, np.clongdouble), np.dtype(np.clongdouble).name),
    (np.zeros(2, dtype=[("a", "f8")]), "[('a', '<f8')]"),
    ([None, 1], "object"),
    (["1", "2"], "<U1"),
])
@pytest.mark.parametrize("position", ["x", "k"])
def test_unsupported_dtypes(func, value, dtype_name, position):
    if np.dtype(np.longdouble) == np.float64 and "float" in dtype_name:  # pragma: no cover - platform
        pytest.skip("long double is float64 here")
    args = (value, [1.0]) if position == "x" else ([1.0, 2.0], value)
    message = (f"{position} must be an array of bool, integer, float16/32/64 or complex64/128 numbers, "
               f"got ndarray of dtype {dtype_name}")
    with pytest.raises(TypeError, match=re.escape(message)):
        func(*args)


@pytest.mark.parametrize("position", ["x", "k"])
def test_ragged_input(func, position):
    ragged = [[1, 2], [3]]
    args = (ragged, [1.0]) if position == "x" else ([[1.0, 2.0]], ragged)
    with pytest.raises(ValueError, match=re.escape(f"{position} must be an array of numbers, got [[1, 2], [3]]")):
        func(*args)


# ------------------------------------------------------------------ fill_value

@pytest.mark.parametrize(("x", "fill", "allowed"), [
    (X1, "a", "a real or complex number"),
    (X1, None, "a real or complex number"),
    (X1, np.array([1.0, 2.0]), "a real or complex number"),
    (X1, [0], "a real or complex number"),
    (X1, np.datetime64("2020"), "a real or complex number"),
    (X1, 1j, "a real number for real inputs"),
    (X1, np.complex64(1 + 1j), "a real number for real inputs"),
    (np.arange(6), 0.5, "an integer for bool/integer inputs"),
    (np.arange(6), float("nan"), "an integer for bool/integer inputs"),
    (np.arange(6), float("inf"), "an integer for bool/integer inputs"),
    (np.arange(6), 1j, "an integer for bool/integer inputs"),
    (np.ones(6, bool), 2.5, "an integer for bool/integer inputs"),
    (np.arange(6), 2**63, "an integer in the int64 range for bool/integer inputs"),
    (np.arange(6), -2**63 - 1, "an integer in the int64 range for bool/integer inputs"),
    # finite fills that the computing type cannot hold (they became ±∞ with a cast warning, or a
    # bare OverflowError for Python ints beyond any float)
    (X1.astype(np.float32), 1e300, "a number within float32's range (±3.403e+38), the type the result is "
                                   "computed in"),
    (X1.astype(np.float32), -10**39, "a number within float32's range (±3.403e+38), the type the result is "
                                     "computed in"),
    (X1.astype(np.complex64), 1e39j, "a number within complex64's range (±3.403e+38), the type the result is "
                                     "computed in"),
    (X1, 10**400, "a number within float64's range (±1.798e+308), the type the result is computed in"),
])
def test_bad_fill_value(func, x, fill, allowed):
    k = np.ones(3, dtype=np.asarray(x).dtype)
    with pytest.raises(ValueError, match=re.escape(f"fill_value must be {allowed}, got {fill!r}")):
        func(x, k, fill_value=fill)


def test_good_fill_values_are_accepted(func):
    func(X1, K1, fill_value=np.float32(2.5))
    func(X1.astype(complex), K1, fill_value=1 - 2j)
    func(np.arange(6), [1, 1], fill_value=np.int8(-3))
    func(np.arange(6), [1, 1], fill_value=4.0)        # an integral float for integer inputs
    func(X1.astype(np.float32), K1.astype(np.float32), fill_value=float("inf"))   # non-finite fills stay
    func(X1.astype(np.float32), K1.astype(np.float32), fill_value=3e38)
    func(np.arange(6), [1, 1], fill_value=True)


# ------------------------------------------------------------------ order and wording

def test_first_error_wins_before_any_work(func):
    """A bad word is reported even when the arrays are huge (validation comes first)."""
    huge = np.broadcast_to(1.0, (2**20, 2**20))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="mode must be"):
            func(huge, huge, "bad")
        with pytest.raises(ValueError, match="boundary must be"):
            func(huge, huge, "full", "bad")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


def test_errors_are_one_line_and_name_their_argument():
    cases = [{"mode": "x"}, {"boundary": "x"}, {"method": "x"}, {"axes": 5}, {"origin": 1},
             {"stride": 0}, {"dilation": 0}, {"fill_value": "x"}]
    for kw in cases:
        with pytest.raises(ValueError) as info:
            ndconv.convolve(X1, K1, **kw)
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith(next(iter(kw)))


def test_testing_helpers_refuse_bad_arguments_by_name():
    """ndconv.testing is public: the oracle raised KeyError('x') for mode='x' and dottest an
    AttributeError for a plain matrix."""
    from ndconv.testing import dottest, reference_convolve, reference_correlate

    with pytest.raises(ValueError, match=r"mode must be 'full', 'same' or 'valid', got 'x'"):
        reference_convolve([1, 2], [1], mode="x")
    with pytest.raises(ValueError, match=r"boundary must be 'constant', .*got 'mirorr'"):
        reference_correlate([1, 2], [1], boundary="mirorr")
    assert reference_convolve([1, 2, 3], [1, 1], "same", "periodic").tolist() == [4, 3, 5]
    with pytest.raises(TypeError, match=r"op must be a linear map .*got ndarray without input_shape"):
        dottest(np.eye(3))
