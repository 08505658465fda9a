"""Engines behind the methods: OpenCV's DFT inside ``fft``, the non-finite
check, the cost layout that copies nothing, and the calibration file."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import ndconv
from ndconv._memory import cpu_count
from ndconv._spec import make_spec
from ndconv.methods import REGISTRY, Problem, _costs, _opencv, _registry, _sep_rows, direct
from ndconv.methods._finite import all_finite
from ndconv.testing import assert_conv_close, reference_convolve

needs_cv2 = pytest.mark.skipif(not _opencv.available(), reason="OpenCV not installed")


@needs_cv2
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("boundary", ["constant", "reflect", "symmetric", "edge"])
@pytest.mark.parametrize("ksize", [(13, 13), (16, 21)])
def test_fft_through_opencv_dft_matches_the_oracle(dtype, boundary, ksize, monkeypatch):
    monkeypatch.setitem(_costs.constants(), "opencv_dft_setup", 1e-15)
    monkeypatch.setitem(_costs.constants(), "opencv_dft_f4", 1e-15)
    monkeypatch.setitem(_costs.constants(), "opencv_dft_f8", 1e-15)
    rng = np.random.default_rng(sum(ksize))
    x = rng.standard_normal((40, 37)).astype(dtype)
    k = rng.standard_normal(ksize).astype(dtype)
    problem = Problem(make_spec(x, k, mode="same", boundary=boundary, method="fft"))
    assert _registry._fft_engine(problem)[0] == "opencv"
    calls = []
    real = _opencv.filter2d
    monkeypatch.setattr(_opencv, "filter2d", lambda spec: calls.append(1) or real(spec))
    for origin in [0, (1, -1)]:
        y = ndconv.convolve(x, k, "same", boundary, origin=origin, method="fft")
        assert y.dtype == dtype
        assert_conv_close(y, reference_convolve(x, k, "same", boundary, origin=origin), x, k)
    assert calls, "the OpenCV engine was not used"


@needs_cv2
def test_fft_through_opencv_keeps_nonfinite_local(monkeypatch):
    monkeypatch.setitem(_costs.constants(), "opencv_dft_setup", 1e-15)
    monkeypatch.setitem(_costs.constants(), "opencv_dft_f8", 1e-15)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((50, 50))
    k = rng.standard_normal((15, 15))
    x[10, 20] = np.nan
    x[40, 5] = np.inf
    y = ndconv.convolve(x, k, "same", method="fft")
    want = reference_convolve(x, k, "same")
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(want))
    assert np.isfinite(y).sum() == np.isfinite(want).sum() > 0


def test_opencv_dft_is_not_offered_outside_its_domain():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((40, 40))
    for k, kw in [(rng.standard_normal((5, 5)), {"mode": "same"}),        # direct territory
                  (rng.standard_normal((15, 15)), {"mode": "full"}),      # not a 'same' window
                  (rng.standard_normal((15, 15)), {"mode": "same", "boundary": "wrap"}),
                  (rng.standard_normal((15, 15)), {"mode": "same", "stride": 2})]:
        terms, _ = _registry._opencv_dft_terms(Problem(make_spec(x, k, **kw)))
        assert terms is None


def test_cost_layout_copies_nothing():
    x = np.random.default_rng(7).standard_normal((300, 200))
    problem = Problem(make_spec(x, np.ones((9, 9)), mode="same", boundary="reflect"))
    for method in REGISTRY.values():
        method.cost(problem)
    assert "sampled" not in problem.__dict__, "predicting costs materialised the boundary extension"
    layout = problem.layout
    assert layout.z.shape == (308, 208) and layout.z.strides == (0, 0)
    assert problem.sampled.z.shape == layout.z.shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("n", [7, 70_000, 70_003])
def test_all_finite_finds_every_kind_of_bad_value(dtype, n):
    x = np.ones(n, dtype)
    assert all_finite(x)
    for bad in [np.nan, np.inf, -np.inf]:
        for where in [0, n // 2, n - 1]:
            y = x.copy()
            y[where] = bad
            assert not all_finite(y)
            if np.dtype(dtype).kind == "c":
                y = x.copy()
                y[where] = complex(0, bad)
                assert not all_finite(y)
    assert all_finite(np.full(n, np.finfo(dtype).max, dtype))  # huge but finite
    assert all_finite(np.arange(5)) and all_finite(np.zeros(3, bool))


def test_every_cost_is_named_constants_times_units():
    x = np.random.default_rng(8).standard_normal((64, 64)).astype(np.float32)
    problem = Problem(make_spec(x, np.ones((5, 5), np.float32), mode="same"))
    c = _costs.constants()
    for name, method in REGISTRY.items():
        terms, reason = method.terms(problem)
        seconds, why = method.cost(problem)
        assert why == reason
        if terms is None:
            assert math.isinf(seconds)
        else:
            assert all(key in c and units >= 0 for key, units in terms), name
            assert seconds == pytest.approx(sum(c[key] * units for key, units in terms))


@pytest.mark.parametrize("quick", [True, False])
def test_tune_measures_every_constant(quick, monkeypatch):
    """One calibration problem per constant (copy and call are timed on their own), each
    priced by its method with that constant among its terms (OpenCV off, as tune prices them)."""
    from ndconv import tuning
    from ndconv._spec import make_spec
    from ndconv.methods._problem import Problem

    monkeypatch.setattr(_opencv, "ENABLED", False)
    cases = tuning._calibration_problems(quick)
    assert {key for key, *_ in cases} | {"copy", "call"} == set(_costs.DEFAULTS)
    for key, name, x, k, kw in cases:
        if not key.startswith("opencv_"):   # OpenCV's engine is timed and priced by tune itself
            terms, _ = REGISTRY[name].terms(Problem(make_spec(x, k, method=name, **kw)))
            assert terms is not None and key in dict(terms), key


def test_tune_writes_constants_atomically_and_auto_reads_them(tmp_path, monkeypatch):
    monkeypatch.setenv("NDCONV_CACHE_DIR", str(tmp_path))
    _costs.constants.cache_clear()
    try:
        path = ndconv.tune(quick=True)
        assert path == tmp_path / "cost_model.json"
        stored = json.loads(path.read_text())
        assert set(stored["constants"]) == set(_costs.DEFAULTS)
        assert all(v > 0 and math.isfinite(v) for v in stored["constants"].values())
        assert stored["machine"]["cpus"] >= 1
        assert [p.name for p in tmp_path.iterdir()] == ["cost_model.json"]  # no temporary left
        assert _costs.constants() == pytest.approx(stored["constants"])
        # a damaged file falls back to the defaults instead of failing
        path.write_text("{not json")
        _costs.constants.cache_clear()
        assert _costs.constants() == _costs.DEFAULTS
    finally:
        _costs.constants.cache_clear()


def test_save_leaves_no_partial_file_when_writing_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("NDCONV_CACHE_DIR", str(tmp_path))
    target = tmp_path / "cost_model.json"
    target.write_text(json.dumps({"constants": {"call": 1.0}}))

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(_costs.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        _costs.save({"call": 2.0}, {})
    assert json.loads(target.read_text()) == {"constants": {"call": 1.0}}
    assert [p.name for p in tmp_path.iterdir()] == ["cost_model.json"]
    _costs.constants.cache_clear()


@needs_cv2
@pytest.mark.parametrize("view", ["tile", "reversed_rows", "every_other_column"])
def test_opencv_reads_tiles_in_place_and_other_views_by_copy(view, monkeypatch):
    """A tile of a larger image goes to OpenCV as it lies (rows contiguous, any row
    step); views without contiguous rows are copied first.  Both equal the copy's result."""
    rng = np.random.default_rng(3)
    big = rng.standard_normal((40, 50)).astype(np.float32)
    x = {"tile": big[5:30, 7:41], "reversed_rows": big[::-1, 4:44],
         "every_other_column": big[:, ::2]}[view]
    k = rng.standard_normal((3, 5)).astype(np.float32)
    rows = _sep_rows.contiguous_rows   # the rule OpenCV's calls and the fused loops share
    assert rows(x) is x if view == "tile" else rows(x).flags.c_contiguous
    calls = []
    real = _opencv.filter2d
    monkeypatch.setattr(_opencv, "filter2d", lambda spec: calls.append(1) or real(spec))
    monkeypatch.setattr(_registry, "direct_engine", lambda problem: ("opencv", [("call", 1)]))
    monkeypatch.setattr(direct, "_ENGINES", {})   # no engine choice remembered from earlier calls
    expected = ndconv.convolve(np.ascontiguousarray(x), k, mode="same", boundary="reflect", method="direct")
    np.testing.assert_array_equal(ndconv.convolve(x, k, mode="same", boundary="reflect", method="direct"),
                                  expected)
    assert len(calls) == 2


@needs_cv2
def test_direct_engine_choice_is_remembered_per_problem(monkeypatch):
    """The loops-or-OpenCV comparison runs once per problem key, not on every call."""
    monkeypatch.setattr(direct, "_ENGINES", {})
    priced = []
    real = _registry.direct_engine
    monkeypatch.setattr(_registry, "direct_engine", lambda problem: priced.append(1) or real(problem))
    x = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    for _ in range(3):
        ndconv.convolve(x, np.ones((3, 3), np.float32), mode="same", method="direct")
    ndconv.convolve(x, np.full((3, 3), 2, np.float32), mode="same", method="direct")   # other kernel: new key
    assert len(priced) == 2


def test_remembered_decisions_are_kept_per_problem_key_and_bounded(monkeypatch):
    """A decision is made once per problem key (kernel values included), afresh for a
    problem without a key (a kernel too large to hash), and a full store starts over."""
    from ndconv.methods import _keys

    monkeypatch.setattr(_keys, "REMEMBERED_SIZE", 3)
    store, made = {}, []

    def decide(problem):
        made.append(problem.spec.x.size)
        return problem.spec.x.size

    def problem(n, k=np.ones(3)):
        return Problem(make_spec(np.ones(n), k))

    assert [_keys.remembered(store, problem(n), decide) for n in (5, 5, 6)] == [5, 5, 6]
    assert made == [5, 6]
    _keys.remembered(store, problem(5, np.full(3, 2.0)), decide)      # other kernel values: a new key
    assert made == [5, 6, 5] and len(store) == 3
    _keys.remembered(store, problem(7), decide)                       # full: starts over
    assert len(store) == 1
    monkeypatch.setattr(_keys, "_KEY_KERNEL_BYTES", 8)                 # no key: decided every time
    for _ in range(2):
        _keys.remembered(store, problem(9), decide)
    assert made[-2:] == [9, 9] and len(store) == 1


@pytest.mark.parametrize("taps, key", [((12, 12), "direct_f4"), ((13, 13), "direct_f8")])
def test_loops_priced_by_the_accumulator_they_sum_in(taps, key):
    """float32 sums of more than FLOAT32_ACC_TAPS taps run in float64: the cost model
    prices them with the float64 loops' constant (it used float32's, 2× too cheap)."""
    x = np.zeros((300, 300), np.float32)
    problem = Problem(make_spec(x, np.ones(taps, np.float32), mode="same", method="direct"))
    terms, note = _registry._loops_terms(problem)
    assert [name for name, _ in terms if name.startswith("direct_f")] == [key]
    assert ("float64 sums" in note) == (key == "direct_f8")


@pytest.mark.parametrize("xshape, kshape, kw, frames", [
    ((64, 64), (3, 3), {"mode": "same", "boundary": "reflect"}, True),     # 2-D: frames at every size
    ((64, 64), (5, 5), {"mode": "full"}, True),
    ((64, 64), (3, 3), {"mode": "valid"}, False),                          # no border box
    ((4000,), (5,), {"mode": "same", "boundary": "wrap"}, False),          # small 1-D: padded whole
    ((32, 32, 32), (3, 3, 3), {"mode": "same"}, False),                    # small 3-D: padded whole
    ((70, 66, 61), (3, 3, 3), {"mode": "same", "boundary": "wrap"}, True),  # large 3-D: frames
])
def test_loops_priced_with_the_frames_only_where_they_run(xshape, kshape, kw, frames):
    """The border frames' fixed cost (FRAMES_CALLS) is in the loops' price exactly where
    the loops sum border boxes in frames: it decides loops against OpenCV on mid-size images."""
    problem = Problem(make_spec(np.zeros(xshape), np.ones(kshape), method="direct", **kw))
    terms, _ = _registry._loops_terms(problem)
    assert dict(terms)["call"] == 1 + (_registry.FRAMES_CALLS if frames else 0)
    sampled = problem.unextended
    layout = direct._layout(sampled.z.shape, sampled.kernel_shape, sampled.starts, sampled.counts, sampled.strides,
                            sampled.dilations, sampled.boundary, direct.SMALL_INPUT)
    assert bool(layout.frames) == frames


def test_auto_plans_remembered_per_problem_oldest_dropped_first(monkeypatch):
    """`auto` prices a problem once and reuses the plan; the cache keeps at most
    PLAN_CACHE_SIZE plans and drops the oldest planned (a hit does not renew it);
    new cost constants (a new dict from ``constants()``) plan again."""
    from ndconv.methods import planner

    monkeypatch.setattr(planner, "PLAN_CACHE_SIZE", 2)
    monkeypatch.setattr(planner, "_plans", type(planner._plans)())
    priced = []
    real = planner.choose
    monkeypatch.setattr(planner, "choose", lambda problem: priced.append(problem.spec.x.size) or real(problem))
    signals = {n: np.random.default_rng(n).standard_normal(n) for n in (50, 60, 70)}

    def call(n):
        return ndconv.convolve(signals[n], np.ones(3))

    for n in (50, 50, 60, 50):       # 50 planned once, hits do not re-price
        np.testing.assert_allclose(call(n), np.convolve(signals[n], np.ones(3)))
    assert priced == [50, 60]
    call(70)                          # the cache is full: 50, the oldest planned, is dropped
    assert len(planner._plans) == 2
    call(60)
    call(50)
    assert priced == [50, 60, 70, 50]
    from ndconv.methods import _keys

    monkeypatch.setattr(_keys, "constants", lambda: dict(_costs.DEFAULTS))   # a new dict each call
    call(50)
    assert priced[-1] == 50 and len(priced) == 5


def test_plan_key_stands_on_the_layout_and_tells_problems_apart():
    """A make_spec spec keys its plan by its layout (shapes, dtypes, options), x's strides
    and the kernel's values; a spec derived with other shapes (layout=None) by all its parts."""
    import dataclasses

    from ndconv.methods._keys import plan_key

    def key(x, k, **kw):
        return plan_key(Problem(make_spec(x, k, **kw)))

    x = np.random.default_rng(0).standard_normal((40, 30))
    k = np.arange(9.0).reshape(3, 3)
    assert key(x, k, mode="same") == key(x.copy(), k.copy(), mode="same")                    # values of x: no
    assert key(x, k, mode="same") == key(x, np.asfortranarray(k), mode="same")               # k's layout: no
    different = [key(x, k, mode="full"), key(x, k, mode="same", boundary="wrap"), key(x, k + 1, mode="same"),
                 key(x, k, mode="same", fill_value=1.0), key(x[:, :29], k, mode="same"),
                 key(np.asfortranarray(x), k, mode="same"), key(x.astype(np.float32), k, mode="same")]
    assert len({key(x, k, mode="same"), *different}) == 1 + len(different)
    spec = make_spec(x, k, mode="same")
    derived = dataclasses.replace(spec, x=np.zeros((50, 30)), layout=None)
    assert plan_key(Problem(derived)) not in (plan_key(Problem(spec)), None)


@needs_cv2
@pytest.mark.parametrize("side,taps,engine", [(2048, 11, "loops"), (2048, 7, "loops"), (2048, 3, "loops"),
                                              (512, 3, "opencv"), (128, 11, "opencv")])
def test_the_engine_comparison_has_its_own_factors(side, taps, engine, monkeypatch):
    """Which engine runs comes from factors fitted to the two engines (the loops beat
    filter2D on large float32 images, OpenCV wins on small ones); the planner's price is
    still the cheaper engine in the ranking's own factors, so method choices stay put."""
    monkeypatch.setattr(_costs, "constants", lambda: dict(_costs.DEFAULTS))
    x = np.zeros((side, side), np.float32)
    k = np.random.default_rng(taps).standard_normal((taps, taps)).astype(np.float32)
    problem = Problem(make_spec(x, k, mode="same"))
    chosen, (price, _) = _registry.direct_engine(problem)
    assert chosen == engine
    loops, opencv = _registry._loops_terms(problem)[0], _registry._opencv_filter2d_terms(problem)[0]
    assert _registry._seconds(price) == min(_registry._seconds(loops), _registry._seconds(opencv))
    monkeypatch.setattr(_registry, "ENGINE_ONE_PASS_FACTOR", _registry.ONE_PASS_FACTOR)
    monkeypatch.setattr(_registry, "ENGINE_RUN_PASS_FACTOR", _registry.RUN_PASS_FACTOR)
    monkeypatch.setattr(_registry, "ENGINE_FRAMES_CALLS", _registry.FRAMES_CALLS)
    monkeypatch.setattr(_registry, "OPENCV_STREAM_SHARE", 1.0)
    old = _registry.direct_engine(problem)[0]
    # (512², 3×3: with both cores priced in, 2.4 M products, the old factors put the loops
    # first; on one core, below _taps.PARALLEL_WORK, they pick OpenCV too)
    assert old == ("opencv" if (side, taps) in ((2048, 11), (2048, 7), (128, 11), (512, 3)) else "loops")


def _gaussian(n: int, dtype) -> np.ndarray:
    g = np.exp(-0.5 * ((np.arange(n) - (n - 1) / 2) / (n / 6)) ** 2)
    return np.outer(g, g).astype(dtype)


@pytest.mark.parametrize("opencv", [True, False])
def test_separable_fused_loops_are_priced_by_their_own_constants(opencv, monkeypatch):
    """The fused row loops: ``sep_rows_*`` per output × tap and four bytes streamed per
    output and item size (x, y, the row buffer out and back), both shared by the cores;
    two where x and y fit in SEP_CACHED_BYTES together; past their 150 taps per axis,
    OpenCV's sepFilter2D at its own rate (or 1-D passes)."""
    monkeypatch.setattr(_opencv, "ENABLED", opencv)
    for side, streamed in ((1024, 4), (512, 2)):     # x and y: 8 and 2 MiB
        x = np.zeros((side, side), np.float32)
        terms = dict(REGISTRY["separable"].terms(Problem(make_spec(x, _gaussian(9, np.float32), mode="same")))[0])
        outputs, cores = x.size, float(cpu_count())
        assert terms["sep_rows_f4"] == pytest.approx(outputs * 18 / cores)
        assert terms["direct_stream"] == pytest.approx(outputs * streamed * 4 / cores)
        assert "opencv_f4" not in terms
    x = np.zeros((128, 128))
    terms = dict(REGISTRY["separable"].terms(Problem(make_spec(x, _gaussian(3, np.float64), mode="same")))[0])
    assert terms["sep_rows_f8"] == pytest.approx(x.size * 6) and terms["direct_stream"] == x.size * 2 * 8
    x = np.zeros((400, 400))
    wide = np.outer(np.ones(3), np.hanning(_sep_rows.MAX_TAPS + 3)[1:-1] + 0.5)   # 151 taps along the rows
    terms, _ = REGISTRY["separable"].terms(Problem(make_spec(x, wide, mode="same")))
    keys = dict(terms)
    if opencv and _opencv.available():
        assert "opencv_f8" in keys and "sep_rows_f8" not in keys
    else:
        assert "sep_rows_f8" not in keys and "direct_f8" in keys      # two 1-D passes


@pytest.mark.parametrize(("n", "taps", "dtype", "method"), [
    (512, 5, np.float32, "separable"), (1024, 5, np.float32, "separable"), (512, 5, np.float64, "separable"),
    (1024, 9, np.float64, "separable"), (2048, 3, np.float32, "direct"), (128, 5, np.float32, "separable"),
    (384, 5, np.float32, "separable"), (384, 5, np.float64, "separable"), (256, 3, np.float64, "separable"),
    (1024, 3, np.float32, "direct"), (1024, 3, np.float64, "direct"), (16, 3, np.float64, "direct"),
    (16, 5, np.float32, "direct")])
def test_auto_picks_the_fused_loops_where_they_are_faster(n, taps, dtype, method, monkeypatch):
    """With the built-in constants: Gaussians of 5 taps and more (0.6–0.9 of the direct sum's
    time here), and 3×3 float64 ones while x and y stay in cache (0.8–0.9); larger 3×3 ones
    by the one-pass direct loops (the fused loops took 1.1–1.5× their time from 768² on); tiny
    images, where the two tie, by the exact direct sum (SEP_EXTRA_CALL)."""
    monkeypatch.setattr(_registry, "constants", lambda: dict(_costs.DEFAULTS))
    x = np.zeros((n, n), dtype)
    assert str(ndconv.choose_method(x, _gaussian(taps, dtype), "same", "reflect")) == method
