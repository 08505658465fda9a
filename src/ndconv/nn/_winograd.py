"""Winograd F(m×m, 3×3): the 3×3, stride-1 layers with many channels on large enough images.

A 3×3 cross-correlation gives each m×m block of outputs from the α×α block
(α = m + 2) of the padded input under it.  Winograd's minimal filtering algorithm
(Lavin & Gray, *Fast Algorithms for Convolutional Neural Networks*, 2016) writes
that block as

    Y = Aᵀ [ (G w Gᵀ) ⊙ (Bᵀ d B) ] A

so that the channel sum becomes α² independent matrix products, one per
element ``e`` of the transformed tile::

    U[e] = (G w Gᵀ)[e]        (Cout, Cin)       the weights, transformed once per call
    V[e] = (Bᵀ d B)[e]        (Cin, tiles)      every tile of a block of images
    M[e] = U[e] @ V[e]        (Cout, tiles)     α² GEMMs in BLAS
    y    = Aᵀ M A             (B, Cout, H, W)

The gradients are the same three steps transposed: the input gradient is the
'full' correlation of dy with the flipped kernel (the same code), the weight
gradient multiplies A dY Aᵀ by V tile by tile (:func:`weight_products`).

Tile size: m = 4 (``TILE``) does 36·Cin·Cout multiply-adds per 16 outputs where
im2col does 144·Cin·Cout, and m = 2 does 64.  Measured on B8 64→64 56² float32
(2 cores, interleaved): forward m = 4 in 0.7–0.8× the time of m = 2, which in turn
ran in about half of im2col's.  The price is rounding: the transforms of m = 4
multiply by up to 8 and divide by 3 and 15, and its float32 error is 2–3·10⁻⁶ of
the largest output (m = 2: 2–5·10⁻⁷, like torch), i.e. about 10⁻⁷ of the bound
tol·Σ|w|·max|x| that ndconv promises for every convolution (tol = 10⁻⁵ in
float32); tests/test_nn_winograd.py checks that bound.  The points 0, 1, −1, 2,
−1/2 were chosen for the smallest error (see tools/make_winograd.py).

With few input channels the GEMMs' inner dimension (Cin) is too short for BLAS to
run well, so the layer keeps im2col (``MIN_CHANNELS``).  A NaN or Inf in a tile
reaches all of the tile's outputs, so callers send non-finite operands to
im2col (``_conv_gemm._winograd_applies``).
"""

from __future__ import annotations

import numpy as np

from .._blas import serial_blas
from ..methods._numba_kernels import run_jobs
from ._winograd_loops import VARIANTS

#: output tile size m of F(m×m, 3×3) (2 or 4, see ``_winograd_loops.VARIANTS``)
TILE = 4

#: Winograd needs at least this many input and output channels (below, im2col's
#: one GEMM with inner dimension 9·Cin runs faster than 16 with inner dimension Cin)
MIN_CHANNELS = 16

#: and outputs at least this many samples on each side: smaller images pay the
#: transforms' fixed costs and a padding tile per row of tiles for little work
#: (measured, forward + backward, Winograd / im2col: B32 16→32 at 4² 1.8×, at 16²
#: 1.0×, at 28² 0.85×; B8 64→64 at 8² 1.2×, at 16² 0.85×, at 28² 0.68×)
MIN_OUTPUT = 16

#: transformed tiles below which one thread does the transforms
PARALLEL_TILES = 1 << 14

#: bytes of transformed tiles per block (whole images, or bands of one image's
#: rows of tiles), so that V and M of a block stay near a core between the three
#: steps.  B8 64→64 56² float32, m = 4 (1.9 MB of V per image), interleaved:
#: 2 MiB (one image) forward 13.2 ms, 1 MiB (bands) 15.2, 512 KiB 20.2, 4 MiB (two
#: images) 17.3; the gradients alike.  Re-measured 2026-11-24 (after the interleaved
#: output stores; 1 MiB of L2 per core here, so a whole image's V and M live in the
#: shared L3): 2 MiB 6.8–7.5 ms, 1 MiB 6.8–7.3, 768 KiB 7.3–7.5, 512 KiB 8.6, 256 KiB
#: 12.4–12.8 — bands small enough for L2 lose to their fixed costs (each band's input
#: transform also reads the next band's first rows of tiles)
BLOCK_BYTES = 1 << 21


def applies(kernel, stride, dilation, groups: int, in_channels: int, out_channels: int,
            output: tuple[int, ...]) -> bool:
    """Whether a layer is a 2-D 3×3 stride-1 undilated ungrouped one worth transforming."""
    return (tuple(kernel) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and groups == 1 and min(in_channels, out_channels) >= MIN_CHANNELS and len(output) == 2
            and min(output) >= MIN_OUTPUT)


def transform_weights(w: np.ndarray, m: int = TILE) -> np.ndarray:
    """U (α², Cout, Cin) = G w Gᵀ for every (output, input) channel pair, α = m + 2:
    one product with G ⊗ G (α² × 9) in float64, rounded once to the weights' type."""
    g = np.array(VARIANTS[m]["G"], dtype=np.float64)
    cout, cin = w.shape[:2]
    with serial_blas():                  # a small product: waking BLAS's threads would cost more
        u = np.kron(g, g) @ w.reshape(cout * cin, 9).T.astype(np.float64)
    return np.ascontiguousarray(u.reshape(-1, cout, cin), dtype=w.dtype)


def correlate(x: np.ndarray, u: np.ndarray, beta: np.ndarray, pad: tuple[int, int],
              y: np.ndarray, buffer, m: int = TILE) -> None:
    """Fill ``y`` (B, Cout, H', W') with the 3×3 cross-correlation of ``x``
    (B, Cin, H, W) read with ``pad = (top, left)`` rows and columns of zeros
    before it (and zeros after it) with the weights whose transform is ``u``
    (:func:`transform_weights` with the same ``m``), plus ``beta`` (Cout,):
    output sample (i, j) sums x̃[i + a − top, j + b − left]·w[a, b].

    Images are taken a few at a time (``BLOCK_BYTES`` of transformed tiles) so
    that the tiles and the GEMMs' products stay in cache between the three
    steps.  The transforms spread over the cores that :func:`ndconv._memory.cpu_count`
    grants.  ``buffer(slot, shape, dtype)`` gives the scratch arrays (the
    caller's per-thread workspace).
    """
    cout, (h, wd) = u.shape[1], y.shape[2:]
    plan = _Plan(m, x, pad, y.dtype, cout, h, wd)
    for b0, nb, i0, rows in plan.blocks():
        v = plan.transform_input(b0, nb, i0, rows, buffer)
        mt = np.matmul(u, v, out=buffer("wino_m", (plan.alpha ** 2, cout, nb * rows * plan.n), plan.dtype))
        run_jobs(plan.variant["output"], (mt, y[b0:b0 + nb].reshape(-1), plan.c_out, beta, cout, h, wd,
                                          m * i0, min(h - m * i0, m * rows), rows, plan.n),
                 nb * cout, parallel=nb * rows * plan.n * cout >= PARALLEL_TILES)


def weight_products(x: np.ndarray, dy: np.ndarray, pad: tuple[int, int], buffer, m: int = TILE) -> np.ndarray:
    """dU (α², Cout, Cin): the gradient of Σ y·dy with respect to the transformed
    weights U, for the correlation of :func:`correlate` (``x`` read with ``pad``
    zeros before it, ``dy`` of the output's shape).

    The transpose of the forward pass: V from x as there, A dY Aᵀ from dy
    (``gradient_m``, the adjoint of the output transform), and per element e of
    the tile ``dU[e] = (A dY Aᵀ)[e] @ V[e]ᵀ``, summed over tiles and images — GEMMs
    whose inner dimension is the number of tiles.  :func:`weights_from_products`
    turns dU into the kernel gradient.
    """
    cout, h, wd = dy.shape[1:]
    plan = _Plan(m, x, pad, dy.dtype, cout, h, wd)
    dy = np.ascontiguousarray(dy)
    du = np.zeros((plan.alpha ** 2, cout, plan.cin), plan.dtype)
    part = np.empty_like(du)
    for b0, nb, i0, rows in plan.blocks():
        v = plan.transform_input(b0, nb, i0, rows, buffer)
        t = buffer("wino_m", (plan.alpha ** 2, cout, nb * rows * plan.n), plan.dtype)
        run_jobs(plan.variant["gradient"], (dy[b0:b0 + nb].reshape(-1), t, plan.c_out, cout, h, wd, m * i0,
                                            rows, plan.n),
                 nb * cout, parallel=nb * rows * plan.n * cout >= PARALLEL_TILES)
        # Vᵀ copied first: BLAS ran these GEMMs with a transposed operand at about half the
        # rate of plain ones (36 × (64 × 210) @ (210 × 64), float32, one core: 0.90–0.97 ms
        # against 0.72–0.77 with the 0.15 ms copy)
        vt = buffer("wino_vt", (plan.alpha ** 2, v.shape[2], plan.cin), plan.dtype)
        np.copyto(vt, v.transpose(0, 2, 1))
        du += np.matmul(t, vt, out=part)
    return du


def weights_from_products(du: np.ndarray, m: int = TILE) -> np.ndarray:
    """dw (Cout, Cin, 3, 3) from dU: the transpose of :func:`transform_weights`."""
    g = np.array(VARIANTS[m]["G"], dtype=np.float64)
    cout, cin = du.shape[1:]
    with serial_blas():
        dw = np.kron(g, g).T @ du.reshape(du.shape[0], cout * cin).astype(np.float64)
    return np.ascontiguousarray(dw.T.reshape(cout, cin, 3, 3), dtype=du.dtype)


class _Plan:
    """What :func:`correlate` and :func:`weight_products` share: the tiling of an
    output of h × wd by m × m tiles (``n`` columns of tiles with the padding one),
    the blocks, and the input transform of a block."""

    def __init__(self, m: int, x: np.ndarray, pad: tuple[int, int], dtype: np.dtype, cout: int, h: int, wd: int):
        self.m, self.dtype, self.variant, self.alpha = m, dtype, VARIANTS[m], m + 2
        self.x = np.ascontiguousarray(x, dtype=dtype)
        self.batch, self.cin, self.height, self.width = x.shape
        self.tiles_h, self.n = -(-h // m), -(-wd // m) + 1
        self.c_in = np.array([float(c) for c in self.variant["input_constants"]] or [0.0], dtype)
        self.c_out = np.array([float(c) for c in self.variant["output_constants"]] or [0.0], dtype)
        row_bytes = self.alpha ** 2 * max(self.cin, cout) * self.n * dtype.itemsize   # of v (or m) per row of tiles
        self.rows_per_block = max(1, BLOCK_BYTES // row_bytes)
        self.pad = pad

    def blocks(self):
        """(first image, images, first row of tiles, rows of tiles) of each block: whole
        images together while they fit, else bands of one image's rows of tiles."""
        if self.rows_per_block >= self.tiles_h:
            images = self.rows_per_block // self.tiles_h
            for b0 in range(0, self.batch, images):
                yield b0, min(images, self.batch - b0), 0, self.tiles_h
            return
        for b0 in range(self.batch):
            for i0 in range(0, self.tiles_h, self.rows_per_block):
                yield b0, 1, i0, min(self.rows_per_block, self.tiles_h - i0)

    def transform_input(self, b0: int, nb: int, i0: int, rows: int, buffer) -> np.ndarray:
        """V (α², Cin, nb·rows·n) of images b0 … b0 + nb − 1, rows of tiles i0 … i0 + rows − 1."""
        v = buffer("wino_v", (self.alpha ** 2, self.cin, nb * rows * self.n), self.dtype)
        run_jobs(self.variant["input"], (self.x[b0:b0 + nb].reshape(-1), v, self.c_in, self.cin, self.height,
                                         self.width, self.pad[0] - self.m * i0, self.pad[1], rows, self.n),
                 nb * self.cin, parallel=nb * rows * self.n * self.cin >= PARALLEL_TILES)
        return v
