"""One-channel direct correlation on CUDA: a Triton stencil kernel in place of cuDNN.

cuDNN is built for many channels.  With one input and one output channel — an image
filter, a 1-D signal's FIR — its IEEE float32 convolution is an implicit GEMM of
width one: on an H100, 8 images of 1024² by a 3×3 kernel took 0.6 ms, where
reading the images and writing the result at the device's memory speed takes
0.026 ms.  The kernel here computes a tile of outputs per program, tap after tap,
each tap one (L1-cached) load of the shifted tile and one fused multiply-add, with
the zero padding read as masked-off loads (no padded copy of the input).

Used by :func:`ndconv.torch._engine.correlate_ieee` for CUDA tensors of float32 or
float64 with one channel in and out, or depthwise (one kernel per channel, ``groups``
equal to the channels: ndconv's per-row kernels, a Mamba/Hyena short convolution), one
or two convolved axes, no gradient wanted (the autograd path stays on cuDNN) and at most
:data:`MAX_TAPS` taps (at most :data:`MAX_ROW_TAPS` on the last axis, which is unrolled;
:data:`DEPTHWISE_MAX_ROW_TAPS` depthwise), when Triton imports.
``NDCONV_TRITON=0`` in the environment (or ``ENABLED = False``) turns it off.

The arithmetic is IEEE float32 (float64 for float64): each output is the sum over
the taps, in order, of fused multiply-adds — within the same error bound as cuDNN's
sum, in a different order.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Sequence
from typing import Any

import torch

from . import _grad

ENABLED = os.environ.get("NDCONV_TRITON", "1") != "0"
#: kernels with more taps go to cuDNN (``method='auto'`` takes the FFT long before)
MAX_TAPS = 1024
#: the last axis's taps are unrolled in the compiled kernel
MAX_ROW_TAPS = 64
#: outputs per program, rows × columns, for kernels of at most (more than) 4 taps on the
#: last axis, and for one-row problems (1-D signals); 8 warps, 256 threads per program.
#: Measured on an H100 (8 × 1024², float32, scratch runs of 2026-11-23): with 4 or more
#: outputs per thread the compiled kernel sometimes collapsed (50 ms instead of 2.5 ms
#: at 21×21, 13 ms instead of 0.6 ms at 11×11); with 2 it never did, and at 3×3 four
#: outputs per thread are faster (0.10 against 0.17 ms back to back).
#: One-row problems take ``BLOCK_1D`` outputs, one per thread: on 256 rows of 2^16 samples
#: it was the fastest or within 10 % of it for every kernel length from 2 to 48 taps
#: (cuDNN: 2.7 ms at 2 taps, 0.17 at 8, 0.44 at 48, 18 ms at 64; this kernel 0.08–0.49 ms).
BLOCK_SMALL = (8, 128)
BLOCK_2D = (8, 64)
BLOCK_1D = 256
NUM_WARPS = 8
#: fewer multiply-adds (outputs × taps) than this go to cuDNN: launching this kernel costs
#: the host about 0.05 ms more than cuDNN's, more than the device time such a problem takes
MIN_WORK = 2**22
#: CUDA's limit on the grid's second and third dimensions (row blocks, batch)
MAX_GRID = 65535
#: depthwise kernels with more taps on the last axis go to cuDNN.  H100, 8 × 1024 channels
#: × 4096 samples, float32: cuDNN's depthwise conv1d 0.34 / 0.38 / 0.59 ms at 4 / 7 / 31 taps,
#: the bare stencil 0.14 / 0.16 / 0.52; through ndconv.torch's per-row kernels (back to back)
#: 0.20 / 0.22 / 0.65 — at 31 taps cuDNN is the faster
DEPTHWISE_MAX_ROW_TAPS = 16
#: depthwise calls with fewer outputs go to cuDNN: 16 × 768 channels × 1024 samples (12.6M
#: outputs) took ndconv.torch 0.26–0.28 ms a call back to back on the stencil against 0.23 on
#: cuDNN — the stencil's 0.06 ms against cuDNN's 0.13 hidden by the host's work, its launch
#: dearer; at 8 × 1024 × 4096 (33.6M) the stencil saved 0.16 ms a call
DEPTHWISE_MIN_OUTPUTS = 2**24


@functools.cache
def _stencil() -> Any:
    """The compiled-on-first-use Triton kernel, or None when Triton is not installed."""
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return None

    @triton.jit
    def stencil(z, w, y, rows_out, cols_out, rows_in, cols_in, z_batch, z_row, z_col, y_batch, y_row, y_col,
                pad_row, pad_col, stride_row, stride_col, dil_row, dil_col, taps_row, kernels, kernel_step,
                TAPS_COL: tl.constexpr, BLOCK_ROW: tl.constexpr, BLOCK_COL: tl.constexpr):
        b = tl.program_id(2).to(tl.int64)
        w = w + (b % kernels) * kernel_step          # depthwise: batch row b = (image, channel b % kernels)
        r = (tl.program_id(1).to(tl.int64) * BLOCK_ROW + tl.arange(0, BLOCK_ROW))[:, None]
        c = (tl.program_id(0).to(tl.int64) * BLOCK_COL + tl.arange(0, BLOCK_COL))[None, :]
        inside = (r < rows_out) & (c < cols_out)
        acc = tl.zeros((BLOCK_ROW, BLOCK_COL), dtype=y.dtype.element_ty)
        base = z + b * z_batch
        for i in range(taps_row):
            r_in = r * stride_row + i * dil_row - pad_row
            row_ok = inside & (r_in >= 0) & (r_in < rows_in)
            for j in tl.static_range(TAPS_COL):
                c_in = c * stride_col + j * dil_col - pad_col
                ok = row_ok & (c_in >= 0) & (c_in < cols_in)
                acc += tl.load(base + r_in * z_row + c_in * z_col, mask=ok, other=0.0) * tl.load(w + i * TAPS_COL + j)
        tl.store(y + b * y_batch + r * y_row + c * y_col, acc, mask=inside)

    return stencil


_SAME_DEVICE = contextlib.nullcontext()


def usable(x: torch.Tensor, w: torch.Tensor, groups: int) -> bool:
    """Whether :func:`correlate` takes this ``conv1d``/``conv2d`` call (see the module notes)."""
    if not (ENABLED and x.is_cuda and w.ndim in (3, 4) and x.ndim == w.ndim and w.shape[1] == 1):
        return False
    one = groups == 1 and w.shape[0] == 1 and x.shape[1] == 1
    depthwise = (groups == x.shape[1] == w.shape[0] and w.shape[-1] <= DEPTHWISE_MAX_ROW_TAPS
                 and x.numel() >= DEPTHWISE_MIN_OUTPUTS)
    return ((one or depthwise) and x.dtype in (torch.float32, torch.float64) and w.dtype == x.dtype
            and w[0, 0].numel() <= MAX_TAPS and w.shape[-1] <= MAX_ROW_TAPS
            and x.numel() * w[0].numel() >= MIN_WORK
            and not _grad.wanted(x, w)
            and _stencil() is not None)


def correlate(x: torch.Tensor, w: torch.Tensor, stride: Sequence[int], dilation: Sequence[int],
              padding: Sequence[int]) -> torch.Tensor | None:
    """``torch.nn.functional.conv1d/conv2d(x, w, None, stride, padding, dilation, groups)`` for
    ``x`` of shape (batch, C, *lengths) and ``w`` of shape (C, 1, *taps) with ``groups`` = C
    (C = 1: one channel), when :func:`usable`; None when the launch grid would be too large
    (more than :data:`MAX_GRID` batch rows)."""
    if w.ndim == 4:
        return _correlate_2d(x, w, stride, dilation, padding)
    # a row of one: the 2-D kernel with one input row
    y = _correlate_2d(x.unsqueeze(2), w.unsqueeze(2), (1, *stride), (1, *dilation), (0, *padding))
    return None if y is None else y.squeeze(2)


def _correlate_2d(x: torch.Tensor, w: torch.Tensor, stride: Sequence[int], dilation: Sequence[int],
                  padding: Sequence[int]) -> torch.Tensor | None:
    images, channels = x.shape[:2]
    batch = images * channels
    x = x.reshape((batch, 1) + tuple(x.shape[2:]))      # a view for ndconv's own layouts
    rows_in, cols_in = x.shape[2:]
    taps_row, taps_col = w.shape[2:]
    rows_out, cols_out = ((n + 2 * p - d * (k - 1) - 1) // s + 1
                          for n, p, d, k, s in zip((rows_in, cols_in), padding, dilation, (taps_row, taps_col), stride))
    y = torch.empty((batch, 1, rows_out, cols_out), dtype=x.dtype, device=x.device)
    if y.numel() == 0:
        return y.reshape(images, channels, rows_out, cols_out)
    block_row, block_col = (1, BLOCK_1D) if rows_out == 1 else BLOCK_SMALL if taps_col <= 4 else BLOCK_2D
    grid = (-(-cols_out // block_col), -(-rows_out // block_row), batch)
    if max(grid[1:]) > MAX_GRID:
        return None
    weights = w.reshape(-1).contiguous()
    with torch.cuda.device(x.device) if x.device.index != torch.cuda.current_device() else _SAME_DEVICE:
        _stencil()[grid](x, weights, y, rows_out, cols_out, rows_in, cols_in, x.stride(0), x.stride(2), x.stride(3),
                         y.stride(0), y.stride(2), y.stride(3), padding[0], padding[1], stride[0], stride[1],
                         dilation[0], dilation[1], taps_row, channels, taps_row * taps_col, TAPS_COL=taps_col,
                         BLOCK_ROW=block_row, BLOCK_COL=block_col, num_warps=NUM_WARPS)
    return y.reshape(images, channels, rows_out, cols_out)
