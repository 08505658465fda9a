"""Thread safety: 8 threads calling convolve/correlate and ConvOperator at once
get the same bits as serial calls of the same method, and the shared state
(plan cache, cost constants, thread pools, OpenCV) survives the contention."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from collections.abc import Callable

import numpy as np
import pytest

import ndconv
from conftest import rng_for
from ndconv.methods import _costs, _opencv, planner
from ndconv.methods._taps import shares_cores
from ndconv.testing import assert_conv_close

THREADS = 8


def _run_concurrently(tasks: list[Callable[[], object]], rounds: int = 2) -> list[list[object]]:
    """Each of ``THREADS`` threads runs every task ``rounds`` times in its own
    shuffled order, all released together; returns results[task] (every run)."""
    results: list[list[object]] = [[] for _ in tasks]
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)
    lock = threading.Lock()

    def worker(seed: int) -> None:
        order = [i for i in range(len(tasks)) for _ in range(rounds)]
        random.Random(seed).shuffle(order)
        try:
            barrier.wait()
            for i in order:
                value = tasks[i]()
                with lock:
                    results[i].append(value)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def _convolve_cases():
    rng = rng_for("threads")
    image = rng.standard_normal((384, 384))
    assert shares_cores(image.size * 49, image.dtype)  # the direct loops split rows over the cores
    nan_image = image.copy()
    nan_image[100, 50] = np.nan
    signal = rng.standard_normal(1 << 15)
    cases = [
        ("direct-parallel", ndconv.convolve, image, rng.standard_normal((7, 7)),
         {"mode": "same", "boundary": "reflect"}),
        ("opencv-f32", ndconv.convolve, image.astype(np.float32), rng.standard_normal((5, 5)).astype(np.float32),
         {"mode": "same"}),
        ("fft", ndconv.convolve, image, rng.standard_normal((31, 31)), {"mode": "full", "boundary": "wrap"}),
        ("fft-nan", ndconv.convolve, nan_image, rng.standard_normal((15, 15)), {"mode": "same"}),
        ("overlap_add", ndconv.convolve, signal, rng.standard_normal(300), {"mode": "valid"}),
        ("separable", ndconv.correlate, image, np.outer(rng.standard_normal(9), rng.standard_normal(9)),
         {"mode": "same", "boundary": "edge"}),
        ("complex-correlate", ndconv.correlate, image.astype(np.complex128) * (1 + 1j),
         rng.standard_normal((4, 4)) + 1j, {"mode": "valid", "stride": 2}),
        ("integers", ndconv.convolve, rng.integers(-100, 100, (256, 256)), rng.integers(-5, 5, (5, 5)),
         {"mode": "same", "dilation": 2}),
        ("batch", ndconv.correlate, rng.standard_normal((6, 64, 64)), rng.standard_normal((3, 3)),
         {"mode": "same", "boundary": "symmetric"}),
    ]
    methods = {"direct-parallel": "direct", "opencv-f32": "direct", "fft": "fft", "fft-nan": "fft",
               "overlap_add": "overlap_add", "separable": "separable"}
    return [(name, func, x, k, kw, methods.get(name, "auto")) for name, func, x, k, kw in cases]


@pytest.mark.parametrize("opencv", [True, False], ids=["opencv", "no-opencv"])
def test_concurrent_convolve_matches_serial_bits(opencv, monkeypatch):
    monkeypatch.setattr(_opencv, "ENABLED", opencv)
    cases = _convolve_cases()
    tasks = [lambda f=func, x=x, k=k, kw=kw, m=method: f(x, k, method=m, **kw)
             for _, func, x, k, kw, method in cases]
    serial = [task() for task in tasks]
    results = _run_concurrently(tasks)
    for (name, *_), expected, got in zip(cases, serial, results):
        assert len(got) == 2 * THREADS
        for y in got:
            assert y.dtype == expected.dtype, name
            np.testing.assert_array_equal(y, expected, err_msg=name)


def test_concurrent_operator_forward_adjoint_solve():
    rng = rng_for("threads-operator")
    k = rng.standard_normal((5, 5))
    shape = (96, 96)
    ops = {
        "wrap": ndconv.ConvOperator(k, shape, boundary="wrap"),                  # solve by FFT
        "reflect": ndconv.ConvOperator(k, shape, boundary="reflect", stride=2),  # iterative solve
        "fft": ndconv.ConvOperator(rng.standard_normal((21, 21)), shape, mode="full", method="fft"),
    }
    x = rng.standard_normal(shape)
    tasks = []
    for name, op in ops.items():
        y = op(x)
        tasks += [lambda op=op: op(x), lambda op=op, y=y: op.H(y)]
        if name != "fft":
            tasks.append(lambda op=op, y=y: op.solve(y, reg=1e-3, maxiter=30))
    serial = [task() for task in tasks]
    results = _run_concurrently(tasks)
    for expected, got in zip(serial, results):
        for value in got:
            np.testing.assert_array_equal(value, expected)


def test_concurrent_strided_adjoints_of_one_operator_keep_their_own_buffers():
    """A strided adjoint spreads y onto the stride grid in a buffer its thread keeps: threads
    adjoining different y through one operator each get their own y's answer."""
    rng = rng_for("threads-strided-adjoint")
    op = ndconv.ConvOperator(rng.standard_normal((5, 5)), (128, 128), boundary="reflect", stride=(2, 3))
    ys = [rng.standard_normal(op.output_shape) for _ in range(2 * THREADS)]
    tasks = [lambda y=y: op.H(y) for y in ys]
    serial = [task() for task in tasks]
    results = _run_concurrently(tasks, rounds=4)
    for expected, got in zip(serial, results):
        for value in got:
            np.testing.assert_array_equal(value, expected)


def test_plan_cache_under_contention(monkeypatch):
    """A tiny plan cache evicted by 8 threads planning many distinct problems:
    no KeyError from a plan dropped between look-up and use, same choices."""
    monkeypatch.setattr(planner, "PLAN_CACHE_SIZE", 2)
    planner._plans.clear()
    rng = rng_for("plan-cache")
    problems = [(rng.standard_normal(n), rng.standard_normal(m)) for n in (16, 200, 3000, 40_000)
                for m in (3, 17, 260)]
    tasks = [lambda x=x, k=k: (ndconv.choose_method(x, k), ndconv.convolve(x, k)) for x, k in problems]
    serial = [task() for task in tasks]
    results = _run_concurrently(tasks, rounds=6)
    for (choice, y), got in zip(serial, results):
        for other_choice, other_y in got:
            assert other_choice == choice
            np.testing.assert_array_equal(other_y, y)
    planner._plans.clear()


def test_cost_constants_reloaded_under_contention(tmp_path, monkeypatch):
    """Threads re-reading the cost file (cache cleared, as after ``tune``) while
    others run 'auto': every call succeeds with a consistent set of constants."""
    monkeypatch.setenv("NDCONV_CACHE_DIR", str(tmp_path))
    _costs.save(dict(_costs.DEFAULTS), {"test": True})
    rng = rng_for("constants")
    x, k = rng.standard_normal((64, 64)), rng.standard_normal((5, 5))
    expected = ndconv.convolve(x, k, "same")

    def reload():
        _costs.constants.cache_clear()
        values = _costs.constants()
        assert values == _costs.DEFAULTS
        return True

    tasks = [reload, lambda: ndconv.convolve(x, k, "same")] * 4
    try:
        results = _run_concurrently(tasks, rounds=5)
    finally:
        _costs.constants.cache_clear()
    for got in results[1::2]:
        for y in got:
            np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)


_FIRST_CALLS = """
import sys, threading
sys.setswitchinterval(1e-6)
from ndconv.methods import _opencv
barrier, errors = threading.Barrier(8), []
def first_call():
    barrier.wait()
    try:
        _opencv.available()
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=first_call) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(errors)
sys.exit(1 if errors else 0)
"""


def test_regression_concurrent_first_opencv_import():
    """Regression (found by this file): the first calls in a fresh process, from
    several threads at once, raised ValueError('cv2.__spec__ is None') — one
    thread's find_spec saw cv2 half imported by another.  Fixed by a lock in
    ``_opencv._cv2``.  The race is timing-dependent: four fresh processes."""
    pytest.importorskip("cv2")
    runs = [subprocess.Popen([sys.executable, "-c", _FIRST_CALLS], stdout=subprocess.PIPE, text=True)
            for _ in range(4)]
    outputs = [run.communicate()[0] for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, outputs


def test_one_core_runs_everything_in_the_calling_thread(monkeypatch):
    """Inside ``one_core`` (ndconv.dask tasks) a call spreads over no other thread:
    the loops stay in this thread, OpenCV (a process-wide pool) is not used, the FFT
    has one worker, plans are kept apart from the parallel ones, and the sums are the same."""
    from ndconv._memory import cpu_count, machine_cores, on_one_core, one_core
    from ndconv.methods import _numba_kernels

    x = np.random.default_rng(0).standard_normal((700, 700)).astype(np.float32)   # shared by the cores outside
    k = np.random.default_rng(1).standard_normal((5, 5)).astype(np.float32)
    outside = ndconv.convolve(x, k, mode="same", boundary="reflect", method="direct")
    with one_core():
        assert on_one_core() and cpu_count() == 1 and not _opencv.available()
        monkeypatch.setattr(_numba_kernels, "_threads", lambda: pytest.fail("the loops left the thread"))
        inside = ndconv.convolve(x, k, mode="same", boundary="reflect", method="direct")
        fft_inside = ndconv.convolve(x, k, mode="same", method="fft")
        with one_core():
            pass
        assert on_one_core()   # nested use restores, does not clear
    assert not on_one_core() and cpu_count() == machine_cores()
    np.testing.assert_allclose(inside, outside, rtol=1e-5, atol=1e-5)
    assert_conv_close(fft_inside, ndconv.convolve(x, k, mode="same", method="fft"), x, k)


def test_one_core_is_per_thread():
    from ndconv._memory import on_one_core, one_core

    seen = []
    with one_core():
        worker = threading.Thread(target=lambda: seen.append(on_one_core()))
        worker.start()
        worker.join()
    assert seen == [False]


def _ranges_run(jobs: int, ratio: float, monkeypatch, job=lambda: None, parallel=True):
    """The job ranges ``run_jobs`` hands out (with an Overlap of ``ratio``), on two cores."""
    from ndconv.methods import _numba_kernels

    monkeypatch.setattr(_numba_kernels, "cpu_count", lambda: 2)
    ranges, order = [], []
    lock = threading.Lock()

    def loop(lo, hi):
        with lock:
            ranges.append((lo, hi))
            order.append(f"loop {lo}")

    def first_job():
        order.append("job")
        job()

    first = _numba_kernels.Overlap(first_job, ratio)
    _numba_kernels.run_jobs(loop, (), jobs, parallel=parallel, first=first)
    return sorted(ranges), order, first.ratio


@pytest.mark.parametrize("ratio, head", [(0.0, 50), (0.5, 25), (0.2, 40), (5.0, 12)])
def test_overlap_shortens_this_threads_range(ratio, head, monkeypatch):
    """With work of its own (the border frames), the calling thread takes fewer jobs:
    (1 − f)/2 of them on two cores, at least OVERLAP_KEEP of its equal share; every job
    runs exactly once; the job runs before this thread's range."""
    ranges, order, _ = _ranges_run(100, ratio, monkeypatch)
    assert ranges[0] == (0, head) and ranges[-1][1] == 100
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    assert order.index("job") < order.index("loop 0")


def test_overlap_ratio_follows_the_measured_times(monkeypatch):
    """The kept ratio moves halfway towards the job's time over the loop's (clipped to 1:
    a first call's job includes compiling)."""
    import time

    _, _, ratio = _ranges_run(100, 0.0, monkeypatch, job=lambda: time.sleep(0.05))
    assert ratio == pytest.approx(0.5)          # a slow job, an instant loop: measured 1 (clipped)
    _, order, ratio = _ranges_run(100, 0.4, monkeypatch, parallel=False)
    assert ratio == 0.4 and order == ["job", "loop 0"]   # one core: the job first, nothing measured


def test_overlap_waits_for_the_other_ranges_when_the_job_fails(monkeypatch):
    from ndconv.methods import _numba_kernels

    monkeypatch.setattr(_numba_kernels, "cpu_count", lambda: 2)
    done = []

    def loop(lo, hi):
        if lo > 0:
            import time
            time.sleep(0.05)
            done.append((lo, hi))

    def failing():
        raise RuntimeError("frames failed")

    with pytest.raises(RuntimeError, match="frames failed"):
        _numba_kernels.run_jobs(loop, (), 10, parallel=True, first=_numba_kernels.Overlap(failing))
    assert done == [(5, 10)]


@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.75, 1.0])
def test_results_do_not_depend_on_how_the_interior_is_shared(ratio, monkeypatch):
    """Whatever share of the interior the calling thread keeps beside the border frames,
    the result is bit-identical to one core's (2-D and 3-D, above SMALL_INPUT)."""
    from ndconv._memory import one_core
    from ndconv.methods import direct

    monkeypatch.setattr(_opencv, "ENABLED", False)
    rng = rng_for("overlap", ratio)
    for shape, kshape in (((700, 520), (5, 5)), ((70, 66, 61), (3, 4, 5))):
        x = rng.standard_normal(shape).astype(np.float32)
        k = rng.standard_normal(kshape).astype(np.float32)
        with one_core():
            want = ndconv.convolve(x, k, "same", "reflect", method="direct")
        real_layout = direct._layout

        def layout(*args):
            found = real_layout(*args)
            found.overlap[0] = ratio
            return found

        monkeypatch.setattr(direct, "_layout", layout)
        got = ndconv.convolve(x, k, "same", "reflect", method="direct")
        monkeypatch.setattr(direct, "_layout", real_layout)
        np.testing.assert_array_equal(got, want)
