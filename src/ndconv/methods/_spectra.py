"""Kernel spectra kept for the next call with the same kernel.

Filtering many images with one kernel is the common case (a filter bank, a
blur applied to every frame, a template searched in a video), and in an FFT
convolution with a small kernel the kernel's spectrum at the transform size is
a large share of the work: 2048² float32 with a 31×31 kernel spends about 9 of
its 59 ms there (a DFT-matrix product writing 2079 × 1081 complex values).  The
spectra are kept here, keyed by the kernel's *bytes* (a BLAKE2 digest, so an
array changed in place is a new kernel), its shape and dtype, the transformed
axes, the sizes and the real/complex flag, in least-recently-used order up to
:data:`CACHE_BYTES`.  A kept spectrum is read-only and computed by the same code
as a fresh one: results are bit for bit those of an uncached call.

``NDCONV_SPECTRUM_CACHE=0`` in the environment (or ``ENABLED = False``) turns
the cache off; :func:`clear` empties it, :func:`info` reports its use.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Callable, NamedTuple

import numpy as np

#: the most bytes of spectra kept (least recently used first out)
CACHE_BYTES = 64 * 2**20
#: a kernel is hashed only when that costs little against its transform: at most
#: this share of the spectrum's bytes
HASH_SHARE = 1 / 8
ENABLED = os.environ.get("NDCONV_SPECTRUM_CACHE", "1") != "0"

_LOCK = threading.Lock()
_KEPT: OrderedDict[tuple, np.ndarray] = OrderedDict()
_STATS = {"hits": 0, "misses": 0}


class CacheInfo(NamedTuple):
    """Use of the spectrum cache: ``entries``, ``bytes`` kept, ``hits`` and ``misses``."""

    entries: int
    bytes: int
    hits: int
    misses: int


def spectrum(h: np.ndarray, key: tuple, spectrum_bytes: int,
             compute: Callable[[], np.ndarray]) -> np.ndarray:
    """``compute()`` for the kernel ``h``, or the kept result of an earlier call with the
    same kernel bytes and ``key`` (axes, sizes, …).  ``spectrum_bytes`` is the size the
    result will have (whether it can be kept is decided before hashing)."""
    if not ENABLED or spectrum_bytes > CACHE_BYTES // 2 or h.nbytes > HASH_SHARE * spectrum_bytes:
        return compute()
    digest = hashlib.blake2b(np.ascontiguousarray(h).view(np.uint8).ravel(), digest_size=16).digest()
    full_key = (digest, h.shape, h.dtype.str) + key
    with _LOCK:
        kept = _KEPT.get(full_key)
        if kept is not None:
            _KEPT.move_to_end(full_key)
            _STATS["hits"] += 1
            return kept
        _STATS["misses"] += 1
    result = compute()
    result.flags.writeable = False
    with _LOCK:
        if full_key not in _KEPT:
            _KEPT[full_key] = result
            while sum(a.nbytes for a in _KEPT.values()) > CACHE_BYTES:
                _KEPT.popitem(last=False)
    return result


@contextmanager
def disabled() -> Iterator[None]:
    """Compute every spectrum afresh inside the block (benchmarks time a new kernel each
    call this way).  Not for threads that convolve meanwhile: it sets :data:`ENABLED`."""
    global ENABLED
    saved, ENABLED = ENABLED, False
    try:
        yield
    finally:
        ENABLED = saved


def clear() -> None:
    """Forget every kept spectrum (and the hit/miss counts)."""
    with _LOCK:
        _KEPT.clear()
        _STATS["hits"] = _STATS["misses"] = 0


def info() -> CacheInfo:
    """Entries, bytes, hits and misses of the cache."""
    with _LOCK:
        return CacheInfo(len(_KEPT), sum(a.nbytes for a in _KEPT.values()), _STATS["hits"], _STATS["misses"])
