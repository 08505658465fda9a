"""The one-pass row loops (2 to 9 taps, and 10 to 25 taps in runs): same sums as the
definition, NaN stays local, and the module is what tools/make_unrolled.py generates."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import ndconv
from ndconv.methods import _numba_kernels, _opencv, _taps
from ndconv.methods._taps import ONE_PASS_RUN_TAPS, ONE_PASS_TAPS, RUN_PASS_COLS
from ndconv.methods._unrolled import GRID
from ndconv.testing import assert_conv_close, reference_convolve

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def loops_only(monkeypatch):
    monkeypatch.setattr(_opencv, "ENABLED", False)   # the compiled loops, not OpenCV's filter2D


@pytest.mark.parametrize("taps", list(ONE_PASS_TAPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128, np.int64])
def test_one_pass_loops_equal_the_definition(taps, dtype):
    rng = np.random.default_rng(taps)
    x = (rng.standard_normal(3000) * 10).astype(dtype)
    k = (rng.standard_normal(taps) * 3).astype(dtype)
    for mode in ("full", "same", "valid"):
        got = ndconv.convolve(x, k, mode, "reflect", method="direct")
        assert_conv_close(got, reference_convolve(x, k, mode, "reflect"), x, k)


@pytest.mark.parametrize("shape", [(3, 3), (1, 9), (2, 4), (3, 2)])
def test_one_pass_loops_in_2d_with_parallel_rows(shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal((900, 900)).astype(np.float32)
    k = rng.standard_normal(shape).astype(np.float32)
    assert _taps.shares_cores(x.size * k.size, x.dtype)            # both cores take rows
    for boundary in ("constant", "wrap", "symmetric"):
        got = ndconv.convolve(x, k, "same", boundary, method="direct")
        assert_conv_close(got, reference_convolve(x, k, "same", boundary), x, k)


def test_one_pass_loops_keep_nan_local():
    x = np.arange(40.0)
    x[17] = np.nan
    y = ndconv.convolve(x, np.ones(5), "same", method="direct")
    assert np.isnan(y[15:20]).all() and not np.isnan(np.delete(y, range(15, 20))).any()


def test_generated_module_is_up_to_date(tmp_path):
    spec = importlib.util.spec_from_file_location("make_unrolled", ROOT / "tools" / "make_unrolled.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.TARGET = tmp_path / "_unrolled.py"
    module.main()
    committed = (ROOT / "src" / "ndconv" / "methods" / "_unrolled.py").read_text(encoding="utf-8")
    assert module.TARGET.read_text(encoding="utf-8") == committed


def _loops_used(monkeypatch) -> list:
    """The loops the calls run, in order, except those of the border frames (which run
    inside the interior's call, :func:`ndconv.methods._numba_kernels.run_jobs`): the
    interior's is then the last."""
    used, depth = [], [0]
    real = _numba_kernels.run_jobs

    def run_jobs(loop, *args, **kwargs):
        if depth[0] == 0:
            used.append(loop)
        depth[0] += 1
        try:
            return real(loop, *args, **kwargs)
        finally:
            depth[0] -= 1

    monkeypatch.setattr(_numba_kernels, "run_jobs", run_jobs)
    return used


@pytest.mark.parametrize("shape", sorted(GRID))
def test_every_run_loop_equals_the_definition(shape, monkeypatch):
    """Each ``_grid_RxC`` loop (R runs of C consecutive taps) is the one that sums the interior
    (the last call; the columns beside it are summed transposed, by the loop of the
    transposed kernel), and sums right."""
    used = _loops_used(monkeypatch)
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    x = rng.standard_normal((23, 41)).astype(np.float64)
    k = rng.standard_normal(shape if shape[0] > 1 else shape[1:])
    x_in = x if shape[0] > 1 else x[0]
    got = ndconv.convolve(x_in, k, "same", "reflect", method="direct")
    assert_conv_close(got, reference_convolve(x_in, k, "same", "reflect"), x_in, k)
    assert used and used[-1].__name__ == f"_grid_{shape[0]}x{shape[1]}"
    if shape[0] == 1:   # 1-D: one padded box
        assert all(loop is used[-1] for loop in used)


@pytest.mark.parametrize("boundary", ["constant", "reflect", "symmetric", "wrap", "edge"])
@pytest.mark.parametrize("kshape", [(5, 5), (3, 7), (2, 5), (5, 1)])
def test_large_images_read_in_place_with_every_boundary(boundary, kshape):
    """Above SMALL_INPUT the loops read the bulk of x in place and extend only the border
    boxes (Sampled.window): every rule, a non-zero fill, both cores."""
    rng = np.random.default_rng(len(boundary))
    x = rng.standard_normal((600, 530)).astype(np.float32)
    k = rng.standard_normal(kshape).astype(np.float32)
    fill = 2.5 if boundary == "constant" else 0
    for mode in ("same", "full", "valid"):
        got = ndconv.convolve(x, k, mode, boundary, fill_value=fill, method="direct")
        assert_conv_close(got, reference_convolve(x, k, mode, boundary, fill_value=fill), x, k)


def test_large_images_keep_nan_local_at_the_border():
    x = np.zeros((600, 600))
    x[0, 300] = np.nan
    y = ndconv.convolve(x, np.ones((5, 5)), "same", "reflect", method="direct")
    bad = np.argwhere(np.isnan(y))
    assert bad[:, 0].max() <= 2 and 298 <= bad[:, 1].min() and bad[:, 1].max() <= 302   # reflected, still local


@pytest.mark.parametrize("offsets, run", [([0, 1, 2, 10, 11, 12], 3), ([0, 1, 2, 3], 4), ([0, 2, 4], 1),
                                          ([0, 1, 5, 6, 7], 1), ([0, 1, 2, 5, 6, 8], 1), ([7], 1)])
def test_runs_of_consecutive_taps(offsets, run):
    assert _taps.runs(np.array(offsets)) == run
    assert _taps.runs(np.array(offsets, dtype=np.int32)) == run   # remembered per dtype and values
    assert _taps.runs(np.array(offsets)) == run


@pytest.mark.parametrize("cols", list(RUN_PASS_COLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_every_run_pass_loop_equals_the_definition(cols, dtype, monkeypatch):
    """Each ``_runs_C`` loop (one pass per run of C consecutive taps, for kernels of more
    than ONE_PASS_RUN_TAPS taps) sums the interior, and sums right — exactly for integers."""
    used = _loops_used(monkeypatch)
    rows = ONE_PASS_RUN_TAPS // cols + 1
    rng = np.random.default_rng(cols)
    x = (rng.standard_normal((rows + 30, cols + 40)) * 10).astype(dtype)
    k = (rng.standard_normal((rows, cols)) * 3).astype(dtype)
    for mode, boundary in (("same", "reflect"), ("full", "constant"), ("valid", "constant")):
        used.clear()
        got = ndconv.convolve(x, k, mode, boundary, method="direct")
        want = reference_convolve(x, k, mode, boundary)
        if dtype == np.int64:
            np.testing.assert_array_equal(got, want)
        else:
            assert_conv_close(got, want, x, k)
        assert used[-1].__name__ == f"_runs_{cols}"


@pytest.mark.parametrize("kshape, dilation, dtype, loop", [
    ((7, 7), 1, np.float64, "_runs_7"), ((3, 3, 9), 1, np.float32, "_runs_9"),
    ((13, 2), 1, np.float64, "_correlate_rows"),          # runs of two: four taps per pass
    ((2, 31), 1, np.float64, "_correlate_rows"),          # runs longer than 25
    ((7, 7), (1, 2), np.float64, "_correlate_rows"),      # a dilated last axis: no runs
    ((7, 7), 1, np.complex128, "_correlate_rows"),        # complex samples
    ((64,), 1, np.float64, "_correlate_rows"),            # one long 1-D run
])
def test_run_passes_only_for_runs_of_three_to_25_real_taps(kshape, dilation, dtype, loop, monkeypatch):
    """Where the row loops sum one run per pass (the interior, the last loop called), and
    that the cost model's ``_taps.run_passes`` says the same (it prices those loops with
    RUN_PASS_FACTOR)."""
    used = _loops_used(monkeypatch)
    rng = np.random.default_rng(len(kshape))
    x = rng.standard_normal(tuple(s + 20 for s in kshape)).astype(dtype)
    k = rng.standard_normal(kshape).astype(dtype)
    got = ndconv.convolve(x, k, "same", "reflect", dilation=dilation, method="direct")
    assert_conv_close(got, reference_convolve(x, k, "same", "reflect", dilation=dilation), x, k)
    assert used[-1].__name__ == loop    # the interior (border columns run transposed, by their own rule)
    dilations = (dilation,) * len(kshape) if isinstance(dilation, int) else dilation
    priced = _taps.run_passes(kshape, dilations, 1, np.dtype(dtype).kind == "c")
    assert priced == (loop != "_correlate_rows")
    note = ndconv.choose_method(x, k, "same", "reflect", dilation=dilation).report()
    assert ("one pass per kernel row" in note) == priced
    assert not _taps.run_passes(kshape, dilations, 2)   # strided: four taps per pass


def test_run_passes_keep_nan_local():
    x = np.zeros((60, 60))
    x[30, 20] = np.nan
    x[5, 50] = np.inf
    k = np.arange(1.0, 50.0).reshape(7, 7)
    y = ndconv.convolve(x, k, "same", method="direct")
    want = reference_convolve(x, k, "same")
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(want))
    assert np.isnan(y).sum() == 49


def test_dilated_rows_do_not_use_the_run_loops():
    assert not _taps.one_pass((5, 5), (1, 2), 1) and _taps.one_pass((5, 5), (2, 1), 1)
    assert not _taps.one_pass((5, 5), (1, 1), 2) and not _taps.one_pass((6, 5), (1, 1), 1)


@pytest.mark.parametrize("boundary", ["constant", "reflect", "symmetric", "wrap", "edge"])
@pytest.mark.parametrize("options", [dict(stride=2), dict(dilation=(2, 3)), dict(origin=(1, -1)),
                                     dict(stride=(1, 3), dilation=2, origin=(0, 1))])
def test_large_images_read_in_place_with_stride_dilation_origin_batch(boundary, options):
    """The border boxes' windows (Sampled.window) under stride, dilation, origin and a
    batch axis, on an input above SMALL_INPUT: equal to the definition."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 300, 450))
    k = rng.standard_normal((3, 4))
    fill = -1.5 if boundary == "constant" else 0
    for mode in ("same", "full", "valid") if "origin" not in options else ("same",):
        got = ndconv.convolve(x, k, mode, boundary, fill_value=fill, axes=(1, 2), method="direct", **options)
        want = reference_convolve(x, k, mode, boundary, fill_value=fill, axes=(1, 2), **options)
        assert_conv_close(got, want, x, k)


def test_large_images_with_per_row_kernels_and_complex_values():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 400, 400)) + 1j * rng.standard_normal((2, 400, 400))
    k = rng.standard_normal((2, 3, 3)) + 0j
    got = ndconv.convolve(x, k, "same", "symmetric", method="direct")
    assert_conv_close(got, reference_convolve(x, k, "same", "symmetric"), x, k)


@pytest.mark.parametrize("boundary", ["reflect", "wrap", "constant"])
def test_large_volumes_peel_their_border_slabs(boundary):
    """3-D above SMALL_INPUT: six border slabs around the interior, each gathered by the rule."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((70, 66, 61)).astype(np.float32)
    k = rng.standard_normal((3, 4, 5)).astype(np.float32)
    for mode in ("same", "full"):
        got = ndconv.convolve(x, k, mode, boundary, fill_value=0.5 if boundary == "constant" else 0,
                              method="direct")
        want = reference_convolve(x, k, mode, boundary, fill_value=0.5 if boundary == "constant" else 0)
        assert_conv_close(got, want, x, k)


def test_boxes_partition_the_outputs():
    """The interior and the 2·nd border slabs cover every output exactly once."""
    from ndconv._spec import make_spec
    from ndconv.methods import Problem, direct

    x = np.zeros((70, 66, 61), np.float32)
    sampled = Problem(make_spec(x, np.ones((3, 4, 5), np.float32), mode="full", boundary="reflect")).unextended
    boxes = list(direct._boxes(sampled))
    assert len(boxes) == 7 and [all(inside for _, _, inside in box) for box in boxes].count(True) == 1
    hits = np.zeros(sampled.counts, int)
    for box in boxes:
        hits[tuple(slice(a, b) for a, b, _ in box)] += 1
    assert (hits == 1).all()


def test_complex_samples_run_the_run_loops_four_taps_at_a_time(monkeypatch):
    """The ``_grid`` loops are for real samples (complex ones ran 1.3–2.4× slower in them);
    complex 5×5 kernels take the four-taps loop, priced without the one-pass factor."""
    used = []
    real = _numba_kernels.run_jobs
    monkeypatch.setattr(_numba_kernels, "run_jobs", lambda loop, *a, **kw: used.append(loop) or real(loop, *a, **kw))
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((23, 41)) + 1j * rng.standard_normal((23, 41))).astype(np.complex64)
    k = (rng.standard_normal((5, 5)) + 1j * rng.standard_normal((5, 5))).astype(np.complex64)
    got = ndconv.convolve(x, k, "same", "reflect", method="direct")
    assert_conv_close(got, reference_convolve(x, k, "same", "reflect"), x, k)
    assert used and all(loop.__name__ == "_correlate_rows" for loop in used)
    assert not _taps.one_pass((5, 5), (1, 1), 1, complex_=True) and _taps.one_pass((3, 3), (1, 1), 1, complex_=True)
    assert "one pass" not in ndconv.choose_method(x, k, "same", "reflect").report()
