"""Template matching by FFT cross-correlation and running window sums.

Every score is built from three ingredients, so the cost does not grow with
the template size: the cross-correlation ``Σ x·t`` of each window with the
template (one real FFT of the image, the template's spectrum, one inverse of
the valid rows: the convolution code of ``ndconv.methods.fft``), and the window
sums ``Σ x`` and ``Σ x²`` (running sums in float64, one pass over the image,
rows shared by the cores).  With ``n`` the template size and ``x_w`` the window::

    ccorr   Σ x_w·t
    sqdiff  Σ (x_w − t)²                    = Σx_w² − 2Σx_w·t + Σt²
    ncc     Σ x_w·t / (‖x_w‖ ‖t‖)           cosine similarity
    zncc    Σ (x_w − x̄_w)(t − t̄) / (‖x_w − x̄_w‖ ‖t − t̄‖)   Pearson

Accuracy: the image is shifted by its mean before anything is summed (zncc
and sqdiff do not change under a common shift), which removes the
cancellation an offset would cause.  float16/float32 images are correlated
with float32 FFTs (as OpenCV and scikit-image do) and give float32 scores;
other images use float64 throughout.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import numba
import numpy as np
import scipy.fft as sfft

from ._errors import bad_choice, bad_type, bad_value, check_memory
from ._spec import as_array, normalize_boundary
from .boundary import extend
from .methods import fft as _fft
from .methods._finite import power_of_two_exponent, times_power_of_two
from .methods._numba_kernels import run_jobs

MATCH_METHODS = ("zncc", "ncc", "ccorr", "sqdiff")
#: a window (or template) whose sum of squares is below this share of the
#: image's (template's) total is flat: its zncc/ncc score is 0
FLAT_SHARE = {np.dtype(np.float32): (16 * np.finfo(np.float32).eps) ** 2, np.dtype(np.float64): 16 * 2.0 ** -52}


#: score at least this many window sums (×8 passes) on all cores
PARALLEL_SCORES = 2**20

#: method codes of the compiled loop
_CODES = {"zncc": 0, "ncc": 1, "sqdiff": 2}


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _score_rows(x, t0, t1, shift, numerator, out, n, t_energy, flat_level, code):  # pragma: no cover - compiled
    """Scores of every t0×t1 window of the 2-D ``x`` from its cross-correlation.

    The window sums Σ(x−shift) and Σ(x−shift)² are running sums in float64:
    column sums over t0 rows move down one row at a time, and each output
    row is a running sum of t1 column sums.  ``out`` may be ``numerator``:
    each row of ``numerator`` is copied out before its scores are written
    (with the two arrays the same, the compiler's overlap check left the score
    loop scalar: 3.6 of the 5.8 ms of a 1024² image with a 64² template, one
    core; with the copy 1.1).  ``out`` should be C-contiguous (see ``_finish``).
    """
    width = x.shape[1]
    rows, out_width = out.shape
    col1 = np.zeros(width)
    col2 = np.zeros(width)
    row1 = np.empty(out_width)
    row2 = np.empty(out_width)
    cross = np.empty(out_width)
    for i in range(t0):
        for j in range(width):
            v = x[i, j] - shift
            col1[j] += v
            col2[j] += v * v
    for r in range(rows):
        if r > 0:
            for j in range(width):
                a = x[r + t0 - 1, j] - shift
                b = x[r - 1, j] - shift
                col1[j] += a - b
                col2[j] += a * a - b * b
        acc1 = 0.0
        acc2 = 0.0
        for j in range(t1 - 1):
            acc1 += col1[j]
            acc2 += col2[j]
        for c in range(out_width):
            acc1 += col1[c + t1 - 1]
            acc2 += col2[c + t1 - 1]
            row1[c] = acc1
            row2[c] = acc2
            acc1 -= col1[c]
            acc2 -= col2[c]
        for c in range(out_width):
            cross[c] = numerator[r, c]
        if code == 2:
            for c in range(out_width):
                out[r, c] = max(row2[c] - 2.0 * cross[c] + t_energy, 0.0)
            continue
        if code == 0:
            for c in range(out_width):
                row2[c] -= row1[c] * row1[c] / n
        for c in range(out_width):  # branch-free, so that it vectorises
            energy = row2[c]
            inside = energy > flat_level
            score = cross[c] / np.sqrt(energy * t_energy if inside else 1.0)
            out[r, c] = min(max(score, -1.0), 1.0) if inside else 0.0


def _window_sum_nd(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Σ over every window of ``shape`` by cumulative sums along each axis (float64)."""
    for axis, t in enumerate(shape):
        c = np.cumsum(a, axis=axis, dtype=np.float64)
        upper = np.take(c, np.arange(t - 1, c.shape[axis]), axis=axis)
        lower = np.take(c, np.arange(0, c.shape[axis] - t), axis=axis)
        upper[(slice(None),) * axis + (slice(1, None),)] -= lower
        a = upper
    return a


def _finish(x, shape, shift, numerator, t_energy, flat_level, method) -> np.ndarray:
    """Scores from the cross-correlation and the window sums of ``x − shift``."""
    n = math.prod(shape)
    if x.ndim <= 2:
        lead = (1,) * (2 - x.ndim)
        cross = numerator.reshape(lead + numerator.shape)
        # a C-contiguous result: the cross-correlation is a view of the inverse FFT's rows,
        # and written through such a view the compiled loop ran its stores one by one
        # (1024² with 64², one core: 7.0 ms against 3.5)
        out = np.empty(cross.shape, dtype=cross.dtype)
        image = x.reshape(lead + x.shape)
        t0, t1 = lead + tuple(shape)
        code = _CODES[method]

        def rows(lo: int, hi: int) -> None:  # each range starts its own running sums
            _score_rows(image[lo:hi + t0 - 1], t0, t1, shift, cross[lo:hi], out[lo:hi], n, t_energy, flat_level, code)

        # the compiled loop releases the GIL: the cores take equal ranges of rows (1024² with 64²: 9 → 5 ms)
        run_jobs(rows, (), out.shape[0], parallel=out.size * 8 >= PARALLEL_SCORES)
        return out.reshape(numerator.shape)
    centred = x.astype(np.float64) - shift
    s1, s2 = _window_sum_nd(centred, shape), _window_sum_nd(centred * centred, shape)
    if method == "sqdiff":
        return np.maximum(s2 - 2.0 * numerator + t_energy, 0.0)
    if method == "zncc":
        s2 -= s1 * s1 / n
    flat = s2 <= flat_level
    denominator = np.sqrt(np.where(flat, 1.0, s2 * t_energy))
    return np.clip(np.where(flat, 0.0, numerator / denominator), -1.0, 1.0)


def _cross_correlation(x: np.ndarray, t: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``Σ_j x[i+j]·t[j]`` for every window inside ``x`` (valid), by real FFTs.

    A transform as long as ``x`` suffices: the valid outputs never wrap round.
    The template's transform is that of a convolution kernel (its leading axes by
    a few DFT-matrix columns), and the inverse keeps only the valid rows.
    """
    sizes = tuple(sfft.next_fast_len(n, real=(i == x.ndim - 1)) for i, n in enumerate(x.shape))
    flipped = t[(slice(None, None, -1),) * t.ndim].astype(dtype)
    # the flipped template ends at index T-1: output i sits at i + T - 1
    return _fft.convolve_spectra(x.astype(dtype, copy=False), flipped, tuple(range(x.ndim)), sizes,
                                 tuple(slice(k - 1, n) for k, n in zip(t.shape, x.shape)))


def _check_inputs(image: Any, template: Any) -> tuple[np.ndarray, np.ndarray]:
    image_arr = as_array(image, "image")
    template_arr = as_array(template, "template")
    for name, arr in (("image", image_arr), ("template", template_arr)):
        if arr.dtype.kind == "c":
            raise bad_type(name, arr, "an array of real numbers")
        if arr.ndim == 0 or arr.size == 0:
            raise bad_value(name, arr, "a non-empty array with at least one axis")
    if template_arr.ndim != image_arr.ndim:
        raise ValueError(f"template must have as many axes as image ({image_arr.ndim}), "
                         f"got template.ndim={template_arr.ndim}")
    if any(t > n for t, n in zip(template_arr.shape, image_arr.shape)):
        raise ValueError(f"template must fit inside image on every axis, got template.shape="
                         f"{template_arr.shape} and image.shape={image_arr.shape}")
    if not np.isfinite(template_arr).all():
        raise ValueError("template must hold only finite values, got NaN or infinity")
    return image_arr, template_arr


def _float_dtypes(image: np.ndarray) -> tuple[np.dtype, np.dtype]:
    """(FFT dtype, output dtype): float32 for float16/float32 images, else float64."""
    dtype = np.dtype(np.float32 if image.dtype in (np.float16, np.float32) else np.float64)
    return dtype, dtype


def match_template(image: Any, template: Any, *, method: str = "zncc", pad_input: bool = False,
                   boundary: str = "constant", fill_value: float = 0.0) -> np.ndarray:
    r"""Similarity of ``template`` with every window of ``image``.

    Parameters
    ----------
    image : array_like
        Real image of any number of axes (2-D and 3-D are the usual).
    template : array_like
        Real template with as many axes as ``image``, no larger on any axis.
    method : {'zncc', 'ncc', 'ccorr', 'sqdiff'}
        ``'zncc'`` (zero-normalised cross-correlation: the Pearson correlation
        of window and template, in [−1, 1]; equal to
        ``skimage.feature.match_template`` and OpenCV's ``TM_CCOEFF_NORMED``),
        ``'ncc'`` (cosine similarity of window and template, in [−1, 1]; OpenCV's
        ``TM_CCORR_NORMED``), ``'ccorr'`` (plain ``Σ x·t``, ``TM_CCORR``) or
        ``'sqdiff'`` (``Σ (x − t)²``, ``TM_SQDIFF``; best match is the lowest).
    pad_input : bool
        False: one score per window inside the image, shape
        ``image.shape − template.shape + 1``, score ``[i, j]`` for the window
        whose top-left corner is ``(i, j)``.  True: the image is extended by
        ``boundary`` so that the output has the image's shape and score
        ``[i, j]`` is for the window centred on ``(i, j)`` (the window starts
        ``template.shape // 2`` before it), as in scikit-image.
    boundary : str
        ndconv boundary rule used with ``pad_input=True`` (``'constant'`` by
        default, scikit-image's default ``mode``).
    fill_value : float
        Value outside the image for ``boundary='constant'``.

    Returns
    -------
    ndarray
        float32 for float16/float32 images, float64 otherwise.

    Raises
    ------
    ValueError
        Bad ``method`` or ``boundary``; a template with a different number of
        axes, larger than the image, or not finite; an image with NaN/infinity.
    TypeError
        Complex, object or string data.

    Notes
    -----
    Flat windows and templates: where the window (for ``'zncc'``: after its
    mean is removed) or the template has no energy, the normalised score
    0/0 is defined as **0**, as scikit-image does — never NaN or infinity.  A
    window counts as flat when its sum of squares is below ``FLAT_SHARE``
    (about 4e-12 for float32, 4e-15 for float64) of the image's total, the
    level that rounding in the running sums and FFTs can reach.  Normalised
    scores are clipped to [−1, 1] and ``'sqdiff'`` to ≥ 0.

    Magnitude: data whose squares would over- or underflow (values beyond
    about 1e±18 in float32, 1e±150 in float64) are first scaled by a power of
    two, which is exact: zncc and ncc give the scores of the unscaled data bit
    for bit, ccorr and sqdiff those scores times the scale (inf or 0 only where
    the true value is out of range).

    The cost is three FFTs of the image's size plus a few passes over it,
    whatever the template's size.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv import match_template
    >>> image = np.zeros((6, 6))
    >>> image[1, 1], image[4, 4] = 1, -1
    >>> template = np.zeros((3, 3))
    >>> template[1, 1] = 1
    >>> match_template(image, template).round(3)
    array([[ 1.   , -0.125,  0.   ,  0.   ],
           [-0.125, -0.125,  0.   ,  0.   ],
           [ 0.   ,  0.   ,  0.125,  0.125],
           [ 0.   ,  0.   ,  0.125, -1.   ]])
    >>> match_template([0., 1., 2., 3.], [1., 2.], method="sqdiff")
    array([2., 0., 2.])
    """
    image_arr, template_arr = _check_inputs(image, template)
    if not isinstance(method, str) or method not in MATCH_METHODS:
        raise bad_choice("method", method, MATCH_METHODS)
    if not isinstance(pad_input, (bool, np.bool_)):
        raise bad_value("pad_input", pad_input, "True or False")
    boundary = normalize_boundary(boundary)
    fft_dtype, out_dtype = _float_dtypes(image_arr)
    padded = tuple(n + (t - 1 if pad_input else 0) for n, t in zip(image_arr.shape, template_arr.shape))
    # the image in the FFT dtype, its spectrum (complex, half the last axis), the inverse and the scores
    check_memory("the padded image", padded, 5 * math.prod(padded) * np.dtype(fft_dtype).itemsize,
                 " with its spectrum and the scores")
    image_arr = np.ascontiguousarray(image_arr, dtype=fft_dtype)
    if pad_input:
        pad = tuple((t // 2, t - 1 - t // 2) for t in template_arr.shape)
        image_arr = extend(image_arr, pad, boundary, fill_value)
    mean = float(np.mean(image_arr, dtype=np.float64))
    if not math.isfinite(mean):
        raise ValueError("image must hold only finite values (of finite sum), got NaN or infinity")
    scores = _scores(image_arr, template_arr.astype(np.float64), method, mean, fft_dtype)
    return scores.astype(out_dtype, copy=False)


#: sums of squares outside this range are rescaled by a power of two first: squares and FFT
#: products of values near 1e±20 (float32) or 1e±150 (float64) over- or underflow, which made
#: every window look flat (zncc/ncc 0 everywhere) or gave inf/0 for ccorr and sqdiff
ENERGY_RANGE = (2.0**-100, 2.0**100)


def _rescaled(x: np.ndarray, shift: float) -> tuple[np.ndarray, float, np.ndarray, float, int]:
    """``(x, shift, x − shift, Σ(x − shift)², e)`` with x and shift multiplied by ``2**−e``:
    ``e = 0`` unless that energy is outside :data:`ENERGY_RANGE`.  A power of two scales
    every later sum and product exactly, so the scores keep their bits."""
    e = 0
    for _ in range(2):
        xs = x - x.dtype.type(shift) if shift else x
        flat = xs.ravel()
        with np.errstate(over="ignore", under="ignore"):
            total = float(np.dot(flat, flat))   # the image's energy: the scale of rounding errors
        if e or ENERGY_RANGE[0] <= total <= ENERGY_RANGE[1]:
            break
        e = power_of_two_exponent(xs)   # 0 for an image that is flat (after its mean): nothing to rescale
        if e == 0:
            break
        x, shift = times_power_of_two(x, -e), math.ldexp(shift, -e)
    return x, shift, xs, total, e


def _scores(x: np.ndarray, t: np.ndarray, method: str, mean: float, fft_dtype: np.dtype) -> np.ndarray:
    shift = mean if method in ("zncc", "sqdiff") else 0.0
    x, shift, xs, total, x_exp = _rescaled(x, shift)
    # the template in the image's scale for sqdiff (Σ(x − t)² needs one scale), else in its own
    t_exp = x_exp if method == "sqdiff" else power_of_two_exponent(t)
    t = times_power_of_two(t, -t_exp)
    if method == "ccorr":
        return times_power_of_two(_cross_correlation(xs, t, fft_dtype), x_exp + t_exp)
    if method == "zncc":
        t_used = t - t.mean()
        t_flat = np.sum(t_used * t_used) <= t.size * (8 * np.finfo(np.float64).eps * np.abs(t).max()) ** 2
    else:
        t_used = t - shift
        t_flat = method == "ncc" and not t.any()
    if t_flat:  # 0/0 everywhere: defined as 0
        return np.zeros(tuple(n - k + 1 for n, k in zip(x.shape, t.shape)), dtype=fft_dtype)
    numerator = _cross_correlation(xs, t_used, fft_dtype)
    t_energy = float(np.sum(t_used * t_used))
    scores = _finish(x, t.shape, shift, numerator, t_energy, FLAT_SHARE[fft_dtype] * total, method)
    return times_power_of_two(scores, 2 * x_exp) if method == "sqdiff" and x_exp else scores


class Matches(NamedTuple):
    """Best matches, best first: ``positions`` (m, ndim) int64 and ``scores`` (m,)."""

    positions: np.ndarray
    scores: np.ndarray


def find_matches(scores: Any, template_shape: Any, k: int = 1, *, method: str = "zncc",
                 threshold: float | None = None) -> Matches:
    """The best ``k`` matches whose template footprints do not overlap.

    Greedy non-maximum suppression: take the best score, discard every
    position whose window would overlap it (closer than ``template_shape`` on
    every axis), repeat.

    Parameters
    ----------
    scores : array_like
        Output of :func:`match_template` (either ``pad_input``).
    template_shape : sequence of int
        Shape of the template, one length per axis of ``scores``.
    k : int
        Most matches to return; fewer come back when the image holds fewer
        non-overlapping windows (or fewer pass ``threshold``).
    method : {'zncc', 'ncc', 'ccorr', 'sqdiff'}
        The scores' method: the best is the highest, or the lowest for
        ``'sqdiff'``.
    threshold : float, optional
        Keep only scores at least this good (≥, or ≤ for ``'sqdiff'``).

    Returns
    -------
    Matches
        ``positions`` (m × ndim, int64, indices into ``scores``) and ``scores``
        (m,), best first.  NaN scores are never matched.  Cost: O(k · size).

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.filters import find_matches
    >>> scores = np.array([[0.1, 0.9, 0.8, 0.0], [0.0, 0.2, 0.3, 0.7]])
    >>> find_matches(scores, (2, 2), k=3)
    Matches(positions=array([[0, 1],
           [1, 3]]), scores=array([0.9, 0.7]))
    """
    arr = as_array(scores, "scores")
    if arr.dtype.kind == "c" or arr.ndim == 0:
        raise bad_value("scores", arr, "a real array with at least one axis")
    if not isinstance(method, str) or method not in MATCH_METHODS:
        raise bad_choice("method", method, MATCH_METHODS)
    allowed = f"a sequence of {arr.ndim} ints >= 1"
    try:
        shape = tuple(int(s) for s in template_shape)
    except (TypeError, ValueError) as exc:
        raise bad_value("template_shape", template_shape, allowed) from exc
    if len(shape) != arr.ndim or min(shape) < 1:
        raise bad_value("template_shape", template_shape, allowed)
    if not isinstance(k, (numbers.Integral, np.integer)) or isinstance(k, bool) or k < 0:
        raise bad_value("k", k, "an int >= 0")
    sign = -1.0 if method == "sqdiff" else 1.0
    work = sign * arr.astype(np.float64)
    work[np.isnan(work)] = -np.inf
    if threshold is not None:
        work[work < sign * float(threshold)] = -np.inf
    positions, values = [], []
    for _ in range(int(k)):
        flat_index = int(np.argmax(work))
        if work.flat[flat_index] == -np.inf:
            break
        position = np.unravel_index(flat_index, arr.shape)
        positions.append(position)
        values.append(arr[position])
        work[tuple(slice(max(p - s + 1, 0), p + s) for p, s in zip(position, shape))] = -np.inf
    return Matches(np.array(positions, dtype=np.int64).reshape(-1, arr.ndim), np.array(values, dtype=arr.dtype))
