"""ndconv: discrete convolution, exact, fast and differentiable.

Public API (see ``docs/conventions.md`` for the definition):

``convolve``, ``correlate``, ``choose_method``, ``explain``, ``tune``.
"""

from ._version import __version__
from .api import choose_method, convolve, correlate
from .explain import explain
from .tuning import tune

__all__ = ["__version__", "choose_method", "convolve", "correlate", "explain", "tune"]
