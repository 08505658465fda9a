"""ndconv: discrete convolution, exact, fast and differentiable.

Public API (see ``docs/conventions.md`` for the definition):

``convolve``, ``correlate``, ``choose_method``, ``explain``, ``tune``;
``ConvOperator``, ``convolution_matrix`` (docs/operators.md);
``match_template`` (template matching, also in ``filters``).  Submodules:
``param`` (parametric kernels), ``fourier`` (DFT matrix, centred transforms,
sampling), ``filters`` (Gaussian, Sobel, … equal to scipy.ndimage's), and,
imported on demand: ``nn`` (NumPy CNN), ``datasets`` (digits, MNIST, a sample
photograph), ``testing`` (reference oracle, dottest, gradcheck), ``plot``
(matplotlib pictures) and ``torch`` (PyTorch engine: ``import ndconv.torch``).
"""

from . import filters, fourier, param
from ._match import match_template
from ._version import __version__
from .api import choose_method, convolve, correlate
from .explain import explain
from .operator import ConvOperator, convolution_matrix
from .tuning import tune

__all__ = ["__version__", "ConvOperator", "choose_method", "convolution_matrix", "convolve", "correlate",
           "explain", "filters", "fourier", "match_template", "param", "tune"]
