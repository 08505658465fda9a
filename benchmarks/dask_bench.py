"""ndconv.dask against the in-memory ndconv.convolve on one large image (threaded scheduler).

``python benchmarks/dask_bench.py`` prints the markdown section; ``render()`` returns it.
Case: an 8192×8192 float32 image in NumPy memory, 'same' convolution with reflect
boundary, 5×5 and 31×31 kernels.  Contenders: ``ndconv.convolve`` on the array, and
``ndconv.dask.convolve`` on ``da.from_array(x, chunks=1024)`` (wrapped once, outside the
timing) computed to a NumPy array with dask's threaded scheduler (graph construction
included).  Times are
medians of interleaved runs (:func:`ndconv.bench.time_interleaved`); the target is
dask / in-memory ≤ 1.3.  A third contender is what ``da.store`` costs whatever the
tasks compute: storing the input array itself, chunk by chunk, into the same target.
A fourth is what dask's scheduling costs whatever the tasks compute: 64 tasks on the
same chunks that each return one sample.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
from dask.array.core import concatenate3

import ndconv
import ndconv.dask
from ndconv.bench import time_interleaved

SIZE = 8192
CHUNK = 1024
KERNELS = (5, 31)
REPEAT = 5
BUDGET = 3.0  # seconds per contender and case, once it has its minimum samples


def _case(x: np.ndarray, k: np.ndarray) -> dict[str, float]:
    # the user's data is a dask array already: wrap it once, outside the timing (name=False:
    # dask would otherwise hash the 256 MB array, 0.35 s, to name it)
    dx = da.from_array(x, chunks=CHUNK, name=False)
    out = np.empty_like(x)   # an existing array (as a Zarr store would be): no fresh 256 MB result to fault in

    def store():
        result = ndconv.dask.convolve(dx, k, mode="same", boundary="reflect")
        da.store(result, out, lock=False, scheduler="threads")

    # what compute() pays whatever the tasks do: dask gathers the finished chunks into one new
    # 256 MB array (concatenate3), a pass the in-memory call does not make
    ready = [[np.ascontiguousarray(x[i:i + CHUNK, j:j + CHUNK]) for j in range(0, x.shape[1], CHUNK)]
             for i in range(0, x.shape[0], CHUNK)]
    nblocks = tuple((1,) * len(c) for c in dx.chunks)

    def idle():   # one task per chunk, reading it and returning one sample: dask's scheduling alone
        da.map_blocks(lambda b: b[:1, :1], dx, chunks=nblocks, dtype=x.dtype).compute(scheduler="threads")

    calls = {
        "idle": idle,
        "gather": lambda: concatenate3(ready),
        "copy": lambda: da.store(dx, out, lock=False, scheduler="threads"),   # no filter at all
        "memory": lambda: ndconv.convolve(x, k, mode="same", boundary="reflect"),
        "dask": lambda: ndconv.dask.convolve(dx, k, mode="same", boundary="reflect").compute(scheduler="threads"),
        "store": store,
    }
    for call in calls.values():   # warm up (compiled kernels, FFT plans, thread pools)
        call()
    times = time_interleaved(calls, REPEAT, BUDGET)
    # the in-memory call alone, back to back: its 256 MB result then reuses the pages the
    # previous one freed, where between dask runs it pays fresh page faults (the two differ 1–4×)
    times["memory alone"] = time_interleaved({"memory": calls["memory"]}, REPEAT, BUDGET)["memory"]
    return times


def render() -> str:
    """The markdown section "ndconv.dask vs in-memory" measured on this machine."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SIZE, SIZE), dtype=np.float32)
    lines = [
        "## ndconv.dask vs in-memory ndconv.convolve",
        "",
        f"{SIZE}×{SIZE} float32 image, 'same', reflect boundary; dask: {CHUNK}×{CHUNK} chunks "
        f"({(SIZE // CHUNK) ** 2} tasks), threaded scheduler (dask {dask.__version__}), graph building "
        "included; times in ms (median of interleaved runs); target dask / in-memory ≤ 1.3.",
        "",
        "| kernel | in-memory | method (auto) | ndconv.dask → new array | ratio | dask's gather of the 64 "
        "finished chunks alone | ndconv.dask → existing array (`da.store`) | ratio | in-memory alone, back to back "
        "| store / that | `da.store` of x itself (no filter) | that / in-memory "
        "| 64 tasks doing nothing | that / in-memory |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in KERNELS:
        k = rng.standard_normal((size, size)).astype(np.float32)
        t = _case(x, k)
        method = ndconv.choose_method(x, k, mode="same", boundary="reflect")
        lines.append(f"| {size}×{size} | {t['memory'] * 1e3:.0f} | {method} | {t['dask'] * 1e3:.0f} "
                     f"| {t['dask'] / t['memory']:.2f} | {t['gather'] * 1e3:.0f} | {t['store'] * 1e3:.0f} "
                     f"| {t['store'] / t['memory']:.2f} "
                     f"| {t['memory alone'] * 1e3:.0f} | {t['store'] / t['memory alone']:.2f} "
                     f"| {t['copy'] * 1e3:.0f} | {t['copy'] / t['memory']:.2f} "
                     f"| {t['idle'] * 1e3:.0f} | {t['idle'] / t['memory']:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render())
