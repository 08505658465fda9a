"""ndconv on dask arrays: ``convolve``/``correlate`` chunk by chunk, lazily.

Imported only when asked for (``import ndconv.dask``); ``import ndconv`` never
imports dask.  Same arguments and meaning as :func:`ndconv.convolve` (modes, the
five boundary rules applied to the whole array, origin, stride, dilation, batch
axes and per-row kernels); the result is a lazy dask array equal to the in-memory
result, for any chunking, on any scheduler, a dask.distributed cluster included.

==================  =============================================================
:func:`convolve`    convolution of a dask array, one task per output chunk
:func:`correlate`   cross-correlation, ``convolve(x, flip(conj(k)), ...)``
==================  =============================================================
"""

from __future__ import annotations

try:
    import dask.array  # noqa: F401  (the real dask: imports are absolute)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError('ndconv.dask needs dask; install it with: pip install "ndconv[dask]"') from exc

from ._api import convolve, correlate

__all__ = ["convolve", "correlate"]
