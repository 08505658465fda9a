"""``ndconv.torch.Conv``: ``torch.nn.Conv{1,2,3}d`` with every boundary rule, an FFT path
and parametric kernels (``weight = mat(Q θ)``)."""

from __future__ import annotations

import math
from typing import Any

import torch

from .._errors import bad_choice, bad_type, bad_value
from .._spec import normalize_boundary, per_axis
from ..nn._layers_base import positive_int
from ..nn.functional import _padding
from ..param import ParamModel
from . import _engine
from ._functional import FFT_MIN_TAPS, _all_finite

_METHODS = ("auto", "direct", "fft")


class Conv(torch.nn.Module):
    """Convolution layer over ``nd`` spatial axes, channels first ``(batch, channels, *spatial)``.

    Computes the cross-correlation of ``torch.nn.Conv{1,2,3}d``; the boundary
    rules ``'constant'`` (zeros), ``'reflect'``, ``'edge'`` and ``'wrap'`` give
    torch's ``padding_mode`` ``'zeros'``, ``'reflect'``, ``'replicate'`` and
    ``'circular'``, and ``'symmetric'`` (``ba|abcd|dc``) is added.  Every rule
    repeats, so any padding width works.

    Parameters
    ----------
    nd : {1, 2, 3}
        Number of spatial axes.
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size : int or tuple of int
        Kernel taps per spatial axis.
    stride, dilation : int or tuple of int
        As torch (>= 1).
    padding : int, tuple of int, 'same' or 'valid'
        As ``torch.nn.functional.conv2d``; ``'same'`` (the default) needs stride
        1 and puts the odd sample of an even kernel at the end, like torch.
    boundary : str
        How the padding is filled: any rule or alias of :func:`ndconv.convolve`
        (``fill_value`` 0 for ``'constant'``).
    groups : int
        Channels split into independent blocks, as torch.
    bias : bool
        Learn a bias per output channel.
    method : {'auto', 'direct', 'fft'}
        ``'direct'``: torch's convolution on the extended input; ``'fft'``: one
        real FFT of each input channel and each kernel, the channel sum in the
        frequency domain; ``'auto'``: FFT when a kernel has at least
        :data:`ndconv.torch.FFT_MIN_TAPS` taps.
    kernel_model : ndconv.param model, optional
        A linear model (``Stencil``, ``SymmetricStencil``, ``AntisymmetricStencil``,
        ``MMatrixStencil``, …) of shape ``kernel_size``: the layer learns ``theta``
        ``(out_channels, in_channels/groups, num_params)`` and each kernel is
        ``model(theta[o, i])``, i.e. ``vec(K) = Q θ`` with the model's ``Q`` kept
        as the buffer ``Q``.
    device, dtype
        Of the parameters, as in torch (default float32).

    Attributes
    ----------
    weight : torch.Tensor
        The effective weight ``(out_channels, in_channels/groups, *kernel_size)``:
        the parameter itself, or ``mat(Q θ)`` with a kernel model.

    Notes
    -----
    Initialisation follows ``torch.nn.ConvNd``: free weights and the bias are
    uniform in ``±1/sqrt(fan_in)`` (``kaiming_uniform_`` with ``a=sqrt(5)``),
    ``fan_in = in_channels/groups · prod(kernel_size)``.  ``theta`` is uniform in
    ``±sqrt(size/‖Q‖²_F)/sqrt(fan_in)`` so that the effective weights have the same
    mean variance.  ``mat(Q θ)`` is an elementwise product-and-sum (no matmul), and
    every convolution runs with TF32 off, so float32 stays IEEE on GPUs.

    Examples
    --------
    >>> import torch, ndconv.torch
    >>> layer = ndconv.torch.Conv(2, 1, 4, 3, boundary="symmetric")
    >>> layer(torch.ones(2, 1, 8, 8)).shape
    torch.Size([2, 4, 8, 8])
    >>> from ndconv.param import SymmetricStencil
    >>> layer = ndconv.torch.Conv(2, 1, 4, 3, kernel_model=SymmetricStencil((3, 3)), method="fft")
    >>> tuple(layer.theta.shape), tuple(layer.weight.shape)
    ((4, 1, 4), (4, 1, 3, 3))
    """

    def __init__(self, nd: int, in_channels: int, out_channels: int, kernel_size: Any, *, stride: Any = 1,
                 padding: Any = "same", boundary: str = "constant", dilation: Any = 1, groups: int = 1,
                 bias: bool = True, method: str = "auto", kernel_model: ParamModel | None = None,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if nd not in (1, 2, 3) or isinstance(nd, bool):
            raise bad_choice("nd", nd, (1, 2, 3))
        self.nd = int(nd)
        self.in_channels = positive_int("in_channels", in_channels)
        self.out_channels = positive_int("out_channels", out_channels)
        self.groups = positive_int("groups", groups)
        for name, count in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if count % self.groups:
                raise bad_value("groups", groups, f"a divisor of {name}={count}")
        self.kernel_size = per_axis("kernel_size", kernel_size, self.nd, minimum=1)
        self.stride = per_axis("stride", stride, self.nd, minimum=1)
        self.dilation = per_axis("dilation", dilation, self.nd, minimum=1)
        self.pads = _padding(padding, self.kernel_size, self.dilation, self.stride)
        self.padding = padding
        self.boundary = normalize_boundary(boundary)
        if method not in _METHODS:
            raise bad_choice("method", method, _METHODS)
        self.method = method
        self.kernel_model = kernel_model
        factory = {"device": device, "dtype": dtype}
        pairs = (self.out_channels, self.in_channels // self.groups)
        fan_in = pairs[1] * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in)
        if kernel_model is None:
            weight = torch.empty(pairs + self.kernel_size, **factory)
            torch.nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
            self.register_parameter("weight", torch.nn.Parameter(weight))
        else:
            self._init_theta(kernel_model, pairs, bound, factory)
        if bias:
            self.bias = torch.nn.Parameter(torch.empty(self.out_channels, **factory).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)

    def _init_theta(self, model: Any, pairs: tuple[int, int], bound: float, factory: dict) -> None:
        if not isinstance(model, ParamModel) or not model.is_linear:
            raise bad_type("kernel_model", model, "a linear ndconv.param model (one with .Q) or None")
        if tuple(model.shape) != self.kernel_size:
            raise bad_value("kernel_model", model, f"a model of shape kernel_size={self.kernel_size}")
        q = torch.as_tensor(model.Q.toarray(), **factory)
        if factory["dtype"] is None:
            q = q.to(torch.get_default_dtype())
        self.register_buffer("Q", q)
        norm2 = float((q ** 2).sum())
        scale = bound * math.sqrt(model.size / norm2) if norm2 else 0.0
        theta = torch.empty(pairs + (model.num_params,), **factory).uniform_(-scale, scale)
        self.theta = torch.nn.Parameter(theta)

    @property
    def weight(self) -> torch.Tensor:  # type: ignore[override]
        """The effective weight ``(out_channels, in_channels/groups, *kernel_size)``."""
        if self.kernel_model is None:
            if "weight" not in self._parameters:   # during __init__: lets register_parameter see no attribute
                raise AttributeError("weight")
            return self._parameters["weight"]
        flat = (self.theta.unsqueeze(-2) * self.Q).sum(-1)          # θ @ Qᵀ without a (TF32) matmul
        stored = self.kernel_size[::-1] if self.kernel_model.order == "F" else self.kernel_size
        kernels = flat.reshape(flat.shape[:2] + stored)
        if self.kernel_model.order == "F":
            kernels = kernels.permute((0, 1) + tuple(range(kernels.ndim - 1, 1, -1)))
        return kernels

    def _use_fft(self) -> bool:
        if self.method == "auto":
            return math.prod(self.kernel_size) >= FFT_MIN_TAPS
        return self.method == "fft"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight
        if not isinstance(x, torch.Tensor):
            raise bad_type("x", x, "a torch.Tensor")
        if x.ndim != self.nd + 2 or x.shape[1] != self.in_channels:
            raise bad_value("x", f"a tensor of shape {tuple(x.shape)}",
                            f"a tensor (batch, {self.in_channels}, *spatial) with {self.nd} spatial axes")
        if x.dtype != weight.dtype:
            raise bad_type("x", x, f"a tensor of the layer's dtype {weight.dtype}")
        ranges = [(-before, n - 1 + after) for n, (before, after) in zip(x.shape[2:], self.pads)]
        extents = [d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation)]
        if any(last - first + 1 < e for (first, last), e in zip(ranges, extents)):
            raise bad_value("x", f"a tensor of shape {tuple(x.shape)}",
                            f"an input whose padded size fits the dilated kernel {tuple(extents)}")
        z = _engine.extend(x, ranges, self.boundary, 0)
        if self._use_fft():
            y = _engine.fft_channels(z, weight, self.stride, self.dilation, self.groups)
            if not _all_finite(y):   # a NaN/±∞ in x or the weights, or spectra overflowed: the FFT
                # spread it over the whole output; the direct sum keeps each in its own windows
                y = _engine.correlate_ieee(z, weight, self.stride, self.dilation, self.groups)
        else:
            y = _engine.correlate_ieee(z, weight, self.stride, self.dilation, self.groups)
        if self.bias is not None:
            y = y + self.bias.reshape((-1,) + (1,) * self.nd)
        return y

    def extra_repr(self) -> str:
        text = (f"{self.nd}, {self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}, boundary={self.boundary!r}, "
                f"dilation={self.dilation}, groups={self.groups}, bias={self.bias is not None}, "
                f"method={self.method!r}")
        return text if self.kernel_model is None else text + f", kernel_model={self.kernel_model!r}"
