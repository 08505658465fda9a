"""The work behind :mod:`ndconv.nn.functional`: im2col, one GEMM per group, col2im.

Two layer shapes take other paths forward: few input channels the direct sum
(:mod:`ndconv.nn._direct`), 3×3 layers with many channels Winograd
(:mod:`ndconv.nn._winograd`, also for both gradients).

Layout (channels first, ``d`` spatial axes, ``G`` groups)::

    padded x   (B, C, *P)            P = spatial size after padding
    cols       (B, G, Cg·K, Q)       K = prod(kernel), Q = prod(output)
    w          (G, Cout/G, Cg·K)
    y = w @ cols                     (B, G, Cout/G, Q): the output layout, no transpose

``cols`` is gathered from the padded input by one compiled loop (``_im2col``)
into a buffer kept between calls; the matmul is batched over (B, G) and runs in BLAS.
Measured on B=64, 3→64 channels, 32², 3×3 float32 this beat per-tap
accumulation (9 matmuls over the channels) by 12× and the other im2col layouts
(``(CK, B·Q)``, ``(B·Q, CK)``) by 2–3× because it needs no output transpose.

Adjoints (the transpose rules of the forward map):

* ``dw = Σ_b dy[b] @ cols[b]ᵀ`` — matmuls batched over (batch, group), summed over batch;
* ``dcols = wᵀ @ dy``, then col2im adds each kernel tap's slice of ``dcols`` back
  onto the padded input at the strided, dilated positions it was read from
  (the compiled mirror of the im2col gather, tap after tap: the order of the per-tap
  NumPy adds it replaced, which took 2.6–4.8× as long), and :func:`ndconv.boundary.fold`
  — the adjoint of :func:`ndconv.boundary.extend` — folds the padded border back onto x.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace

import numpy as np

from .._blas import by_batch
from .._errors import check_memory
from ..boundary import extend, fold
from . import _direct, _winograd
from ._im2col import col2im, im2col, row_sums


@dataclass(frozen=True)
class ConvGeometry:
    """Validated integer description of one ``conv`` call."""

    batch: int
    in_channels: int
    out_channels: int
    groups: int
    spatial: tuple[int, ...]        # input spatial shape
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pad: tuple[tuple[int, int], ...]
    boundary: str

    @property
    def padded(self) -> tuple[int, ...]:
        return tuple(n + a + b for n, (a, b) in zip(self.spatial, self.pad))

    @property
    def extent(self) -> tuple[int, ...]:
        """Spatial extent of the dilated kernel."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation))

    @property
    def output(self) -> tuple[int, ...]:
        return tuple((p - e) // s + 1 for p, e, s in zip(self.padded, self.extent, self.stride))


#: multiply-adds from which a layer's batch is shared by the cores
PARALLEL_WORK = 1 << 22

#: the im2col buffer is kept between calls of a thread from this many bytes on: a fresh
#: one costs a page fault per 4 KiB on first touch, about half the copy's time
#: (B8 64→64 56² 3×3: 18.5 ms → 10.5 ms for the 57 MB of columns)
KEEP_BYTES = 1 << 17
_workspace = threading.local()


def _buffer(slot: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised array of ``shape``, reusing this thread's workspace ``slot`` when large."""
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    if nbytes < KEEP_BYTES:
        return np.empty(shape, dtype)
    store = getattr(_workspace, slot, None)
    if store is None or store.size < nbytes:
        store = np.empty(nbytes, np.uint8)
        setattr(_workspace, slot, store)
    return store[:nbytes].view(dtype).reshape(shape)


def _cols(xp: np.ndarray, g: ConvGeometry, ones: bool = False) -> np.ndarray:
    """im2col: (B, G, Cg·K, Q) from the padded input (B, C, *P); with ``ones`` (one
    group only) a row of ones follows the columns, (B, 1, C·K + 1, Q), so that a
    weight matrix with the bias as its last column adds the bias in the GEMM.

    The result lives in this thread's workspace (for large sizes): it is valid
    until the thread's next ``_cols`` call, so callers use it at once.
    """
    cg = g.in_channels // g.groups
    taps, q = math.prod(g.kernel), math.prod(g.output)
    rows = g.in_channels * taps + int(ones)
    cols = _buffer("cols", (g.batch, rows * q), xp.dtype)
    im2col(xp, g.kernel, g.dilation, g.stride, g.output, cols[:, :g.in_channels * taps * q].reshape(
        g.batch, g.in_channels, taps * q))
    if ones:
        cols[:, -q:] = 1
        return cols.reshape(g.batch, 1, rows, q)
    return cols.reshape(g.batch, g.groups, cg * taps, q)


def check_memory_for(g: ConvGeometry, dtype: np.dtype) -> None:
    """Refuse, before any copy, a call whose padded input, im2col columns and
    output need more memory than the machine has."""
    q, taps = math.prod(g.output), math.prod(g.kernel)
    elements = g.batch * (g.in_channels * (math.prod(g.padded) + taps * q) + g.out_channels * q)
    check_memory("the im2col columns", (g.batch, g.in_channels * taps, q), elements * np.dtype(dtype).itemsize,
                 " with the padded input and the output")


def _grouped_weight(w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    return w.reshape(g.groups, g.out_channels // g.groups, -1)


def _work(g: ConvGeometry) -> int:
    return g.batch * g.out_channels * math.prod(g.output) * g.in_channels // g.groups * math.prod(g.kernel)


def _winograd_applies(g: ConvGeometry, *arrays: np.ndarray) -> bool:
    """Whether the layer runs by Winograd: its shape allows it and ``arrays`` (the
    operands) are finite.  A transformed tile mixes its 36 inputs, so a NaN or Inf
    would reach every output of the tile instead of only those whose window holds
    it; such calls take the im2col path, which keeps NaN local like torch.  (A sum
    is the cheapest test: it overflows only for values near the type's limit, and
    then the layer merely takes the slower path.)"""
    if not _winograd.applies(g.kernel, g.stride, g.dilation, g.groups, g.in_channels, g.out_channels, g.output):
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        return all(np.isfinite(a.sum()) for a in arrays)


def _winograd_correlate(src: np.ndarray, w: np.ndarray, b: np.ndarray | None, pad: tuple[int, int],
                        shape: tuple[int, ...], parallel: bool) -> np.ndarray:
    """A 3×3 correlation of ``src`` read with ``pad`` zeros before it, into a new
    array of ``shape``, by Winograd (the batch shared by the cores)."""
    y = np.empty(shape, w.dtype)
    m = _winograd.TILE
    u = _winograd.transform_weights(w, m)
    beta = np.zeros(shape[1], w.dtype) if b is None else b.astype(w.dtype, copy=False)
    by_batch(lambda lo, hi: _winograd.correlate(src[lo:hi], u, beta, pad, y[lo:hi], _buffer, m),
             shape[0], parallel)
    return y


def _sum_in_order(parts: dict[int, np.ndarray]) -> np.ndarray:
    """The shares' partial sums added in batch order, whichever core finished first
    (floating-point addition of three or more terms depends on the order)."""
    keys = sorted(parts)
    total = parts[keys[0]]
    for key in keys[1:]:
        total = total + parts[key]
    return total


def forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, g: ConvGeometry) -> np.ndarray:
    dtype = np.result_type(x, w)
    parallel = _work(g) >= PARALLEL_WORK
    if _winograd_applies(g, x, w):
        src, pad = _winograd_source(x, g)         # zero padding: x read in place
        return _winograd_correlate(src, w.astype(dtype, copy=False), b, pad, (g.batch, g.out_channels) + g.output,
                                   parallel)
    if _direct.applies(g.kernel, g.stride, g.dilation, g.groups, g.in_channels, dtype):
        return _direct.correlate(x, w, b, g.pad, g.boundary, dtype, g.output, parallel)
    y = np.empty((g.batch, g.out_channels) + g.output, dtype)
    wg = _grouped_weight(w, g)
    ones = b is not None and g.groups == 1     # the bias as one more column of w: no pass over y
    if ones:
        wg = np.concatenate([wg[0], b.astype(wg.dtype)[:, None]], axis=1)[None]
    flat = y.reshape(g.batch, g.groups, g.out_channels // g.groups, math.prod(g.output))
    step = _items_per_chunk(g, dtype)

    def share(lo: int, hi: int) -> None:
        for a in range(lo, hi, step):   # pad, gather and multiply a few items at a time, in cache
            e = min(hi, a + step)
            xp = extend(x[a:e], g.pad, g.boundary)
            np.matmul(wg, _cols(xp, replace(g, batch=e - a), ones), out=flat[a:e])   # (b, G, Cout/G, Q)
        if b is not None and not ones:
            y[lo:hi] += b.reshape((-1,) + (1,) * len(g.kernel))

    by_batch(share, g.batch, parallel)
    return y


#: bytes of im2col columns gathered and multiplied at a time (a core's share of the cache)
CHUNK_BYTES = 1 << 21


def _items_per_chunk(g: ConvGeometry, dtype: np.dtype) -> int:
    """Batch items whose padded input and columns take about ``CHUNK_BYTES``: the GEMM
    then reads columns the gather has just written, from cache."""
    per_item = (g.in_channels * (math.prod(g.kernel) * math.prod(g.output) + math.prod(g.padded))
                * np.dtype(dtype).itemsize)
    return max(1, CHUNK_BYTES // per_item)


def _winograd_source(x: np.ndarray, g: ConvGeometry) -> tuple[np.ndarray, tuple[int, int]]:
    """What the Winograd input transform reads for x̃, and the zeros before it:
    x itself for zero padding, else the extended input."""
    if g.boundary == "constant":
        return x, (g.pad[0][0], g.pad[1][0])
    return extend(x, g.pad, g.boundary), (0, 0)


def _winograd_input_grad(dy: np.ndarray, w: np.ndarray, g: ConvGeometry):
    """(transformed flipped weights, zeros before dy, the array to fill, the step that
    turns it into dx): the transpose of a 3×3 correlation is the 'full' correlation of
    dy with the flipped kernel, input and output channels swapped."""
    m = _winograd.TILE
    u = _winograd.transform_weights(np.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]), m)
    (top, _), (left, _) = g.pad
    if g.boundary == "constant":          # x̃'s padding is zeros: only x's samples get gradient
        return u, (2 - top, 2 - left), np.empty((g.batch, g.in_channels) + g.spatial, dy.dtype), lambda z: z
    return (u, (2, 2), np.empty((g.batch, g.in_channels) + g.padded, dy.dtype),
            lambda z: fold(z, g.pad, g.boundary, overwrite_input=True))


def backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray,
             g: ConvGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db).  Winograd layers share the batch once for both gradients, so
    each core transforms its images' dy for dx and for dw while they are in cache."""
    if not _winograd_applies(g, dy, x, w):
        return input_grad(dy, w, g), weight_grad(dy, x, g), bias_grad(dy)
    m = _winograd.TILE
    u, dy_pad, z, finish = _winograd_input_grad(dy, w, g)
    zeros = np.zeros(g.in_channels, dy.dtype)
    src, pad = _winograd_source(x, g)
    products: dict[int, np.ndarray] = {}

    def share(lo: int, hi: int) -> None:
        _winograd.correlate(dy[lo:hi], u, zeros, dy_pad, z[lo:hi], _buffer, m)
        products[lo] = _winograd.weight_products(src[lo:hi], dy[lo:hi], pad, _buffer, m)

    by_batch(share, g.batch, _work(g) >= PARALLEL_WORK)
    return finish(z), _winograd.weights_from_products(_sum_in_order(products), m), bias_grad(dy)


def weight_grad(dy: np.ndarray, x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    if _winograd_applies(g, dy, x):
        m = _winograd.TILE
        src, pad = _winograd_source(x, g)
        products: dict[int, np.ndarray] = {}

        def share_products(lo: int, hi: int) -> None:
            products[lo] = _winograd.weight_products(src[lo:hi], dy[lo:hi], pad, _buffer, m)

        by_batch(share_products, g.batch, _work(g) >= PARALLEL_WORK)
        return _winograd.weights_from_products(_sum_in_order(products), m)
    xp = extend(x, g.pad, g.boundary)
    dyg = dy.reshape(g.batch, g.groups, g.out_channels // g.groups, math.prod(g.output))
    parts: dict[int, np.ndarray] = {}

    def share(lo: int, hi: int) -> None:
        cols = _cols(xp[lo:hi], replace(g, batch=hi - lo))      # (b, G, CK, Q)
        # per-sample products summed over the batch: no transposed copy of dy
        # (1.5x faster than one (G, Cout/G, B·Q) @ (G, B·Q, CK) matmul on B=64, 3→64, 32²)
        with np.errstate(invalid="ignore"):        # Inf − Inf is NaN, as in torch, without a warning
            parts[lo] = np.matmul(dyg[lo:hi], cols.transpose(0, 1, 3, 2)).sum(axis=0)   # (G, Cout/G, CK)

    by_batch(share, g.batch, _work(g) >= PARALLEL_WORK)
    with np.errstate(invalid="ignore"):
        dw = _sum_in_order(parts)
    return dw.reshape((g.out_channels, g.in_channels // g.groups) + g.kernel)


def input_grad(dy: np.ndarray, w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    parallel = _work(g) >= PARALLEL_WORK
    if _winograd_applies(g, dy, w):
        u, dy_pad, z, finish = _winograd_input_grad(dy, w, g)
        zeros = np.zeros(g.in_channels, dy.dtype)
        by_batch(lambda lo, hi: _winograd.correlate(dy[lo:hi], u, zeros, dy_pad, z[lo:hi], _buffer, _winograd.TILE),
                 g.batch, parallel)
        return finish(z)
    q = math.prod(g.output)
    dyg = dy.reshape(g.batch, g.groups, g.out_channels // g.groups, q)
    wt = _grouped_weight(w, g).transpose(0, 2, 1)
    dtype = np.result_type(wt, dyg)
    z = np.zeros((g.batch, g.in_channels) + g.padded, dtype=dtype)

    def share(lo: int, hi: int) -> None:
        dcols = np.matmul(wt, dyg[lo:hi], out=_buffer("dcols", (hi - lo, g.groups) + wt.shape[1:2] + (q,), dtype))
        # col2im: each tap's columns added back where im2col read them, tap after tap
        col2im(dcols, z[lo:hi], g.kernel, g.dilation, g.stride, g.output)

    by_batch(share, g.batch, parallel)
    return fold(z, g.pad, g.boundary, overwrite_input=True)


def bias_grad(dy: np.ndarray) -> np.ndarray:
    """``dy`` summed over batch and spatial axes: rows summed in float64 on the cores."""
    if dy.dtype.kind != "f" or dy.size < PARALLEL_WORK:     # small: NumPy's call is cheaper
        return dy.sum(axis=(0,) + tuple(range(2, dy.ndim)), dtype=np.float64).astype(dy.dtype)
    rows = row_sums(np.ascontiguousarray(dy).reshape(dy.shape[0] * dy.shape[1], -1))
    return rows.reshape(dy.shape[:2]).sum(axis=0).astype(dy.dtype)
