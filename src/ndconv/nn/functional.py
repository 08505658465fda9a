"""Stateless CNN operations on NumPy arrays, channels first: ``(batch, channels, *spatial)``.

``conv`` is the cross-correlation of ``torch.nn.functional.conv1d/2d/3d`` with
ndconv's boundary rules; ``conv_input_grad``, ``conv_weight_grad`` and
``conv_bias_grad`` are its exact gradients (the work is in ``_conv_gemm``).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._errors import bad_choice, bad_type, bad_value
from .._spec import as_array, normalize_boundary, per_axis
from . import _conv_gemm
from ._conv_gemm import ConvGeometry

__all__ = ["conv", "conv_backward", "conv_bias_grad", "conv_input_grad", "conv_weight_grad"]

_PADDING_WORDS = ("valid", "same")


class _Shape:
    """Quotes an array by its shape in error messages: ``got an array of shape (2, 4)``."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def __repr__(self) -> str:
        return f"an array of shape {self.shape}"


def _float_array(value: Any, name: str) -> np.ndarray:
    """Real floating array: float16 → float32, bool/integer → float64."""
    arr = as_array(value, name)
    if arr.dtype.kind == "c":
        raise bad_type(name, arr, "a real array (bool, integer or float)")
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype == np.float16:
        return arr.astype(np.float32)
    return arr


def _padding(padding: object, kernel: tuple[int, ...], dilation: tuple[int, ...],
             stride: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    naxes = len(kernel)
    if isinstance(padding, str):
        if padding not in _PADDING_WORDS:
            raise bad_choice("padding", padding, _PADDING_WORDS)
        if padding == "valid":
            return ((0, 0),) * naxes
        if any(s != 1 for s in stride):
            raise bad_value("padding", padding, f"an int or a tuple when stride != 1 "
                            f"(like torch, 'same' needs stride 1; stride={stride})")
        total = [r * (k - 1) for k, r in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in total)       # extra sample at the end
    widths = per_axis("padding", padding, naxes, minimum=0)
    return tuple((p, p) for p in widths)


def _geometry(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: object, padding: object,
              boundary: object, dilation: object, groups: object) -> ConvGeometry:
    if not 3 <= x.ndim <= 5:
        raise bad_value("x", _Shape(x.shape),
                        "an array (batch, channels, *spatial) with 1 to 3 spatial axes")
    if w.ndim != x.ndim:
        raise bad_value("w", _Shape(w.shape),
                        f"an array (out_channels, in_channels/groups, *kernel) with "
                        f"{x.ndim} dimensions like x of shape {x.shape}")
    if isinstance(groups, (bool, np.bool_)) or not isinstance(groups, (numbers.Integral, np.integer)) \
            or groups < 1:
        raise bad_value("groups", groups, "an int >= 1")
    groups = int(groups)
    batch, in_channels = x.shape[:2]
    out_channels = w.shape[0]
    if in_channels % groups:
        raise bad_value("groups", groups, f"a divisor of in_channels={in_channels}")
    if out_channels % groups:
        raise bad_value("groups", groups, f"a divisor of out_channels={out_channels} (w.shape[0])")
    if w.shape[1] * groups != in_channels:
        raise bad_value("w", _Shape(w.shape),
                        f"an array with w.shape[1] == in_channels/groups == {in_channels // groups} "
                        f"(x has {in_channels} channels, groups={groups})")
    if b is not None and b.shape != (out_channels,):
        raise bad_value("b", _Shape(b.shape), f"None or an array of shape ({out_channels},)")
    naxes = x.ndim - 2
    kernel = tuple(w.shape[2:])
    if min(kernel + x.shape) < 1:
        raise bad_value("x and w", (_Shape(x.shape), _Shape(w.shape)), "non-empty arrays")
    stride_ = per_axis("stride", stride, naxes, minimum=1)
    dilation_ = per_axis("dilation", dilation, naxes, minimum=1)
    pad = _padding(padding, kernel, dilation_, stride_)
    # a stride past the last window start keeps the first window only, as the shortest
    # such stride does: kept that short, no index arithmetic sees a stride of 2**63 or more
    stride_ = tuple(min(s, max(n + a + b - (d * (k - 1) + 1) + 1, 1))
                    for s, n, (a, b), k, d in zip(stride_, x.shape[2:], pad, kernel, dilation_))
    geometry = ConvGeometry(batch, in_channels, out_channels, groups, tuple(x.shape[2:]), kernel,
                            stride_, dilation_, pad, normalize_boundary(boundary))
    if min(geometry.output) < 1:
        raise bad_value("w", _Shape(w.shape),
                        f"a kernel whose dilated extent {geometry.extent} fits the padded input "
                        f"{geometry.padded}")
    return geometry


def _prepare(x: Any, w: Any, b: Any, stride: object, padding: object, boundary: object,
             dilation: object, groups: object) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, ConvGeometry]:
    x, w = _float_array(x, "x"), _float_array(w, "w")
    b = None if b is None else _float_array(b, "b")
    geometry = _geometry(x, w, b, stride, padding, boundary, dilation, groups)
    dtype = np.result_type(x, w, *(() if b is None else (b,)))
    _conv_gemm.check_memory_for(geometry, dtype)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    return x, w, None if b is None else b.astype(dtype, copy=False), geometry


def conv(x: Any, w: Any, b: Any = None, *, stride: object = 1, padding: object = 0,
         boundary: object = "constant", dilation: object = 1, groups: object = 1) -> np.ndarray:
    """Multi-channel, batched cross-correlation — ``torch.nn.functional.conv{1,2,3}d``.

    Parameters
    ----------
    x : array_like, shape (batch, in_channels, *spatial)
        Input with 1, 2 or 3 spatial axes.
    w : array_like, shape (out_channels, in_channels / groups, *kernel)
        Filters (not flipped: this is a cross-correlation, like torch).
    b : array_like, shape (out_channels,), optional
        Bias added to every output sample of each channel.
    stride : int or tuple of int
        Step between output samples, per spatial axis (>= 1).
    padding : int, tuple of int, 'valid' or 'same'
        Samples added before and after each spatial axis. ``'valid'`` is 0;
        ``'same'`` keeps the spatial size (stride 1 only, like torch) with
        ``dilation·(k−1)`` samples per axis, the odd one at the end.
    boundary : str
        How the padding is filled: ``'constant'`` (zeros; torch's ``'zeros'``),
        ``'wrap'`` (``'circular'``), ``'reflect'``, ``'edge'`` (``'replicate'``),
        or ``'symmetric'``, or any alias of :func:`ndconv.convolve`. Drawn on
        ``abcd`` padded by 2: reflect ``cb|abcd|cb``, symmetric ``ba|abcd|dc``.
        Every rule repeats, so any padding width works (torch limits reflect
        and circular to widths below the input size).
    dilation : int or tuple of int
        Spacing between kernel taps (>= 1).
    groups : int
        Channels are split into ``groups`` independent blocks; ``groups ==
        in_channels`` is a depthwise convolution.

    Returns
    -------
    ndarray, shape (batch, out_channels, *output)
        ``output[i] = (spatial[i] + 2·padding[i] − dilation[i]·(kernel[i] − 1) − 1)
        // stride[i] + 1``. float32 inputs give float32, float64 give float64
        (the common type of x, w and b); float16 is computed in float32 and
        bool/integer inputs in float64. Complex inputs raise TypeError.

    Notes
    -----
    With x̃ the input extended by the boundary rule and g(o) the group of
    output channel o,

        y[n, o, p] = b[o] + Σ_{c ∈ g(o)} Σ_t w[o, c − c₀(g), t] · x̃[n, c, p·stride + t·dilation].

    3×3 stride-1 layers with at least 16 input and output channels, outputs of
    at least 16×16 and finite operands run by Winograd F(4×4, 3×3): 36 small GEMMs on transformed tiles,
    2.25 multiply-adds per output and input channel instead of 9, with a float32
    error near 2·10⁻⁶ of the largest output (far inside ndconv's bound
    10⁻⁵·Σ|w|·max|x|).  Other layers gather im2col columns and run one BLAS matmul
    batched over (batch, group).  Large batches are shared by the cores, each
    running its own share with BLAS on one thread.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.nn.functional import conv
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> conv(x, np.ones((1, 1, 3)), padding="same")
    array([[[1., 3., 6., 9., 7.]]])
    >>> conv(x, np.ones((1, 1, 3)), padding=1, boundary="reflect")
    array([[[ 2.,  3.,  6.,  9., 10.]]])
    """
    x, w, b, geometry = _prepare(x, w, b, stride, padding, boundary, dilation, groups)
    return _conv_gemm.forward(x, w, b, geometry)


def _prepare_backward(dy: Any, x: Any, w: Any, stride: object, padding: object, boundary: object,
                      dilation: object, groups: object) -> tuple[np.ndarray, np.ndarray, np.ndarray, ConvGeometry]:
    x, w, _, geometry = _prepare(x, w, None, stride, padding, boundary, dilation, groups)
    dy = _float_array(dy, "dy")
    expected = (geometry.batch, geometry.out_channels) + geometry.output
    if dy.shape != expected:
        raise bad_value("dy", _Shape(dy.shape), f"an array of the output shape {expected}")
    dtype = np.result_type(dy, x)
    return dy.astype(dtype, copy=False), x.astype(dtype, copy=False), w.astype(dtype, copy=False), geometry


def conv_input_grad(dy: Any, x: Any, w: Any, *, stride: object = 1, padding: object = 0,
                    boundary: object = "constant", dilation: object = 1, groups: object = 1) -> np.ndarray:
    """Gradient of ``(conv(x, w, ...) * dy).sum()`` with respect to ``x``.

    The same arguments as :func:`conv` (``x`` gives the shape; its values are
    not read). The transpose of im2col adds every kernel tap's contribution
    back onto the padded input, and :func:`ndconv.boundary.fold` (the adjoint
    of the boundary extension) folds the padding back onto x, so the gradient
    is exact for every boundary, including repeated (wide) extensions.

    Examples
    --------
    >>> import numpy as np
    >>> dy = np.ones((1, 1, 3))
    >>> conv_input_grad(dy, np.zeros((1, 1, 3)), np.ones((1, 1, 3)), padding=1, boundary="wrap")
    array([[[3., 3., 3.]]])
    """
    dy, _, w, geometry = _prepare_backward(dy, x, w, stride, padding, boundary, dilation, groups)
    return _conv_gemm.input_grad(dy, w, geometry)


def conv_weight_grad(dy: Any, x: Any, w: Any, *, stride: object = 1, padding: object = 0,
                     boundary: object = "constant", dilation: object = 1, groups: object = 1) -> np.ndarray:
    """Gradient of ``(conv(x, w, ...) * dy).sum()`` with respect to ``w``.

    ``dw[o, c, t] = Σ_{n, p} dy[n, o, p] · x̃[n, c, p·stride + t·dilation]``:
    ``dy[n] @ cols[n]ᵀ`` per sample and group (BLAS), summed over the batch. ``w`` gives the shape
    (its values are not read).
    """
    dy, x, _, geometry = _prepare_backward(dy, x, w, stride, padding, boundary, dilation, groups)
    return _conv_gemm.weight_grad(dy, x, geometry)


def conv_bias_grad(dy: Any) -> np.ndarray:
    """Gradient with respect to ``b``: ``dy`` summed over batch and spatial axes."""
    dy = _float_array(dy, "dy")
    if dy.ndim < 3:
        raise bad_value("dy", _Shape(dy.shape), "an array (batch, channels, *spatial)")
    return _conv_gemm.bias_grad(dy)


def conv_backward(dy: Any, x: Any, w: Any, *, stride: object = 1, padding: object = 0,
                  boundary: object = "constant", dilation: object = 1,
                  groups: object = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All three gradients of :func:`conv`: ``(dx, dw, db)``.

    ``dx`` and ``dw`` as :func:`conv_input_grad` and :func:`conv_weight_grad`,
    ``db`` as :func:`conv_bias_grad` (whether or not the forward pass had a bias).

    Examples
    --------
    >>> import numpy as np
    >>> x, w = np.ones((2, 1, 4)), np.ones((3, 1, 2))
    >>> dx, dw, db = conv_backward(np.ones((2, 3, 3)), x, w)
    >>> dx.shape, dw.shape, db
    ((2, 1, 4), (3, 1, 2), array([6., 6., 6.]))
    """
    dy, x, w, geometry = _prepare_backward(dy, x, w, stride, padding, boundary, dilation, groups)
    return _conv_gemm.backward(dy, x, w, geometry)
