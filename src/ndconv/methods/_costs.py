"""Constants of the cost model: built-in defaults, or measured by ``ndconv.tune``.

Each constant is seconds per unit of work on this machine:

``direct``       per output × tap on one core, compiled loops, by dtype class
``direct_stream`` per byte of input and output streamed by the loops
``opencv``       per output × tap, OpenCV filter2D/sepFilter2D
``sep_rows``     per output × tap on one core, ndconv's fused separable row loops
``opencv_dft``   per output × log2(taps), OpenCV filter2D on large kernels (DFT)
``fft``          per ``F·log2 F`` of one transform on one core, by precision
``overlap_add``  the same, for the blockwise transforms of a 1-D signal (strided segments cost more)
``tiles``        the same, for the cache-sized tiles of 2-D and nD overlap-add (per core)
``copy``         per element copied (padding, casts)
``call``         fixed overhead of one call

:func:`ndconv.tune` measures them and writes them atomically (temporary file,
then ``os.replace``) to ``cost_model.json`` in the user cache directory
(``$NDCONV_CACHE_DIR`` or platformdirs' ``user_cache_dir("ndconv")``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from functools import lru_cache
from pathlib import Path

DEFAULTS: dict[str, float] = {  # measured by tune() on the project's 2-core AVX-512 machines
    # (direct_*: one core's rate; the model divides large problems' loops by the cores)
    "direct_f4": 1.3e-10,
    "direct_f8": 2.25e-10,
    "direct_c8": 4.8e-10,
    "direct_c16": 1.0e-9,
    "direct_i8": 6.0e-10,
    "direct_stream": 0.9e-10,
    "opencv_f4": 0.4e-10,
    "opencv_f8": 2.2e-10,
    "sep_rows_f4": 0.7e-10,
    "sep_rows_f8": 1.3e-10,
    "opencv_dft_setup": 2.5e-3,
    "opencv_dft_f4": 1.94e-9,
    "opencv_dft_f8": 2.43e-9,
    "fft_f4": 1.25e-9,
    "fft_f8": 3.4e-9,
    "overlap_add_f4": 1.6e-9,
    "overlap_add_f8": 3.4e-9,
    "tiles_f4": 1.15e-9,
    "tiles_f8": 2.0e-9,
    "copy": 3.0e-9,
    "call": 50e-6,
}


def cache_dir() -> Path:
    env = os.environ.get("NDCONV_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("ndconv"))


def cost_file() -> Path:
    return cache_dir() / "cost_model.json"


def _usable(value: object) -> bool:
    """A stored constant is used only when it is a finite positive number."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf


@lru_cache(maxsize=1)
def constants() -> dict[str, float]:
    """The constants in force: measured ones over the defaults.

    A missing, unreadable or corrupt file, or an entry that is not a finite
    positive number, leaves the default in place: the cost model only ranks
    methods, so a bad cache may cost speed but never an error.
    """
    values = dict(DEFAULTS)
    try:
        stored = json.loads(cost_file().read_text(encoding="utf-8"))
        measured = stored.get("constants", {})
        values.update({k: float(v) for k, v in measured.items() if k in DEFAULTS and _usable(v)})
    except (OSError, ValueError, TypeError, AttributeError, RecursionError):
        pass
    return values


def writable_dir() -> Path:
    """The cache directory, created if needed; OSError naming it when it cannot be written."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"no write permission on {folder}")
    except OSError as exc:
        raise OSError(f"cannot write the cost model to the cache directory {str(folder)!r} ({exc}); "
                      "set NDCONV_CACHE_DIR to a writable directory") from exc
    return folder


def save(measured: dict[str, float], machine: dict[str, object]) -> Path:
    """Write measured constants atomically and make them the ones in force."""
    path = writable_dir() / "cost_model.json"
    payload = json.dumps({"constants": measured, "machine": machine}, indent=2, sort_keys=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".cost_model.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OSError(f"cannot write the cost model to {str(path)!r} ({exc}); "
                      "set NDCONV_CACHE_DIR to a writable directory") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OSError(f"cannot write the cost model to {str(path)!r} ({exc}); "
                          "set NDCONV_CACHE_DIR to a writable directory") from exc
        raise
    constants.cache_clear()
    return path
