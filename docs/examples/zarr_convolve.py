"""Convolve a Zarr array larger than the workers' memory, chunk by chunk, back to Zarr.

    python docs/examples/zarr_convolve.py [--side 16384] [--chunk 1024] [--memory-limit 600MB]

A LocalCluster of 2 worker processes, each limited to ``--memory-limit``, writes a
random float32 image of ``side × side`` to a Zarr store in a temporary directory,
then runs ``ndconv.dask.convolve`` (9×9 Gaussian, 'same', reflect on the whole
image) and writes the result to a second store with ``da.to_zarr``.  A thread in each
worker samples the process's RSS every 50 ms; the script prints the GB processed,
the time, and the peak RSS per worker, then checks a few output chunks against the
in-memory ``ndconv.convolve`` of the same region (with its halo) and removes the
stores.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import dask.array as da
import numpy as np
import zarr
from distributed import Client, LocalCluster

import ndconv
import ndconv.dask
import ndconv.filters


def _start_sampling(dask_worker=None) -> None:
    """Start a thread in this worker process that records its peak RSS."""
    import threading

    import psutil

    proc = psutil.Process()
    state = {"peak": proc.memory_info().rss, "run": True}

    def sample() -> None:
        while state["run"]:
            state["peak"] = max(state["peak"], proc.memory_info().rss)
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    dask_worker._ndconv_rss = state


def _peak_rss(dask_worker=None) -> int:
    state = dask_worker._ndconv_rss
    state["run"] = False
    return int(state["peak"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=16384)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--memory-limit", default="600MB")
    args = parser.parse_args()
    side, chunk = args.side, args.chunk
    root = Path(tempfile.mkdtemp(prefix="ndconv-zarr-"))
    kernel = ndconv.filters.gaussian_kernel(2.0, ndim=2, truncate=2.0).astype(np.float32)   # 9×9
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=args.memory_limit,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            source = da.random.default_rng(0).standard_normal((side, side), dtype=np.float32,
                                                                chunks=chunk)
            t = time.perf_counter()
            da.to_zarr(source, str(root / "input.zarr"))
            written = time.perf_counter() - t

            client.run(_start_sampling)
            x = da.from_zarr(str(root / "input.zarr"))
            t = time.perf_counter()
            y = ndconv.dask.convolve(x, kernel, mode="same", boundary="reflect")
            da.to_zarr(y, str(root / "output.zarr"))
            seconds = time.perf_counter() - t
            peaks = client.run(_peak_rss)

        gb = 2 * side * side * 4 / 1e9   # read and written
        print(f"input {side}×{side} float32 = {side * side * 4 / 1e9:.2f} GB in {chunk}² chunks "
              f"(written in {written:.1f} s); worker memory limit {args.memory_limit}")
        print(f"GB processed (read + written): {gb:.2f}, seconds: {seconds:.1f}, "
              f"throughput {gb / seconds:.2f} GB/s")
        print("peak RSS per worker: " + ", ".join(f"{p / 2**20:.0f} MiB" for p in peaks.values()))

        # check: the corner chunks (where the global reflection matters) and one inside
        xin, yout = zarr.open_array(str(root / "input.zarr"), mode="r"), zarr.open_array(str(root / "output.zarr"),
                                                                                           mode="r")
        h = kernel.shape[0] // 2
        for r0, c0 in ((0, 0), (side - chunk, side - chunk), (side // 2, side // 3)):
            lo_r, lo_c = max(r0 - h, 0), max(c0 - h, 0)
            region = xin[lo_r:r0 + chunk + h, lo_c:c0 + chunk + h]
            full = ndconv.convolve(region, kernel, mode="same", boundary="reflect")
            # inside the image the halo is real data; at the image edge the reflect rule is the region's own
            expected = full[r0 - lo_r:r0 - lo_r + chunk, c0 - lo_c:c0 - lo_c + chunk]
            np.testing.assert_allclose(yout[r0:r0 + chunk, c0:c0 + chunk], expected, rtol=1e-4, atol=1e-4)
        print("checked 3 output chunks against the in-memory convolve: equal")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
