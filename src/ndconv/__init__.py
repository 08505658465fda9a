"""ndconv: discrete convolution, exact, fast and differentiable.

Public API (see ``docs/conventions.md`` for the definition):

``convolve``, ``correlate``, ``choose_method``, ``explain``, ``tune``;
``ConvOperator``, ``convolution_matrix`` (docs/operators.md);
``match_template`` (template matching, also in ``filters``).  Submodules:
``param`` (parametric kernels), ``fourier`` (DFT matrix, centred transforms,
sampling), ``filters`` (Gaussian, Sobel, … equal to scipy.ndimage's), and,
imported on demand: ``nn`` (NumPy CNN), ``datasets`` (digits, MNIST, a sample
photograph), ``testing`` (reference oracle, dottest, gradcheck), ``plot``
(matplotlib pictures), ``torch`` (PyTorch engine), ``dask`` (chunked arrays),
``boundary`` (extension and fold) and ``bench`` (timing helpers).  Either
``import ndconv.nn`` or the attribute ``ndconv.nn`` loads one (as SciPy's
submodules load): ``import ndconv`` itself imports no optional framework.
"""

import importlib as _importlib

from . import filters, fourier, param
from ._match import match_template
from ._version import __version__
from .api import choose_method, convolve, correlate
from .explain import explain
from .operator import ConvOperator, convolution_matrix
from .tuning import tune

__all__ = ["__version__", "ConvOperator", "choose_method", "convolution_matrix", "convolve", "correlate",
           "explain", "filters", "fourier", "match_template", "param", "tune"]

#: submodules loaded on first attribute access (PEP 562), not by ``import ndconv``
_ON_DEMAND = frozenset({"bench", "boundary", "dask", "datasets", "nn", "plot", "testing", "torch"})


def __getattr__(name: str):
    if name in _ON_DEMAND:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _ON_DEMAND)
