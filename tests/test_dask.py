"""ndconv.dask: equal to the in-memory ndconv.convolve for every chunking, on threads and on a real cluster.

The grid runs on dask's synchronous scheduler (fast, and the same graph); a few
cases run on the threaded scheduler and on a 2-process LocalCluster, one of them
while a worker process dies mid-computation.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("dask")
pytest.importorskip("distributed")

import dask
import dask.array as da
from hypothesis import given
from hypothesis import strategies as st

import ndconv
import ndconv.dask
from conftest import ALIASES, BOUNDARIES, MODES, make_array, rng_for
from ndconv.testing import assert_conv_close

SPELLINGS = BOUNDARIES + tuple(sorted(ALIASES))


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def same_as_core(x: np.ndarray, chunks, k, *, correlate=False, scheduler=None, **kwargs) -> da.Array:
    """Assert the dask result equals ndconv.convolve/correlate on the whole array; return the dask result."""
    core = ndconv.correlate if correlate else ndconv.convolve
    engine = ndconv.dask.correlate if correlate else ndconv.dask.convolve
    y = engine(da.from_array(x, chunks=chunks), k, **kwargs)
    expected = core(x, k, **kwargs)
    actual = y.compute(scheduler=scheduler) if scheduler else y.compute()
    assert y.dtype == expected.dtype and actual.dtype == expected.dtype
    assert y.shape == expected.shape
    scale_x = np.append(np.ravel(x).astype(complex), complex(kwargs.get("fill_value", 0)))
    assert_conv_close(actual, expected, scale_x, k, dtype=expected.dtype)
    return y


# shape, chunks (size 1 and 2, smaller than the kernel, uneven), kernel shape
GRID = [
    ((11,), 1, (3,)),
    ((11,), 2, (5,)),
    ((11,), ((4, 1, 6),), (4,)),
    ((10,), 10, (3,)),
    ((9, 8), (2, 3), (3, 4)),
    ((9, 8), ((1, 5, 3), (4, 4)), (5, 2)),
    ((7, 6), 1, (2, 3)),
    ((5, 6, 4), (2, 3, 1), (3, 2, 3)),
]


@pytest.mark.parametrize("shape, chunks, kshape", GRID, ids=[f"{s}-{c}-{k}" for s, c, k in GRID])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_equals_core(shape, chunks, kshape, mode, boundary):
    rng = rng_for("grid", shape, chunks, kshape, mode, boundary)
    x, k = rng.standard_normal(shape), rng.standard_normal(kshape)
    same_as_core(x, chunks, k, mode=mode, boundary=boundary)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("stride, dilation", [(2, 1), (1, 2), (3, 2), ((2, 1), (1, 3))])
def test_stride_dilation_origin(mode, boundary, stride, dilation):
    rng = rng_for("sdo", mode, boundary, stride, dilation)
    x, k = rng.standard_normal((13, 10)), rng.standard_normal((3, 4))
    origin = (1, -1) if mode == "same" else 0
    same_as_core(x, (3, 2), k, mode=mode, boundary=boundary, stride=stride, dilation=dilation, origin=origin)
    same_as_core(x, (3, 2), k, correlate=True, mode=mode, boundary=boundary, stride=stride, dilation=dilation,
                 origin=origin)


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int64", "float16", "float32", "complex64", "complex128"])
@pytest.mark.parametrize("boundary", ["constant", "wrap", "symmetric"])
def test_dtypes(dtype, boundary):
    rng = rng_for("dtype", dtype, boundary)
    x, k = make_array(rng, (12, 7), dtype), make_array(rng, (3, 3), dtype)
    fill = 3 if np.dtype(dtype).kind in "biu" else 1.5
    same_as_core(x, (5, 2), k, mode="same", boundary=boundary, fill_value=fill)
    same_as_core(x, (5, 2), k, correlate=True, mode="full", boundary=boundary)


def test_integers_exact_with_large_values():
    x = np.full((9,), 2**40, dtype=np.int64)
    y = same_as_core(x, 2, np.array([3, -1, 7]), mode="full", boundary="reflect")
    assert y.dtype == np.int64


def test_uint64_above_int64_range_raises_like_core():
    x = np.array([1, 2, 2**63 + 5, 4], dtype=np.uint64)
    with pytest.raises(OverflowError, match="int64 range"):
        ndconv.convolve(x, [1, 1])
    with pytest.raises(OverflowError, match="int64 range"):
        ndconv.dask.convolve(da.from_array(x, chunks=2), [1, 1]).compute()


def test_aliases_and_fill_value():
    rng = rng_for("aliases")
    x, k = rng.standard_normal(17), rng.standard_normal(6)
    for spelling in SPELLINGS:
        same_as_core(x, 3, k, mode="same", boundary=spelling)
    same_as_core(x, 3, k, mode="full", boundary="fill", fill_value=-2.5)
    same_as_core(x, 3, k, mode="same", boundary="constant", fill_value=np.nan)


def test_kernel_longer_than_array_and_chunks():
    """Extension repeats (kernel 3× the array) and every chunk reads far beyond its neighbours."""
    rng = rng_for("long")
    x, k = rng.standard_normal(5), rng.standard_normal(16)
    for boundary in BOUNDARIES:
        for mode in ("full", "same"):
            same_as_core(x, 1, k, mode=mode, boundary=boundary)
            same_as_core(x, 2, k, mode=mode, boundary=boundary, dilation=2)


def test_large_kernel_uses_fft_inside_chunks():
    rng = rng_for("fft")
    x, k = rng.standard_normal((64, 64)), rng.standard_normal((21, 21))
    for method in ("auto", "fft", "overlap_add", "direct"):
        same_as_core(x, 16, k, mode="same", boundary="reflect", method=method)


def test_batch_axes_and_per_row_kernels():
    rng = rng_for("batch")
    x = rng.standard_normal((3, 10, 4))
    same_as_core(x, (2, 3, 4), rng.standard_normal(3), mode="same", boundary="wrap")           # last axis
    same_as_core(x, (2, 3, 1), rng.standard_normal(4), axes=1, mode="full", boundary="reflect")  # axis 1
    # one kernel per batch row (k.ndim == x.ndim, axes a subset), and broadcast of x's length-1 axis
    same_as_core(x, (2, 3, 4), rng.standard_normal((3, 4, 1)), axes=1, mode="same", boundary="edge")
    same_as_core(x[:1], (1, 3, 2), rng.standard_normal((3, 2, 1)), axes=1, mode="valid")
    same_as_core(x, (1, 4, 3), rng.standard_normal((1, 3, 2)), axes=(2, 1), boundary="symmetric", stride=2)


def test_output_chunks_follow_input():
    x = da.zeros((100, 60), chunks=(25, 20))
    k = np.ones((5, 3))
    assert ndconv.dask.convolve(x, k, mode="same").chunks == x.chunks
    assert ndconv.dask.convolve(x, k, mode="full").chunks == ((27, 25, 25, 27), (21, 20, 21))
    assert ndconv.dask.convolve(x, k, mode="valid").chunks == ((23, 25, 25, 23), (19, 20, 19))
    assert ndconv.dask.convolve(x, k, mode="same", stride=5).chunks == ((5, 5, 5, 5), (4, 4, 4))


def test_wrap_is_global_not_per_chunk():
    """dask-image's bug: wrap/reflect applied per chunk reads a chunk's own far edge."""
    x = np.arange(12.0)
    k = np.array([0.0, 0.0, 0.0, 0.0, 1.0])   # y[i] = x̃[i - 2]: the first outputs read the array's end
    y = ndconv.dask.convolve(da.from_array(x, chunks=4), k, mode="same", boundary="wrap").compute()
    np.testing.assert_array_equal(y, [10, 11, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    per_chunk = da.map_overlap(lambda b: ndconv.convolve(b, k, mode="same", boundary="wrap"),
                               da.from_array(x, chunks=4), depth=0, boundary="none").compute()
    assert not np.array_equal(per_chunk, y)   # what per-chunk handling would give
    y = ndconv.dask.convolve(da.from_array(x, chunks=4), k[::-1], mode="same", boundary="reflect").compute()
    np.testing.assert_array_equal(y, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 10, 9])


def test_threaded_scheduler():
    rng = rng_for("threads")
    x, k = rng.standard_normal((40, 30)), rng.standard_normal((7, 5))
    same_as_core(x, (8, 7), k, mode="same", boundary="reflect", scheduler="threads")
    same_as_core(x.astype(np.int64), (8, 7), np.ones((3, 3), np.int64), boundary="wrap", scheduler="threads")


def test_dask_kernel_is_computed_up_front():
    x = np.arange(20.0)
    k = da.from_array(np.array([1.0, -2.0, 1.0]), chunks=1)
    y = ndconv.dask.convolve(da.from_array(x, chunks=6), k, mode="same", boundary="edge")
    np.testing.assert_allclose(y.compute(), ndconv.convolve(x, k.compute(), mode="same", boundary="edge"))


def test_beyond_this_machines_memory(monkeypatch):
    """The core refuses a result larger than memory; the dask path never holds it whole."""
    import ndconv._errors
    import ndconv._spec

    x = np.arange(6000.0).reshape(60, 100)
    expected = ndconv.convolve(x, np.ones((3, 3)), mode="same", boundary="wrap", stride=(1, 2))
    graph = ndconv.dask.convolve(da.from_array(x, chunks=7), np.ones((3, 3)), mode="same", boundary="wrap",
                                 stride=(1, 2))
    for module in (ndconv._spec, ndconv._errors):   # wherever the core reads it
        if hasattr(module, "available_bytes"):
            monkeypatch.setattr(module, "available_bytes", lambda need=0: 10_000)
    with pytest.raises(ValueError, match="memory available"):
        ndconv.convolve(x, np.ones((3, 3)))
    y = ndconv.dask.convolve(da.from_array(x, chunks=7), np.ones((3, 3)), mode="same", boundary="wrap",
                             stride=(1, 2))
    assert y.chunks == graph.chunks
    with pytest.raises(ValueError, match="mode='valid' needs"):   # validation still complete
        ndconv.dask.convolve(da.from_array(x, chunks=7), np.ones((70, 3)), mode="valid")
    monkeypatch.undo()
    np.testing.assert_allclose(y.compute(), expected)


# ---------------------------------------------------------------------------- bad input

def _message(func, *args, **kwargs) -> tuple[type, str]:
    with pytest.raises((ValueError, TypeError)) as info:
        func(*args, **kwargs)
    return info.type, str(info.value)


@pytest.mark.parametrize("kwargs", [
    {"mode": "sam"}, {"boundary": "mirrored"}, {"method": "fast"}, {"stride": 0}, {"dilation": (1, 2, 3)},
    {"origin": 1}, {"mode": "same", "origin": 9}, {"axes": 5}, {"fill_value": "a"},
    {"mode": "valid", "k": np.ones((9, 2))}, {"k": np.ones((1, 2, 3, 4))}, {"k": np.ones((0, 2))},
    {"k": np.array([["a"]], dtype=object)}, {"k": np.ones(3, dtype=np.float128) if hasattr(np, "float128") else "x"},
], ids=lambda kw: ",".join(kw))
def test_errors_worded_like_core(kwargs):
    kwargs = dict(kwargs)
    k = kwargs.pop("k", np.ones((2, 2)))
    x = np.ones((8, 6))
    core = _message(ndconv.convolve, x, k, **kwargs)
    assert _message(ndconv.dask.convolve, da.from_array(x, chunks=3), k, **kwargs) == core


def test_kernel_larger_than_array_in_valid_mode():
    x = da.ones((4, 30), chunks=2)
    with pytest.raises(ValueError, match=r"mode='valid' needs the dilated kernel to fit .* > input length 4 on axis 0"):
        ndconv.dask.convolve(x, np.ones((5, 3)), mode="valid")
    with pytest.raises(ValueError, match="kernel length 5"):
        ndconv.dask.convolve(x, np.ones((3, 3)), mode="valid", dilation=(2, 1))


def test_not_a_dask_array():
    with pytest.raises(TypeError, match=r"x must be a dask array for ndconv\.dask, got ndarray; use ndconv\.convolve"):
        ndconv.dask.convolve(np.ones(5), [1, 1])
    with pytest.raises(TypeError, match="got list"):
        ndconv.dask.correlate([1, 2, 3], [1, 1])


def test_object_dtype():
    x = da.from_array(np.array([1, 2, 3], dtype=object), chunks=2)
    with pytest.raises(TypeError, match=r"x must be an array of bool, integer, .* got ndarray of dtype object"):
        ndconv.dask.convolve(x, [1, 1])
    with pytest.raises(TypeError, match="x must be an array of"):
        ndconv.dask.convolve(da.from_array(np.array(["ab", "c"]), chunks=1), [1, 1])


def test_unknown_chunk_sizes():
    x = da.from_array(np.arange(10.0), chunks=3)
    unknown = x[x > 4]
    with pytest.raises(ValueError, match=r"x must have known chunk sizes, got shape \(nan,\).*compute_chunk_sizes"):
        ndconv.dask.convolve(unknown, [1.0, 1.0])
    y = ndconv.dask.convolve(unknown.compute_chunk_sizes(), [1.0, 1.0])
    np.testing.assert_array_equal(y.compute(), ndconv.convolve(np.arange(5.0, 10.0), [1.0, 1.0]))


def test_import_error_names_the_extra():
    code = "import sys; sys.modules['dask'] = None; sys.modules['dask.array'] = None; import ndconv.dask"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0
    assert 'pip install "ndconv[dask]"' in proc.stderr


# ---------------------------------------------------------------------------- hypothesis

@st.composite
def problems(draw):
    ndim = draw(st.integers(1, 3))
    shape = draw(st.lists(st.integers(1, {1: 16, 2: 8, 3: 5}[ndim]), min_size=ndim, max_size=ndim))
    chunks = tuple(tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=n)))
                   for n in shape)
    chunks = tuple(_fit(c, n) for c, n in zip(chunks, shape))
    mode = draw(st.sampled_from(MODES))
    dilation = draw(st.integers(1, 2))
    k = [draw(st.integers(1, 5 if mode != "valid" else max(1, min(5, (n - 1) // dilation + 1)))) for n in shape]
    kw = {"mode": mode, "boundary": draw(st.sampled_from(SPELLINGS)), "dilation": dilation,
          "stride": draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))}
    if mode == "same":
        kds = [dilation * (kk - 1) + 1 for kk in k]
        kw["origin"] = [draw(st.integers(-((kd - 1) // 2), kd - 1 - (kd - 1) // 2)) for kd in kds]
    dtype = draw(st.sampled_from(["int16", "float32", "float64", "complex128"]))
    return tuple(shape), chunks, tuple(k), dtype, draw(st.booleans()), kw


def _fit(sizes: tuple[int, ...], n: int) -> tuple[int, ...]:
    """Chunk sizes summing to n, from a drawn list (repeated, then cut)."""
    out, total, i = [], 0, 0
    while total < n:
        size = min(sizes[i % len(sizes)], n - total)
        out.append(size)
        total += size
        i += 1
    return tuple(out)


@given(problems())
def test_hypothesis_equals_core(problem):
    shape, chunks, kshape, dtype, correlate, kw = problem
    rng = rng_for("hyp", problem)
    same_as_core(make_array(rng, shape, dtype), chunks, make_array(rng, kshape, dtype), correlate=correlate, **kw)


# ---------------------------------------------------------------------------- a real cluster

@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])   # the workers cannot import this test file
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0",
                                  memory_limit="1GiB") as cluster, distributed.Client(cluster) as client:
        yield client
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_cluster_equals_core(client):
    rng = rng_for("cluster")
    x, k = rng.standard_normal((60, 50)), rng.standard_normal((9, 4))
    for boundary in ("wrap", "reflect", "constant"):
        y = ndconv.dask.convolve(da.from_array(x, chunks=(16, 7)), k, mode="same", boundary=boundary, stride=(1, 2))
        np.testing.assert_allclose(client.compute(y).result(),
                                   ndconv.convolve(x, k, mode="same", boundary=boundary, stride=(1, 2)),
                                   rtol=1e-12, atol=1e-12)
    xi = rng.integers(-9, 9, (30, 30))
    y = ndconv.dask.correlate(da.from_array(xi, chunks=7), np.arange(6).reshape(2, 3), boundary="symmetric")
    expected = ndconv.correlate(xi, np.arange(6).reshape(2, 3), boundary="symmetric")
    np.testing.assert_array_equal(client.compute(y).result(), expected)


def _die_once(block: np.ndarray, marker: str) -> np.ndarray:
    """Kill this worker process the first time any task runs (the marker file says it happened)."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return block
    os.close(fd)
    os._exit(1)


def test_worker_killed_mid_computation(client, tmp_path):
    """A worker process dies while computing; the scheduler reruns its tasks on a (restarted) worker."""
    rng = rng_for("kill")
    x, k = rng.standard_normal((48, 40)), rng.standard_normal((5, 5))
    marker = str(tmp_path / "died")
    source = da.from_array(x, chunks=(12, 10)).map_blocks(_die_once, marker, meta=np.empty((0, 0)))
    y = ndconv.dask.convolve(source, k, mode="same", boundary="wrap")
    result = client.compute(y).result(timeout=60)
    assert os.path.exists(marker)   # a worker did die
    np.testing.assert_allclose(result, ndconv.convolve(x, k, mode="same", boundary="wrap"), rtol=1e-12, atol=1e-12)


def test_tasks_run_on_one_core_when_dask_spreads_the_chunks():
    """Several chunks: each task runs the core in its own thread (dask's threads keep
    the cores busy); a single chunk keeps the core's own parallelism."""
    from ndconv.dask._task import ChunkPlan

    k = np.ones((3, 3))
    many = ndconv.dask.convolve(da.zeros((40, 40), chunks=20), k, mode="same")
    one = ndconv.dask.convolve(da.zeros((40, 40), chunks=40), k, mode="same")

    def plans(y):
        return [v[1] for v in dict(y.__dask_graph__()).values()
                if isinstance(v, tuple) and len(v) > 1 and isinstance(v[1], ChunkPlan)]

    assert plans(many) and all(p.one_core and p.crop is None for p in plans(many))
    assert [p.one_core for p in plans(one)] == [False]
