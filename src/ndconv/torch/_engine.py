"""The work behind ``ndconv.torch``: IEEE float32, boundary extension, direct and FFT cores.

Both cores solve the canonical problem of :mod:`ndconv._spec`: ``z`` is the
input already extended by the boundary rule to exactly the samples the outputs
read, x̃[first … last] on each convolved axis (length ``L``), batch axes first;
the outputs are ``y[i] = Σ_j h_d[j] · z[kd − 1 + i·s − j]``, ``i = 0 … count−1``,
with ``L = (count − 1)·s + kd``.

- direct: that is torch's cross-correlation of ``z`` with the flipped kernel,
  with torch's ``stride`` and ``dilation`` (``conv1d/2d/3d``; more than three
  axes loop over the taps of the leading axes).
- fft: the circular convolution of size ``F ≥ L`` equals the linear one on
  ``kd − 1 … L − 1`` (the wrap-around only reaches indices below ``kd − 1``),
  so ``y = irfftn(rfftn(z, F) · rfftn(h_d, F))[kd − 1 : L : s]``.

The extension is an ``index_select`` with :func:`ndconv.boundary.extension_index`,
so autograd's backward (an ``index_add``) is exactly :func:`ndconv.boundary.fold`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from scipy.fft import next_fast_len
from torch.autograd.function import once_differentiable

from .._shapes import broadcast
from ..boundary import extension_index
from . import _grad, _triton

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


class ieee_float32:
    """Run the block with TF32 off for cuDNN convolutions and CUDA matmuls; restore after.

    torch ≥ 2.9 keeps the TF32 state in ``fp32_precision`` (the legacy
    ``allow_tf32`` flags read and write it); reading a legacy flag while the
    two APIs disagree raises, so only the new API is touched when it exists.
    Settings already IEEE are left alone (the common case, a few µs of a GPU
    call's host time saved: a call's latency on the device is mostly its host side).
    """

    def __enter__(self) -> None:
        backends = torch.backends
        if hasattr(backends.cudnn, "conv") and hasattr(backends.cudnn.conv, "fp32_precision"):
            settings = [(backends.cudnn.conv, "fp32_precision"), (backends.cuda.matmul, "fp32_precision")]
            off: object = "ieee"
        else:  # pragma: no cover - torch < 2.9
            settings = [(backends.cudnn, "allow_tf32"), (backends.cuda.matmul, "allow_tf32")]
            off = False
        self._saved = [(owner, name, value) for owner, name in settings
                       if (value := getattr(owner, name)) != off]
        for owner, name, _ in self._saved:
            setattr(owner, name, off)

    def __exit__(self, *exc: object) -> None:
        for owner, name, value in self._saved:
            setattr(owner, name, value)


class _Correlate(torch.autograd.Function):
    """``torch.nn.functional.conv{1,2,3}d`` with IEEE float32 in forward *and* backward.

    Autograd's own backward would run after the caller's ``ieee_float32`` block,
    with whatever TF32 setting the user has; here it runs inside one.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, stride: tuple[int, ...],
                dilation: tuple[int, ...], groups: int, padding: tuple[int, ...]) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        ctx.options = stride, dilation, groups, padding
        with ieee_float32():
            return _CONV[w.ndim - 2](x, w, None, stride, padding, dilation, groups)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[Any, ...]:
        x, w = ctx.saved_tensors
        stride, dilation, groups, padding = ctx.options
        zeros = [0] * (w.ndim - 2)
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], False]
        with ieee_float32():
            dx, dw, _ = torch.ops.aten.convolution_backward(dy, x, w, None, list(stride), list(padding),
                                                            list(dilation), False, zeros, groups, mask)
        return dx, dw, None, None, None, None


def correlate_ieee(x: torch.Tensor, w: torch.Tensor, stride: Sequence[int], dilation: Sequence[int],
                   groups: int = 1, padding: Sequence[int] | None = None) -> torch.Tensor:
    """torch's cross-correlation (zero ``padding`` on both sides, none by default), IEEE float32
    in both passes.  One channel on CUDA with no gradient wanted runs on the Triton stencil
    of :mod:`ndconv.torch._triton` where it applies."""
    padding = tuple(padding) if padding is not None else (0,) * (w.ndim - 2)
    if _triton.usable(x, w, groups):
        y = _triton.correlate(x, w, stride, dilation, padding)
        if y is not None:
            return y
    if x.is_complex() or not _grad.wanted(x, w):
        # complex: aten's convolution_backward has no complex kernels, autograd's own formula;
        # no gradient wanted: the autograd.Function's own cost (~20 µs of host time) saved
        with ieee_float32():
            return _CONV[w.ndim - 2](x, w, None, tuple(stride), padding, tuple(dilation), groups)
    return _Correlate.apply(x, w, tuple(stride), tuple(dilation), groups, padding)


def extend(x: torch.Tensor, ranges: Sequence[tuple[int, int]], boundary: str, fill_value: Any = 0) -> torch.Tensor:
    """x̃[first … last] on each of the last ``len(ranges)`` axes of ``x``.

    A constant fill is ``torch.nn.functional.pad`` of the samples read (one kernel on
    the device); the other rules gather with :func:`ndconv.boundary.extension_index`
    (built on the host: for a causal convolution of 2^20 samples the gather's index
    and mask cost 25 ms against 5 ms for the FFTs, so the constant rule avoids them).
    """
    naxes = len(ranges)
    for i, (first, last) in enumerate(ranges):
        axis = x.ndim - naxes + i
        n = x.shape[axis]
        if first == 0 and last == n - 1:
            continue
        if first >= 0 and last < n:
            x = x.narrow(axis, first, last - first + 1)
            continue
        lo, hi = max(first, 0), min(last, n - 1)
        if boundary == "constant" and lo <= hi and not isinstance(fill_value, complex):
            widths = [0, 0] * (x.ndim - 1 - axis) + [lo - first, last - hi]   # last axis first, as F.pad reads
            x = F.pad(x.narrow(axis, lo, hi - lo + 1), widths, value=float(fill_value))
            continue
        index, inside = extension_index(n, first, last, boundary)
        x = x.index_select(axis, torch.as_tensor(index, device=x.device))
        if boundary == "constant":
            shape = [1] * x.ndim
            shape[axis] = -1
            mask = torch.as_tensor(inside, device=x.device).reshape(shape)
            x = torch.where(mask, x, torch.full((), fill_value, dtype=x.dtype, device=x.device))
    return x


def direct(z: torch.Tensor, kernel: torch.Tensor, stride: Sequence[int], dilation: Sequence[int],
           padding: Sequence[int] | None = None, flipped: bool = False) -> torch.Tensor:
    """Canonical direct convolution; ``kernel`` in convolution form, batch axes broadcast.

    ``padding``: zeros of x̃ on both sides of ``z`` per axis, left to cuDNN (up to three axes).
    ``flipped``: ``kernel`` is given flipped on the convolved axes (a correlation's own
    kernel, conjugated), which is the weight torch reads: no flip is made.
    """
    naxes = len(stride)
    nb = z.ndim - naxes
    if naxes > 3:
        assert padding is None or not any(padding)
        return _direct_by_taps(z, kernel.flip(tuple(range(nb, kernel.ndim))) if flipped else kernel, stride,
                               dilation)
    lengths, taps = z.shape[nb:], kernel.shape[nb:]
    z_batch, k_batch = tuple(z.shape[:nb]), tuple(kernel.shape[:nb])
    weight = kernel if flipped else kernel.flip(tuple(range(nb, kernel.ndim)))
    if all(s == 1 for s in k_batch):        # one kernel: the batch folds into torch's batch axis
        y = correlate_ieee(z.reshape((-1, 1) + lengths), weight.reshape((1, 1) + taps), stride, dilation,
                           padding=padding)
        batch = z_batch
    elif all(s == 1 for s in z_batch):      # one input, many kernels: torch's output channels
        y = correlate_ieee(z.reshape((1, 1) + lengths), weight.reshape((-1, 1) + taps), stride, dilation,
                           padding=padding)
        batch = k_batch
    else:                                   # a kernel per batch row: one group each
        batch = broadcast(z_batch, k_batch)
        rows = math.prod(batch)
        y = correlate_ieee(z.expand(batch + lengths).reshape((1, rows) + lengths),
                           weight.expand(batch + taps).reshape((rows, 1) + taps), stride, dilation, rows,
                           padding=padding)
    return y.reshape(batch + y.shape[2:])


def _direct_by_taps(z: torch.Tensor, kernel: torch.Tensor, stride: Sequence[int],
                    dilation: Sequence[int]) -> torch.Tensor:
    """More than three axes: sum over the taps of the first axis of (n−1)-D convolutions."""
    axis = z.ndim - len(stride)
    taps, s, d = kernel.shape[axis], stride[0], dilation[0]
    kd = d * (taps - 1) + 1
    count = (z.shape[axis] - kd) // s + 1
    index = [slice(None)] * z.ndim
    total = None
    for j in range(taps):
        # y[i] = Σ_j h[j] z[kd − 1 + i·s − d·j]: the rows z[d·(K−1−j) + i·s]
        index[axis] = slice(d * (taps - 1 - j), d * (taps - 1 - j) + (count - 1) * s + 1, s)
        part = direct(z[tuple(index)], kernel.narrow(axis, j, 1), stride[1:], dilation[1:])
        total = part if total is None else total + part
    assert total is not None
    return total


def dilate(kernel: torch.Tensor, dilation: Sequence[int]) -> torch.Tensor:
    """``h_d`` on the last ``len(dilation)`` axes: ``h_d[d·j] = h[j]``, zeros between."""
    if all(d == 1 for d in dilation):
        return kernel
    naxes = len(dilation)
    lead = kernel.shape[:kernel.ndim - naxes]
    taps = kernel.shape[kernel.ndim - naxes:]
    out = kernel.new_zeros(lead + tuple(d * (k - 1) + 1 for k, d in zip(taps, dilation)))
    out[(Ellipsis,) + tuple(slice(None, None, d) for d in dilation)] = kernel
    return out


def fft_sizes(lengths: Sequence[int], real: bool) -> list[int]:
    """``scipy.fft.next_fast_len`` of each length."""
    return [next_fast_len(n, real=real) for n in lengths]


def _pair_axis(a: torch.Tensor, b: torch.Tensor, naxes: int) -> int | None:
    """A leading axis of ``a`` of even length along which ``b`` broadcasts (length 1 or absent)."""
    lead = a.ndim - naxes
    for axis in range(lead):
        other = axis - (a.ndim - b.ndim)
        if a.shape[axis] % 2 == 0 and (other < 0 or b.shape[other] == 1):
            return axis
    return None


def fft(z: torch.Tensor, kernel: torch.Tensor, stride: Sequence[int], dilation: Sequence[int],
        zeros: Sequence[tuple[int, int]] | None = None, totals: list | None = None) -> torch.Tensor:
    """Canonical FFT convolution; ``kernel`` in convolution form, batch axes broadcast.

    ``zeros``: per axis, how many zeros x̃ has before and after ``z`` (a zero
    boundary left unmaterialised).  The transform of ``z`` pads them at its end
    instead; the outputs then sit ``before`` samples earlier in the circular
    result, and a size covering the whole x̃ keeps the wrap-around off them.
    ``totals``: a list that receives the product's zero-frequency bins, ``Σ z · Σ h``
    per batch row — not finite exactly when a NaN or ±∞ in z or h (or an overflow)
    has spread over the whole result.

    On CUDA, real rows that share a kernel go two to a complex row: with h real,
    ``(a + ib) ∗ h = a ∗ h + i·(b ∗ h)``, so one complex transform does the work of
    two real ones.  cuFFT's real transforms are a half-size complex one plus a
    pre- or post-processing pass, and the inverse overwrites (so torch copies) its
    input; the complex pair skips all three (an 8×32×2^16 causal convolution on
    an H100: 0.94 ms against 1.17).  The 1/F of the inverse is applied to the
    smaller of the two spectra, not in a pass of its own over the result.
    """
    naxes = len(stride)
    dims = tuple(range(-naxes, 0))
    zeros = tuple(zeros) if zeros is not None else ((0, 0),) * naxes
    lengths = tuple(n + b + a for n, (b, a) in zip(z.shape[z.ndim - naxes:], zeros))
    hd = dilate(kernel, dilation)
    kd = hd.shape[hd.ndim - naxes:]
    complex_ = z.is_complex() or hd.is_complex()
    sizes = fft_sizes(lengths, real=not complex_)
    pair = None
    if not complex_ and z.device.type in PAIR_DEVICES and z.dtype in _PAIRED and hd.dtype in _PAIRED:
        for first, second in ((z, hd), (hd, z)):
            axis = _pair_axis(first, second, naxes)
            if axis is not None:
                pair = axis - first.ndim   # counted from the end: the same axis of the result
                half = first.shape[axis] // 2
                packed = torch.complex(first.narrow(axis, 0, half), first.narrow(axis, half, half))
                z, hd = (packed, hd) if first is z else (z, packed)
                break
    if pair is not None or complex_:
        forward, inverse = torch.fft.fftn, torch.fft.ifftn
    else:
        forward, inverse = torch.fft.rfftn, torch.fft.irfftn
    scale_z = z.numel() < hd.numel()
    Z = forward(z, s=sizes, dim=dims, norm="forward" if scale_z else "backward")
    H = forward(hd, s=sizes, dim=dims, norm="backward" if scale_z else "forward")
    product = Z * H
    if totals is not None:
        totals.append(product.detach()[(Ellipsis,) + (0,) * naxes])
    full = inverse(product, s=sizes, dim=dims, norm="forward")
    y = full[(Ellipsis,) + tuple(slice(k - 1 - b, n - b, s) for k, n, s, (b, _) in zip(kd, lengths, stride, zeros))]
    if pair is not None:
        y = torch.cat((y.real, y.imag), dim=pair)
    return y


#: devices on which :func:`fft` pairs real rows into complex ones, and the real dtypes it pairs
PAIR_DEVICES = frozenset({"cuda"})
_PAIRED = (torch.float32, torch.float64)


class _ChannelSum(torch.autograd.Function):
    """``Y[b, g, o, f] = Σ_c X[b, g, c, f] · W[g, o, c, f]`` with IEEE float32 in both passes."""

    @staticmethod
    def forward(ctx: Any, X: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(X, W)
        with ieee_float32():
            return torch.einsum("bgcf,gocf->bgof", X, W)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dY: torch.Tensor) -> tuple[Any, ...]:
        X, W = ctx.saved_tensors
        with ieee_float32():   # torch's complex gradients are conjugate Wirtinger: dX = dY · conj(W)
            dX = torch.einsum("bgof,gocf->bgcf", dY, W.conj()) if ctx.needs_input_grad[0] else None
            dW = torch.einsum("bgof,bgcf->gocf", dY, X.conj()) if ctx.needs_input_grad[1] else None
        return dX, dW


def fft_channels(z: torch.Tensor, weight: torch.Tensor, stride: Sequence[int], dilation: Sequence[int],
                 groups: int) -> torch.Tensor:
    """``torch.nn.functional.conv{1,2,3}d`` (no padding) of the padded ``z`` by FFT.

    The spatial axes are transformed once; the channel sum of each output is a
    product-and-sum in the frequency domain.
    """
    naxes = len(stride)
    dims = tuple(range(-naxes, 0))
    batch, channels = z.shape[:2]
    lengths = z.shape[2:]
    hd = dilate(weight.flip(dims), dilation)
    kd = hd.shape[2:]
    sizes = fft_sizes(lengths, real=True)
    scale_z = z.numel() < hd.numel()   # 1/F on the smaller input's spectrum (see :func:`fft`)
    Z = torch.fft.rfftn(z, s=sizes, dim=dims, norm="forward" if scale_z else "backward")
    H = torch.fft.rfftn(hd, s=sizes, dim=dims, norm="backward" if scale_z else "forward")
    spectrum = Z.shape[2:]
    Z = Z.reshape((batch, groups, channels // groups, -1))
    H = H.reshape((groups, weight.shape[0] // groups, weight.shape[1], -1))
    Y = _ChannelSum.apply(Z, H).reshape((batch, weight.shape[0]) + spectrum)
    full = torch.fft.irfftn(Y, s=sizes, dim=dims, norm="forward")
    return full[(Ellipsis,) + tuple(slice(k - 1, n, s) for k, n, s in zip(kd, lengths, stride))]
