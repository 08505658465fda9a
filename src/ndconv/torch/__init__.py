"""ndconv on PyTorch tensors: ``convolve``/``correlate`` and the ``Conv`` layer.

Imported only when asked for (``import ndconv.torch``); ``import ndconv`` never
imports torch.  Everything follows the one definition of :func:`ndconv.convolve`
(modes, the five boundary rules, origin, stride, dilation, batch axes), runs on
any device, is differentiable in the input and the kernel, and computes float32
in IEEE arithmetic (TF32 off inside every call, forward and backward).  A CPU call
with no gradient wanted, on float or complex tensors, runs on ndconv's NumPy core
(the tensors' own memory, its engines and planner); CUDA and gradients use torch's
engines (and, for one channel on CUDA, a Triton stencil).

=====================  ==========================================================
:func:`convolve`       convolution of tensors, ``method`` ``'direct'`` or ``'fft'``
:func:`correlate`      cross-correlation, ``convolve(x, flip(conj(k)), ...)``
:func:`choose_method`  what ``method='auto'`` runs
:class:`Conv`          ``torch.nn.Module`` like ``torch.nn.Conv{1,2,3}d``, with every
                       boundary rule, ``method='fft'`` and parametric kernels
:func:`ieee_float32`   context manager: TF32 off, restored on exit
=====================  ==========================================================
"""

from __future__ import annotations

try:
    import torch  # noqa: F401  (the real torch: imports are absolute)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError('ndconv.torch needs PyTorch; install it with: pip install "ndconv[torch]"') from exc

from ._engine import ieee_float32
from ._functional import FFT_MIN_TAPS, choose_method, convolve, correlate
from ._module import Conv

__all__ = ["FFT_MIN_TAPS", "Conv", "choose_method", "convolve", "correlate", "ieee_float32"]
