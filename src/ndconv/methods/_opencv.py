"""Optional dispatch to OpenCV's filter engine for 2-D float images.

OpenCV computes the same correlation sum as the direct method, with the
boundary rules applied natively (no padded copy), and is the fastest engine
for small 2-D kernels on this class of machine.  It is used only where its
result is the definition's, bit for bit in meaning:

* exactly two convolved axes, float32 or float64, one kernel for all rows;
* a 'same'-sized window with stride 1 on both axes (any origin), or, with the
  zero boundary, any window that starts within the kernel's reach ('full',
  'valid'): the image zero-extended after its end, filtered, cut to the window;
* boundary constant (fill 0), reflect, symmetric or edge (OpenCV has no
  periodic rule for filters);
* kernel sides at most ``MAX_SIDE`` and no larger than the image: beyond
  that OpenCV switches to a DFT that would spread NaN over the image.

``ndconv.filters`` also calls :func:`centred_sep_filter` directly for 2-D float
Gaussians and boxes of 7 or more taps per axis, with their own 1-D weights.
Separable filters (that call and the separable method's :func:`sep_filter2d`)
compute what ``sepFilter2D`` computes with ndconv's fused row loops
(:mod:`._sep_rows`, faster on this machine), and call OpenCV only where those do
not apply; the loops run without OpenCV too (:func:`sep_window_applies`).

Set ``ndconv.methods._opencv.ENABLED = False`` (or the environment variable
``NDCONV_OPENCV=0``) to force the Numba loops.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from functools import lru_cache

import numpy as np

from .._errors import check_memory
from .._memory import on_one_core
from .._spec import ConvSpec
from . import _sep_rows

MAX_SIDE = 11
ENABLED = os.environ.get("NDCONV_OPENCV", "1") != "0"


#: first calls from several threads at once: one imports cv2, the others wait
#: (find_spec on a cv2 still being imported raises "cv2.__spec__ is None")
_IMPORT_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _cv2():
    with _IMPORT_LOCK:
        if importlib.util.find_spec("cv2") is None:
            return None
        try:
            import cv2
        except ImportError:  # pragma: no cover - broken install
            return None
        return cv2


def available() -> bool:
    """OpenCV is installed, enabled, and may run here (not inside :func:`ndconv._memory.one_core`)."""
    return ENABLED and not on_one_core() and _cv2() is not None


#: ndconv's boundary rules as OpenCV's border types (OpenCV's filters have no periodic rule)
_BORDERS = {"reflect": "BORDER_REFLECT_101", "symmetric": "BORDER_REFLECT", "edge": "BORDER_REPLICATE",
            "constant": "BORDER_CONSTANT"}


def _border_type(boundary: str):
    """OpenCV's border type for an ndconv boundary rule, or None where it has none."""
    name = _BORDERS.get(boundary)
    return None if name is None else getattr(_cv2(), name)


def _border(spec: ConvSpec):
    return _border_type(spec.boundary)


def window_applies(spec: ConvSpec) -> bool:
    """The geometry/dtype/boundary conditions shared by filter2D and sepFilter2D."""
    return available() and _same_window(spec)


def _same_window(spec: ConvSpec) -> bool:
    """:func:`window_applies` but for OpenCV's availability: the window and rules its filters
    and ndconv's fused separable loops both serve."""
    if spec.ndim != 2 or spec.compute_dtype not in (np.float32, np.float64):
        return False
    if spec.kernel_batched or spec.boundary == "wrap":
        return False
    if spec.boundary == "constant" and spec.fill_value != 0:
        return False
    return all(g.is_same_window and g.dilation == 1 and g.k <= g.n for g in spec.geometry) \
        and max(spec.x.shape[-2:]) < 2**30


def padded_window_applies(spec: ConvSpec) -> bool:
    """A zero-boundary window of another size ('full', 'valid', or a 'same' window past
    an end): filter2D reads zeros past the image's edges, so the image zero-extended
    after its end to the window's length (``copyMakeBorder``), filtered, and cut to the
    window is the definition's result.  Stride and dilation 1, the window starting
    within the kernel's reach (``0 ≤ start ≤ K−1``: OpenCV's anchor)."""
    if spec.ndim != 2 or not available() or spec.compute_dtype not in (np.float32, np.float64):
        return False
    if spec.kernel_batched or spec.boundary != "constant" or spec.fill_value != 0:
        return False
    return all(g.stride == 1 and g.dilation == 1 and 0 <= g.start <= g.k - 1 and g.k <= g.n
               for g in spec.geometry) and max(max(g.n, g.count) for g in spec.geometry) < 2**30


def extension(spec: ConvSpec) -> tuple[int, int]:
    """Zeros :func:`filter2d` appends to each axis of the image (0, 0 for a 'same' window)."""
    rows, cols = spec.geometry
    return max(0, rows.count - rows.n), max(0, cols.count - cols.n)


def filter2d_applies(spec: ConvSpec) -> bool:
    return (window_applies(spec) or padded_window_applies(spec)) and max(g.k for g in spec.geometry) <= MAX_SIDE


def _anchor(spec: ConvSpec) -> tuple[int, int]:
    rows, cols = spec.geometry
    # y[i] = Σ_j h[j] x̃[i + start − j] = Σ_m g[m] x̃[i + m − (K−1−start)]
    return (cols.k - 1 - cols.start, rows.k - 1 - rows.start)


def _each_image(spec: ConvSpec, apply) -> np.ndarray:
    """Run ``apply(image, dst)`` on every 2-D image of the batch.

    A single image lets OpenCV allocate the result (``dst=None``): its
    allocator reuses freed memory, where a fresh 16 MiB numpy array costs
    about a millisecond of page faults.  A batch is written in place.
    """
    x = spec.x
    rows, cols = spec.geometry
    shape = x.shape[:-2] + (rows.count, cols.count)   # one kernel for all images: x's batch
    flat_in = x.reshape((-1,) + x.shape[-2:])
    if flat_in.shape[0] == 1:
        return apply(_sep_rows.contiguous_rows(flat_in[0]), None).reshape(shape)
    out = np.empty(shape, dtype=spec.compute_dtype)
    flat_out = out.reshape((-1,) + out.shape[-2:])
    for i in range(flat_in.shape[0]):
        result = apply(_sep_rows.contiguous_rows(flat_in[i]), flat_out[i])
        if not np.shares_memory(result, flat_out[i]):   # a cut window (or OpenCV reallocated)
            flat_out[i] = result
    return out


def _correlation_form(kernel: np.ndarray) -> np.ndarray:
    """The 2-D kernel flipped (OpenCV correlates), contiguous; kept per kernel up to
    ``MAX_SIDE``² taps, read-only."""
    h = kernel.reshape(kernel.shape[-2:])
    if h.size > MAX_SIDE * MAX_SIDE:
        return np.ascontiguousarray(h[::-1, ::-1])
    h = np.ascontiguousarray(h)
    return _flipped(h.tobytes(), h.shape, h.dtype.str)


@lru_cache(maxsize=64)
def _flipped(key: bytes, shape: tuple[int, int], dtype: str) -> np.ndarray:
    g = np.ascontiguousarray(np.frombuffer(key, dtype=dtype).reshape(shape)[::-1, ::-1])
    g.flags.writeable = False
    return g


def filter2d(spec: ConvSpec) -> np.ndarray:
    cv2 = _cv2()
    g = _correlation_form(spec.kernel)
    anchor, border = _anchor(spec), _border(spec)
    rows, cols = spec.geometry
    if rows.count == rows.n and cols.count == cols.n:
        return _each_image(spec, lambda im, dst: cv2.filter2D(im, -1, g, dst=dst, anchor=anchor, borderType=border))
    below, right = extension(spec)

    def window(im, dst):   # zeros after the end, then the window: 'full' is the whole result
        if below or right:
            im = cv2.copyMakeBorder(im, 0, below, 0, right, cv2.BORDER_CONSTANT, value=0)
        return cv2.filter2D(im, -1, g, anchor=anchor, borderType=border)[:rows.count, :cols.count]

    return _each_image(spec, window)


def sep_filter2d(spec: ConvSpec, flipped) -> np.ndarray:
    """Σ_r (u_r ⊗ v_r) applied by OpenCV; ``u`` runs along rows (axis −2).  ``flipped``: the
    pairs ``(u_r, v_r)`` already in correlation form and the compute dtype, contiguous
    (:func:`ndconv.methods.separable.opencv_terms`)."""
    anchor = _anchor(spec)

    def apply(image, dst):
        dst = _sep_filter(image, flipped[0][0], flipped[0][1], anchor, spec.boundary, dst)
        for u, v in flipped[1:]:
            dst += _sep_filter(image, u, v, anchor, spec.boundary)
        return dst

    return _each_image(spec, apply)


def sep_window_applies(spec: ConvSpec) -> bool:
    """The separable route's window: :func:`window_applies` where OpenCV may run; where it
    may not (not installed, disabled, or inside :func:`ndconv._memory.one_core`: an
    ``ndconv.dask`` task), the same geometry for ndconv's fused loops alone, which need
    nothing of OpenCV (x and the kernel already in the compute dtype, which they read as
    they are; at most ``_sep_rows.MAX_TAPS`` taps per axis)."""
    if available():
        return window_applies(spec)
    dtype = spec.compute_dtype
    return _same_window(spec) and spec.x.dtype == dtype and spec.kernel.dtype == dtype \
        and max(spec.kernel_shape) <= _sep_rows.MAX_TAPS


def _sep_filter(image: np.ndarray, ky: np.ndarray, kx: np.ndarray, anchor: tuple[int, int], boundary: str,
                dst: np.ndarray | None = None) -> np.ndarray:
    """``cv2.sepFilter2D`` of ``image`` (``ky`` down the rows, ``kx`` along them, correlation
    form), by ndconv's fused row loops where they apply (:mod:`._sep_rows`: 0.70–0.88 of
    OpenCV's time on 2048² float32 Gaussians), else by OpenCV."""
    if _sep_rows.applies(image, ky, kx, boundary):
        return _sep_rows.sep_filter(image, ky, kx, anchor, boundary, dst)
    return _cv2().sepFilter2D(image, -1, kx, ky, dst=dst, anchor=anchor, borderType=_border_type(boundary))


#: weight vectors up to this many taps together have their check kept (by their bytes)
MAX_KEPT_WEIGHTS = 4096


def _usable_weights(u: np.ndarray, v: np.ndarray) -> bool:
    """Finite, and every product of a tap of ``u`` and one of ``v`` a normal non-zero number."""
    smallest = float(np.abs(u).min()) * float(np.abs(v).min())
    return bool(np.isfinite(u).all() and np.isfinite(v).all()) and smallest > np.finfo(u.dtype).tiny


@lru_cache(maxsize=64)
def _kept_usable_weights(u: bytes, v: bytes, dtype: str) -> bool:
    return _usable_weights(np.frombuffer(u, dtype=dtype), np.frombuffer(v, dtype=dtype))


def centred_sep_filter(x: np.ndarray, u: np.ndarray, v: np.ndarray, boundary: str, fill_value) -> np.ndarray | None:
    """The 'same' cross-correlation of the 2-D float image ``x`` with ``u ⊗ v`` (``u`` along
    rows, both of odd length, centred), as one ``sepFilter2D`` call computes it
    (:func:`_sep_filter`); None where it does not give the definition's result, or
    neither the fused loops apply nor OpenCV is available.

    ``filters`` calls it with the 1-D weights it already has, instead of building the 2-D
    kernel for :func:`ndconv.correlate` to factor again: in a call that follows a
    streaming pass over a large image the caches are cold, and that Python path (the spec,
    the plan, the factor look-up) took 0.3–0.5 ms, 6–10 % of a 2048² float32 Gaussian.
    Non-finite values stay local as in the 2-D sum because every tap and every product of
    taps is non-zero (see ``separable.opencv_keeps_nonfinite``).
    """
    if x.ndim != 2 or x.dtype not in (np.float32, np.float64):
        return None
    if boundary not in _BORDERS or (boundary == "constant" and fill_value != 0):
        return None
    if u.size % 2 == 0 or v.size % 2 == 0 or u.size > x.shape[0] or v.size > x.shape[1] or max(x.shape) >= 2**30:
        return None
    u = np.ascontiguousarray(u, dtype=x.dtype)
    v = np.ascontiguousarray(v, dtype=x.dtype)
    if u.size + v.size > MAX_KEPT_WEIGHTS:
        usable = _usable_weights(u, v)
    else:
        usable = _kept_usable_weights(u.tobytes(), v.tobytes(), x.dtype.str)
    if not usable:
        return None
    if not (available() or _sep_rows.applies(x, u, v, boundary)):
        return None
    # counted as correlate counts the same call: the result and a working copy
    check_memory("the result", x.shape, 2 * x.nbytes, " with its working copy")
    return _sep_filter(_sep_rows.contiguous_rows(x), u, v, (v.size // 2, u.size // 2), boundary)
