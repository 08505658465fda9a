"""``ndconv.torch.convolve`` / ``correlate``: CPU tensors without gradients → ndconv's NumPy core;
otherwise validate (make_spec) → extend → direct or FFT on torch → restore."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch

from .. import api
from .._errors import bad_type, bad_value
from .._spec import ConvSpec, as_array, make_spec, options_key, result_dtype
from .._typing import Boundary, IntOrTuple, Method, Mode
from . import _engine, _grad

__all__ = ["FFT_MIN_TAPS", "choose_method", "convolve", "correlate"]

#: ``method="auto"`` runs the FFT when the kernel has at least this many taps
#: (``prod(k.shape)`` over the convolved axes), else the direct method.  Measured on
#: CPU float32, 2 threads (benchmarks/torch_fft.py): on a 512×512 image the direct
#: path and the FFT tie at 7×7 = 49 taps and the FFT is twice as fast at 15×15; on a
#: 2**16 signal direct wins at 64 taps and the FFT at 256.
FFT_MIN_TAPS = 100

#: Integer inputs run in float64: exact when every partial sum is an integer below 2**53
#: (direct), and the FFT when its rounding error stays far below 0.5.
_EXACT_DIRECT = 2.0 ** 53
_EXACT_FFT = 2.0 ** 40

_TORCH_TO_NUMPY = {
    torch.bool: np.bool_, torch.uint8: np.uint8, torch.int8: np.int8, torch.int16: np.int16,
    torch.int32: np.int32, torch.int64: np.int64, torch.float16: np.float16,
    torch.bfloat16: np.float16,  # computed and returned as float32, like float16 (§2)
    torch.float32: np.float32, torch.float64: np.float64,
    torch.complex64: np.complex64, torch.complex128: np.complex128,
}
_NUMPY_TO_TORCH = {np.dtype(np.int64): torch.int64, np.dtype(np.float32): torch.float32,
                   np.dtype(np.float64): torch.float64, np.dtype(np.complex64): torch.complex64,
                   np.dtype(np.complex128): torch.complex128}
_ALIASES = {"overlap_add": "fft", "separable": "direct"}

#: CPU tensors of these dtypes, with no gradient wanted, run on ndconv's NumPy core (shared
#: memory, no copies): its planner and engines (OpenCV, compiled loops, overlap-add, kept
#: spectra) against torch's CPU convolution, which is built for many channels — a one-channel
#: 3×3 'same' on 2048² float32: 2.4 ms against 106 ms.  Integers stay on torch's path, so a
#: call raises the same OverflowError on every device.  False (or ``NDCONV_TORCH_NUMPY=0`` in
#: the environment): torch's engines everywhere.
NUMPY_CORE = os.environ.get("NDCONV_TORCH_NUMPY", "1") != "0"
_NUMPY_CORE_DTYPES = (torch.float16, torch.float32, torch.float64, torch.complex64, torch.complex128)


def _as_tensor(value: Any, name: str, device: torch.device | None) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        if value.dtype not in _TORCH_TO_NUMPY:
            raise bad_type(name, value, "a tensor of dtype bool, integer, float16/bfloat16/32/64 or complex64/128")
        return value
    return torch.as_tensor(as_array(value, name), device=device)


def _placeholder(shape: torch.Size, dtype: np.dtype) -> np.ndarray:
    """An array of ``shape`` that occupies one element: make_spec reads shapes and dtypes only."""
    return np.broadcast_to(np.zeros((), dtype=dtype), tuple(shape))


#: specs kept by :func:`_spec`: a GPU call's host side is its latency (cuDNN's 3×3 conv of
#: 8×1024² takes 0.6 ms on an H100; make_spec alone took 0.06 ms of the host's time)
_SPECS: dict[Any, ConvSpec] = {}
_SPECS_MAX = 256


def _spec(x_shape: tuple[int, ...], k_shape: tuple[int, ...], dtype: np.dtype, correlate: bool,
          options: dict[str, Any]) -> ConvSpec:
    """make_spec of placeholders of these shapes, kept for options of hashable plain values.

    A spec depends on shapes, dtype and options only (never on values), and is frozen;
    options are keyed as make_spec keys its layouts (:func:`ndconv._spec.options_key`, with their
    types); what it cannot key (arrays, tensors) is validated afresh every call.
    """
    try:
        key: Any = (x_shape, k_shape, dtype, correlate, tuple(options), options_key(tuple(options.values())))
        spec = _SPECS.get(key)
    except TypeError:      # an unhashable option
        key = spec = None
    if spec is None:
        spec = make_spec(_placeholder(x_shape, dtype), _placeholder(k_shape, dtype), correlate=correlate,
                         **options)
        if key is not None:
            if len(_SPECS) >= _SPECS_MAX:
                _SPECS.clear()
            _SPECS[key] = spec
    return spec


def _prepare(x: Any, k: Any, correlate: bool, **options: Any) -> tuple[ConvSpec, torch.Tensor, torch.Tensor]:
    """The validated spec and x, k in canonical layout and compute dtype.

    ``k`` is in convolution form, except for a correlation: then it is ``conj(k)``
    unflipped (the flip is left to :func:`_compute`, which torch's direct path never needs).
    """
    device = x.device if isinstance(x, torch.Tensor) else k.device if isinstance(k, torch.Tensor) else None
    x = _as_tensor(x, "x", device)
    k = _as_tensor(k, "k", x.device)
    if x.device != k.device:
        raise bad_value("k", f"a tensor on {k.device}", f"on the device of x ({x.device})")
    dtype = result_dtype(np.dtype(_TORCH_TO_NUMPY[x.dtype]), np.dtype(_TORCH_TO_NUMPY[k.dtype]))
    spec = _spec(tuple(x.shape), tuple(k.shape), dtype, correlate, options)
    compute = torch.float64 if spec.is_integer else _NUMPY_TO_TORCH[spec.dtype]
    nb = x.ndim - spec.ndim
    canonical = tuple(range(nb, x.ndim))
    moved = spec.axes != canonical     # movedim and to() cost the host a few µs even when idle
    x_c = torch.movedim(x, spec.axes, canonical) if moved else x
    if k.ndim == x.ndim:
        k_c = torch.movedim(k, spec.axes, canonical) if moved else k
    else:
        k_c = k.reshape((1,) * nb + tuple(k.shape))
    x_c = x_c if x_c.dtype == compute else x_c.to(compute)
    k_c = k_c if k_c.dtype == compute else k_c.to(compute)
    if correlate:
        k_c = k_c.conj()
    return spec, x_c, k_c


def _bound(spec: ConvSpec, x: torch.Tensor, k: torch.Tensor) -> float:
    """Σ|h| · max|x̃| — bounds every partial sum of the result."""
    fill = abs(float(spec.fill_value)) if spec.boundary == "constant" else 0.0
    return float(k.abs().sum()) * max(float(x.abs().max()), fill)


def _finite(spec: ConvSpec, x: torch.Tensor, k: torch.Tensor) -> bool:
    """No NaN or ±∞ in x, k or the fill."""
    if spec.boundary == "constant" and not np.isfinite(spec.fill_value):
        return False
    return _all_finite(x, k)


def _method(spec: ConvSpec, x: torch.Tensor, k: torch.Tensor, look: bool = True) -> str:
    """Exactness first (integers, non-finite values), then the kernel size.

    ``look=False`` leaves out the look for NaN/±∞ in x and k: the caller checks the FFT's
    result instead (an FFT spreads any of them over every output), after the device has
    the whole computation queued rather than before it starts.
    """
    name = _ALIASES.get(spec.method, spec.method)
    if spec.is_integer:
        bound = _bound(spec, x, k)
        if bound > _EXACT_DIRECT:
            raise OverflowError(f"integer inputs are computed exactly in float64, which needs "
                                f"sum(|k|) * max(|x|) <= 2**53, got {bound:.4g}; convert x and k to a "
                                "floating dtype, or use ndconv.convolve (exact int64 on NumPy arrays)")
        if name == "fft" and bound > _EXACT_FFT:
            return "direct"
    if name == "auto":
        name = "fft" if math.prod(spec.kernel_shape) >= FFT_MIN_TAPS else "direct"
    if look and name == "fft" and not spec.is_integer and not _finite(spec, x, k):
        return "direct"   # an FFT would spread a NaN or Inf over the whole output
    return name


def _on_numpy_core(x: Any, k: Any, options: dict[str, Any]) -> bool:
    """Whether this call runs on ndconv's NumPy core (see :data:`NUMPY_CORE`)."""
    return (NUMPY_CORE and isinstance(x, torch.Tensor) and isinstance(k, torch.Tensor)
            and x.device.type == "cpu" and k.device.type == "cpu"
            and x.dtype in _NUMPY_CORE_DTYPES and k.dtype in _NUMPY_CORE_DTYPES
            and not _grad.wanted(x, k)
            and not isinstance(options.get("fill_value"), torch.Tensor))


def _as_numpy(t: torch.Tensor) -> np.ndarray:
    """The tensor's own memory as an array (a copy only for a pending conjugation or negation)."""
    return t.detach().resolve_conj().resolve_neg().numpy()


def _run(x: Any, k: Any, correlate: bool, **options: Any) -> torch.Tensor:
    if _on_numpy_core(x, k, options):
        xa, ka = _as_numpy(x), _as_numpy(k)
        y = (api.correlate if correlate else api.convolve)(xa, ka, **options)
        if (not y.flags.writeable or any(step < 0 for step in y.strides)   # what torch.from_numpy takes
                or np.may_share_memory(y, xa) or np.may_share_memory(y, ka)):   # a new tensor, always
            y = np.array(y)
        return torch.from_numpy(y)
    spec, x_c, k_c = _prepare(x, k, correlate, **options)
    method = _method(spec, x_c, k_c, look=False)
    totals: list = []
    y = _compute(spec, x_c, k_c, method, correlate, totals)
    if totals and not spec.is_integer and not _all_finite(totals[0], y):
        # NaN/±∞ in x, k or the fill (seen in the zero-frequency bins) or an overflow of the
        # spectra (finite data of large magnitude, seen only in the result): the FFT spread them;
        # the direct sum keeps each in its own windows
        y = _compute(spec, x_c, k_c, "direct", correlate)
    if spec.is_integer:
        y = torch.round(y).to(torch.int64)
    canonical = tuple(range(y.ndim - spec.ndim, y.ndim))
    return y if canonical == spec.axes else torch.movedim(y, canonical, spec.axes)


def _all_finite(*tensors: torch.Tensor) -> bool:
    """No NaN or ±∞ in any of ``tensors``, with one wait for the device.

    First the sum of all their values: finite when every value is, and NaN or ±∞ when
    one is (or when finite values overflow the sum; then the smallest and largest value
    of each decide — min/max carry a NaN through).  A sum reads at the device's memory
    speed: on an H100 ``aminmax`` of a 2^18-sample causal convolution's output took
    0.33 ms, against 4.5 ms for the whole FFT convolution; an ``isfinite`` mask of x
    cost a 2^20 × 64 causal convolution 0.7 ms on the CPU.
    """
    parts = [torch.view_as_real(t.detach()) if t.is_complex() else t.detach() for t in tensors if t.numel()]
    if not parts:
        return True
    if bool(torch.isfinite(sum(t.sum() for t in parts))):
        return True
    ends = [end for t in parts for end in torch.aminmax(t)]
    return bool(torch.isfinite(torch.stack(ends)).all())


def _compute(spec: ConvSpec, x_c: torch.Tensor, k_c: torch.Tensor, method: str, flipped: bool = False,
             totals: list | None = None) -> torch.Tensor:
    """The canonical-layout result of ``method`` (no rounding, no axis moves); an FFT puts its
    zero-frequency bins in ``totals`` (see :func:`_engine.fft`).  ``flipped``: ``k_c`` is a
    correlation's kernel, flipped on the convolved axes against convolution form."""
    if flipped and method == "fft":
        k_c = k_c.flip(tuple(range(k_c.ndim - spec.ndim, k_c.ndim)))
    fill = spec.fill_value.item() if hasattr(spec.fill_value, "item") else spec.fill_value
    ranges = [(g.first_needed, g.last_needed) for g in spec.geometry]
    strides = [g.stride for g in spec.geometry]
    dilations = [g.dilation for g in spec.geometry]
    lengths = x_c.shape[x_c.ndim - spec.ndim:]
    inside = [(max(first, 0), min(last, n - 1)) for (first, last), n in zip(ranges, lengths)]
    zeros = [(lo - first, last - hi) for (first, last), (lo, hi) in zip(ranges, inside)]
    if spec.boundary == "constant" and fill == 0 and all(lo <= hi for lo, hi in inside) and (
            method == "fft" or spec.ndim <= 3):
        # the zeros of x̃ are left to the transform's own padding, or to cuDNN's (the part both
        # sides share; F.pad adds the rest): no extended copy of x
        if method == "fft":
            y = _engine.fft(_engine.extend(x_c, inside, "constant"), k_c, strides, dilations, zeros, totals)
        else:
            both = [min(b, a) for b, a in zeros]
            z = _engine.extend(x_c, [(first + p, last - p) for (first, last), p in zip(ranges, both)], "constant")
            y = _engine.direct(z, k_c, strides, dilations, both, flipped)
    else:
        z = _engine.extend(x_c, ranges, spec.boundary, fill)
        if method == "fft":
            y = _engine.fft(z, k_c, strides, dilations, totals=totals)
        else:
            y = _engine.direct(z, k_c, strides, dilations, flipped=flipped)
    return y


def convolve(x: Any, k: Any, mode: Mode = "full", boundary: Boundary = "constant", *,
             fill_value: Any = 0, axes: Any = None, origin: IntOrTuple = 0, stride: IntOrTuple = 1,
             dilation: IntOrTuple = 1, method: Method = "auto") -> torch.Tensor:
    """Convolution of torch tensors, with the arguments and meaning of :func:`ndconv.convolve`.

    Parameters
    ----------
    x, k : torch.Tensor
        Input and kernel on the same device (array-likes are converted).
    mode, boundary, fill_value, axes, origin, stride, dilation
        As :func:`ndconv.convolve`: every mode, the five boundary rules and their
        aliases, batch axes and per-row kernels.
    method : {'auto', 'direct', 'fft', 'overlap_add', 'separable'}
        ``'direct'``: the extended input through ``torch.nn.functional.conv1d/2d/3d``
        (more than three axes loop over the taps of the leading ones); ``'fft'``:
        ``torch.fft.rfftn``/``irfftn`` (``fftn`` for complex) of
        ``scipy.fft.next_fast_len`` sizes; ``'auto'``: ``'fft'`` when the kernel has at
        least :data:`FFT_MIN_TAPS` taps, else ``'direct'``.  ``'overlap_add'`` runs as
        ``'fft'`` and ``'separable'`` as ``'direct'``.  A CPU call of float or complex
        tensors with no gradient wanted runs on ndconv's NumPy core instead, with its
        methods and planner (:data:`NUMPY_CORE`).

    Returns
    -------
    torch.Tensor
        On the device of ``x``.  float32 for float16, bfloat16 and float32 inputs
        (computed in IEEE float32, TF32 off in forward and backward), float64 and
        complex as ``numpy.result_type``; bool/integer inputs give exact int64,
        computed in float64 (OverflowError when ``Σ|k|·max|x| > 2**53``).

    Notes
    -----
    Differentiable in ``x`` and ``k`` (first derivatives).  The boundary extension
    is a gather, so its gradient adds every extended sample back onto its source
    (:func:`ndconv.boundary.fold`).  Whatever the method, a NaN or Inf reaches only
    the outputs whose window holds it: with non-finite values the FFT gives way to
    the direct method, as do integers whose FFT could round wrongly.

    Examples
    --------
    >>> import torch, ndconv.torch
    >>> ndconv.torch.convolve(torch.tensor([3, 1, 2]), torch.tensor([3, 2, 1])).tolist()
    [9, 9, 11, 5, 2]
    >>> y = ndconv.torch.convolve(torch.tensor([1., 2., 3., 4.]), torch.tensor([1., 1., 1.]),
    ...                           mode="same", boundary="wrap", method="fft")
    >>> [round(v, 4) for v in y.tolist()]
    [7.0, 6.0, 9.0, 8.0]
    """
    return _run(x, k, False, mode=mode, boundary=boundary, fill_value=fill_value, axes=axes, origin=origin,
                stride=stride, dilation=dilation, method=method)


def correlate(x: Any, k: Any, mode: Mode = "full", boundary: Boundary = "constant", *,
              fill_value: Any = 0, axes: Any = None, origin: IntOrTuple = 0, stride: IntOrTuple = 1,
              dilation: IntOrTuple = 1, method: Method = "auto") -> torch.Tensor:
    """Cross-correlation: exactly ``convolve(x, flip(conj(k)), ...)``, as :func:`ndconv.correlate`.

    Examples
    --------
    >>> import torch, ndconv.torch
    >>> ndconv.torch.correlate(torch.tensor([1, 2, 3, 4, 5]), torch.tensor([2, 1]), mode="valid").tolist()
    [4, 7, 10, 13]
    """
    return _run(x, k, True, mode=mode, boundary=boundary, fill_value=fill_value, axes=axes, origin=origin,
                stride=stride, dilation=dilation, method=method)


def choose_method(x: Any, k: Any, mode: Mode = "full", boundary: Boundary = "constant", *,
                  fill_value: Any = 0, axes: Any = None, origin: IntOrTuple = 0, stride: IntOrTuple = 1,
                  dilation: IntOrTuple = 1, method: Method = "auto", correlate: bool = False) -> str:
    """What :func:`convolve` runs for these arguments.

    On torch's engines (CUDA, a gradient wanted, integers, bfloat16) ``'direct'`` or
    ``'fft'``; a call that runs on ndconv's NumPy core (CPU tensors of a float or complex
    dtype, no gradient wanted: see ``ndconv.torch`` and :data:`NUMPY_CORE`) gets the name
    :func:`ndconv.choose_method` gives, any of ndconv's methods.

    Examples
    --------
    >>> import numpy as np, torch, ndconv, ndconv.torch
    >>> ndconv.torch.choose_method(torch.ones(100, requires_grad=True), torch.ones(5))
    'direct'
    >>> ndconv.torch.choose_method(torch.ones(4096, requires_grad=True), torch.ones(1024))
    'fft'
    >>> ndconv.torch.choose_method(torch.ones(4096), torch.ones(1024)) == ndconv.choose_method(
    ...     np.ones(4096, np.float32), np.ones(1024, np.float32))     # the NumPy core's planner
    True
    """
    options = dict(mode=mode, boundary=boundary, fill_value=fill_value, axes=axes, origin=origin, stride=stride,
                   dilation=dilation, method=method)
    if _on_numpy_core(x, k, options):
        return str(api.choose_method(_as_numpy(x), _as_numpy(k), correlate=correlate, **options))
    spec, x_c, k_c = _prepare(x, k, correlate, **options)
    return _method(spec, x_c, k_c)
