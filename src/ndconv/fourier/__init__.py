"""Fourier tools of the course notes: the DFT matrix, centred transforms, the
sampling theorem (sinc reconstruction, resampling, aliasing).  See docs/sampling.md.

``dft_matrix``, ``cfft``, ``icfft``, ``freqs`` (``_dft.py``); ``sinc_interpolate``
(``_sinc.py``); ``resample``, ``aliased_frequency`` (``_sampling.py``).
"""

from ._dft import cfft, dft_matrix, freqs, icfft
from ._sampling import aliased_frequency, resample
from ._sinc import sinc_interpolate

__all__ = ["aliased_frequency", "cfft", "dft_matrix", "freqs", "icfft", "resample", "sinc_interpolate"]
