"""ndconv against its peers: one test per row of the peer table.

Every row of the table in ``docs/conventions.md`` ("Reproducing the peers")
is backed here by a comparison with the peer's actual output:

* NumPy (``np.convolve``, ``np.correlate``, ``np.pad``), SciPy signal and
  SciPy ndimage, and PyTorch are called directly;
* MATLAB and TensorFlow are not installed, so this file carries a small
  literal implementation of each one's *documented* definition
  (``matlab_conv2``, ``matlab_conv``, ``tf_conv2d``); each reference is first
  checked against a worked example from its own documentation or the notes.

Float cases use float64 and a tolerance of ``1e-12 · Σ|h| · max|x|`` (the
accuracy promised in §2 of the contract); integer cases must agree exactly
and come back as int64.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest
import scipy.ndimage as ndimage
import scipy.signal as signal

import ndconv

# --------------------------------------------------------------------------- helpers


def _rng(*key: object) -> np.random.Generator:
    """A generator seeded from the test's parameters, so every case is reproducible."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _data(rng: np.random.Generator, shape, *, complex_: bool = False) -> np.ndarray:
    a = rng.standard_normal(shape)
    if complex_:
        a = a + 1j * rng.standard_normal(shape)
    return a


def assert_same_result(ours, theirs, x, h) -> None:
    """Shapes equal; values within 1e-12 · Σ|h| · max|x| (float) or exactly (integer)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"shape {ours.shape} != peer's {theirs.shape}"
    if np.asarray(x).dtype.kind in "biu" and np.asarray(h).dtype.kind in "biu":
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours, theirs)
        return
    scale = np.abs(h).sum() * np.abs(x).max() if np.size(x) and np.size(h) else 1.0
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12 * max(scale, 1.0))


def dilated_length(k: int, d: int) -> int:
    return d * (k - 1) + 1


def even_origin(kernel_shape, dilation=1) -> tuple[int, ...]:
    """``origin=1`` on every axis whose dilated kernel length is even, 0 elsewhere."""
    dilation = np.broadcast_to(dilation, (len(kernel_shape),))
    return tuple(int(dilated_length(k, d) % 2 == 0) for k, d in zip(kernel_shape, dilation))


SIZES_1D = [(1, 1), (5, 1), (5, 2), (8, 3), (8, 4), (13, 7), (2, 5), (3, 6)]  # (N, K), K > N last
SHAPES_2D = [((6, 7), (3, 3)), ((6, 7), (2, 4)), ((5, 5), (4, 1)), ((9, 4), (3, 2)), ((3, 2), (4, 5))]
SHAPES_3D = [((5, 4, 6), (2, 3, 2)), ((4, 6, 3), (3, 1, 4))]

# --------------------------------------------------------------------------- NumPy


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n, k", SIZES_1D)
@pytest.mark.parametrize("kind", ["float", "complex", "int"])
def test_numpy_convolve(mode, n, k, kind):
    """np.convolve(x, h, mode) == convolve(x, h, mode); numpy swaps when K > N."""
    rng = _rng("np.convolve", mode, n, k, kind)
    if kind == "int":
        x, h = rng.integers(-50, 50, n), rng.integers(-50, 50, k)
    else:
        x, h = _data(rng, n, complex_=kind == "complex"), _data(rng, k, complex_=kind == "complex")
    theirs = np.convolve(x, h, mode)
    ours = ndconv.convolve(x, h, mode) if k <= n else ndconv.convolve(h, x, mode)
    assert_same_result(ours, theirs, x, h)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n, k", SIZES_1D)
@pytest.mark.parametrize("kind", ["float", "complex", "int"])
def test_numpy_correlate(mode, n, k, kind):
    """np.correlate(x, h, mode) == correlate(x, h, mode) (origin 0, even K too).

    For K > N numpy computes the swapped problem and reverses it:
    ``correlate(h, x, mode)[::-1].conj()``.
    """
    rng = _rng("np.correlate", mode, n, k, kind)
    if kind == "int":
        x, h = rng.integers(-50, 50, n), rng.integers(-50, 50, k)
    else:
        x, h = _data(rng, n, complex_=kind == "complex"), _data(rng, k, complex_=kind == "complex")
    theirs = np.correlate(x, h, mode)
    ours = ndconv.correlate(x, h, mode) if k <= n else ndconv.correlate(h, x, mode)[::-1].conj()
    assert_same_result(ours, theirs, x, h)


@pytest.mark.parametrize("boundary", ["constant", "wrap", "reflect", "symmetric", "edge"])
@pytest.mark.parametrize("n, k", [(4, 3), (4, 4), (6, 5), (4, 11), (3, 10), (2, 8)])
@pytest.mark.parametrize("correlate", [False, True])
def test_numpy_pad_then_valid(boundary, n, k, correlate):
    """Pad (before, after) with np.pad, take the valid part  ==  'same', origin = K//2 − before.

    This is the boundary table of §1 ("same as numpy.pad"), including kernels
    longer than the input (the extension repeats), and the general rule that
    turns any 'pad then valid' peer into ndconv's 'same' with an origin.
    """
    rng = _rng("np.pad", boundary, n, k, correlate)
    x, h = _data(rng, n), _data(rng, k)
    for before in range(k):
        after = k - 1 - before
        padded = np.pad(x, (before, after), mode=boundary)
        theirs = np.correlate(padded, h, "valid") if correlate else np.convolve(padded, h, "valid")
        function = ndconv.correlate if correlate else ndconv.convolve
        ours = function(x, h, "same", boundary, origin=k // 2 - before)
        assert_same_result(ours, theirs, x, h)


# --------------------------------------------------------------------------- SciPy signal

def _mode_cases(shapes):
    """(mode, x_shape, k_shape) for every mode, 'valid' only where K <= N on every axis."""
    return [(mode, xs, ks) for mode in ("full", "same", "valid") for xs, ks in shapes
            if mode != "valid" or all(k <= n for n, k in zip(xs, ks))]


SIGNAL_CASES = _mode_cases([((n,), (k,)) for n, k in SIZES_1D] + SHAPES_2D + SHAPES_3D)


@pytest.mark.parametrize("mode, x_shape, k_shape", SIGNAL_CASES)
@pytest.mark.parametrize("correlate", [False, True])
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_signal_convolve_correlate(mode, x_shape, k_shape, correlate, method):
    """signal.convolve/correlate(x, h, mode, method) == ndconv's namesake, origin 0.

    'same' is the centre of 'full' starting at (K−1)//2, for both functions and
    for even kernels.  'valid' is compared where the kernel fits (K ≤ N on every
    axis); scipy swaps the inputs otherwise, ndconv raises ValueError.
    """
    rng = _rng("signal", mode, x_shape, k_shape, correlate, method)
    x, h = _data(rng, x_shape, complex_=correlate), _data(rng, k_shape, complex_=correlate)
    peer = signal.correlate if correlate else signal.convolve
    function = ndconv.correlate if correlate else ndconv.convolve
    assert_same_result(function(x, h, mode), peer(x, h, mode, method=method), x, h)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("correlate", [False, True])
def test_signal_integer_exact(mode, correlate):
    """Integer inputs: scipy's direct method and ndconv agree exactly (int64)."""
    rng = _rng("signal-int", mode, correlate)
    x, h = rng.integers(-1000, 1000, (7, 9)), rng.integers(-1000, 1000, (2, 3))
    peer = signal.correlate if correlate else signal.convolve
    function = ndconv.correlate if correlate else ndconv.convolve
    assert_same_result(function(x, h, mode), peer(x, h, mode, method="direct"), x, h)


@pytest.mark.parametrize("peer", [signal.fftconvolve, signal.oaconvolve])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_signal_fftconvolve_oaconvolve_axes(peer, mode):
    """fftconvolve/oaconvolve with ``axes``: the other axes broadcast (one kernel per row)."""
    rng = _rng(peer.__name__, mode)
    x = _data(rng, (4, 3, 40))
    h = _data(rng, (1, 3, 6))
    assert_same_result(ndconv.convolve(x, h, mode, axes=-1), peer(x, h, mode, axes=-1), x, h)
    # scipy's 'same' crops *every* axis to x's shape, broadcast axes included:
    # where x has length 1 and h has 3 it keeps the middle row of ndconv's result
    x1 = x[:, :1]
    ours = ndconv.convolve(x1, h, mode, axes=-1)
    if mode == "same":
        ours = ours[:, 1:2]
    assert_same_result(ours, peer(x1, h, mode, axes=-1), x1, h)
    # 2-D, all axes
    x2, h2 = _data(rng, (30, 17)), _data(rng, (4, 5))
    assert_same_result(ndconv.convolve(x2, h2, mode), peer(x2, h2, mode), x2, h2)
    # a 1-D kernel along the last axis of a batch (k.ndim < x.ndim: batch axes)
    x3, h3 = _data(rng, (3, 25)), _data(rng, 4)
    assert_same_result(ndconv.convolve(x3, h3, mode), peer(x3, h3[None, :], mode, axes=-1), x3, h3)


SIGNAL_BOUNDARY = {"fill": "constant", "wrap": "wrap", "symm": "symmetric"}


@pytest.mark.parametrize("mode, x_shape, k_shape", _mode_cases(SHAPES_2D + [((2, 3), (7, 6))]))
@pytest.mark.parametrize("scipy_boundary", list(SIGNAL_BOUNDARY))
@pytest.mark.parametrize("correlate", [False, True])
def test_signal_convolve2d_correlate2d(mode, scipy_boundary, x_shape, k_shape, correlate):
    """convolve2d/correlate2d(boundary=fill/wrap/symm, fillvalue) == boundary constant/wrap/symmetric.

    convolve2d 'same' is origin 0; correlate2d 'same' is origin 1 on every axis
    with an even kernel (unlike signal.correlate, which is origin 0).
    """
    rng = _rng("2d", mode, scipy_boundary, x_shape, k_shape, correlate)
    x, h = _data(rng, x_shape), _data(rng, k_shape)
    fill = 0.75
    peer = signal.correlate2d if correlate else signal.convolve2d
    theirs = peer(x, h, mode, boundary=scipy_boundary, fillvalue=fill)
    function = ndconv.correlate if correlate else ndconv.convolve
    origin = even_origin(k_shape) if (correlate and mode == "same") else 0
    options = {"fill_value": fill} if scipy_boundary == "fill" else {}
    if mode != "same":
        ours = function(x, h, mode, SIGNAL_BOUNDARY[scipy_boundary], **options)
    else:
        ours = function(x, h, mode, SIGNAL_BOUNDARY[scipy_boundary], origin=origin, **options)
    assert_same_result(ours, theirs, x, h)


def test_signal_convolve2d_integer_exact():
    rng = _rng("2d-int")
    x, h = rng.integers(-99, 99, (8, 6)), rng.integers(-99, 99, (3, 4))
    for scipy_boundary, boundary in SIGNAL_BOUNDARY.items():
        assert_same_result(ndconv.convolve(x, h, "same", boundary, fill_value=3),
                           signal.convolve2d(x, h, "same", scipy_boundary, fillvalue=3), x, h)
        assert_same_result(ndconv.correlate(x, h, "same", boundary, fill_value=3, origin=(0, 1)),
                           signal.correlate2d(x, h, "same", scipy_boundary, fillvalue=3), x, h)


# --------------------------------------------------------------------------- SciPy ndimage

# ndimage mode name -> ndconv boundary (note the two reflections swap names)
NDIMAGE_BOUNDARY = {"reflect": "symmetric", "grid-mirror": "symmetric", "mirror": "reflect",
                    "nearest": "edge", "wrap": "wrap", "grid-wrap": "wrap",
                    "constant": "constant", "grid-constant": "constant"}

NDIMAGE_CASES = [((n,), (k,)) for n, k in SIZES_1D] + SHAPES_2D + SHAPES_3D


def _ndimage_origins(k_shape):
    """Origins ndimage accepts: 0, the two extremes −(K//2) and (K−1)//2, per axis."""
    low = tuple(-(k // 2) for k in k_shape)
    high = tuple((k - 1) // 2 for k in k_shape)
    mixed = tuple(lo if i % 2 else hi for i, (lo, hi) in enumerate(zip(low, high)))
    return [(0,) * len(k_shape), low, high, mixed]


@pytest.mark.parametrize("nd_mode", list(NDIMAGE_BOUNDARY))
@pytest.mark.parametrize("x_shape, k_shape", NDIMAGE_CASES)
def test_ndimage_convolve_correlate(nd_mode, x_shape, k_shape):
    """ndimage.convolve(origin=o) == convolve('same', origin=o + [K even]);
    ndimage.correlate(origin=o) == correlate('same', origin=−o)."""
    rng = _rng("ndimage", nd_mode, x_shape, k_shape)
    x, h = _data(rng, x_shape), _data(rng, k_shape)
    boundary = NDIMAGE_BOUNDARY[nd_mode]
    fill = {"fill_value": -1.5} if boundary == "constant" else {}
    even = even_origin(k_shape)
    for o in _ndimage_origins(k_shape):
        theirs = ndimage.convolve(x, h, mode=nd_mode, cval=-1.5, origin=list(o))
        ours = ndconv.convolve(x, h, "same", boundary, origin=tuple(a + e for a, e in zip(o, even)), **fill)
        assert_same_result(ours, theirs, x, h)
        theirs = ndimage.correlate(x, h, mode=nd_mode, cval=-1.5, origin=list(o))
        ours = ndconv.correlate(x, h, "same", boundary, origin=tuple(-a for a in o), **fill)
        assert_same_result(ours, theirs, x, h)


@pytest.mark.parametrize("nd_mode", ["reflect", "mirror", "nearest", "wrap", "constant"])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 9])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_ndimage_convolve1d_correlate1d(nd_mode, k, axis):
    """convolve1d/correlate1d(axis=a) == a 1-D kernel with ``axes=a``, same origin rule."""
    rng = _rng("ndimage1d", nd_mode, k, axis)
    x, h = _data(rng, (5, 7, 6)), _data(rng, k)
    boundary = NDIMAGE_BOUNDARY[nd_mode]
    fill = {"fill_value": 2.5} if boundary == "constant" else {}
    for o in {0, -(k // 2), (k - 1) // 2}:
        theirs = ndimage.convolve1d(x, h, axis=axis, mode=nd_mode, cval=2.5, origin=o)
        ours = ndconv.convolve(x, h, "same", boundary, axes=axis, origin=o + (k % 2 == 0), **fill)
        assert_same_result(ours, theirs, x, h)
        theirs = ndimage.correlate1d(x, h, axis=axis, mode=nd_mode, cval=2.5, origin=o)
        ours = ndconv.correlate(x, h, "same", boundary, axes=axis, origin=-o, **fill)
        assert_same_result(ours, theirs, x, h)


def test_ndimage_integer_and_complex():
    """Integer data (ndimage keeps the input dtype; exact for small values) and complex data."""
    rng = _rng("ndimage-int")
    x, h = rng.integers(-99, 99, (7, 8)), rng.integers(-9, 9, (4, 3))
    assert_same_result(ndconv.convolve(x, h, "same", "symmetric", origin=(1, 0)),
                       ndimage.convolve(x, h, mode="reflect"), x, h)
    assert_same_result(ndconv.correlate(x, h, "same", "reflect"), ndimage.correlate(x, h, mode="mirror"), x, h)
    xc, hc = _data(rng, (6, 5), complex_=True), _data(rng, (2, 3), complex_=True)
    # ndimage.correlate conjugates complex weights, as ndconv.correlate does
    assert_same_result(ndconv.correlate(xc, hc, "same", "wrap"), ndimage.correlate(xc, hc, mode="wrap"), xc, hc)
    assert_same_result(ndconv.convolve(xc, hc, "same", "edge", origin=(1, 0)),
                       ndimage.convolve(xc, hc, mode="nearest"), xc, hc)


# --------------------------------------------------------------------------- MATLAB
# MATLAB is not installed: the two functions below are written from MATLAB's
# documentation, not from its behaviour.
#   conv2: "C(j,k) = Σ_p Σ_q A(p,q) B(j−p+1, k−q+1), p and q run over all values
#   that lead to legal subscripts"; 'full' is all of C (size ma+mb−1 × na+nb−1);
#   'same' is "the central part of the convolution, the same size as A";
#   'valid' is the part "computed without the zero-padded edges", size
#   max(ma−mb+1, 0) × max(na−nb+1, 0) (an empty matrix when B is larger).
#   For an even kernel the central part is fixed by the documentation's own
#   example for conv: u = [-1 2 3 -2 0 1 2], v = [2 4 -1 1], conv(u, v, 'same')
#   = [15 5 -9 7 6 7 -1], i.e. rows floor(mb/2)+1 … floor(mb/2)+ma of C.


def matlab_conv2(A, B, shape="full"):
    """MATLAB ``conv2(A, B, shape)`` from its documented definition (1-based in the comments)."""
    A, B = np.atleast_2d(A), np.atleast_2d(B)
    ma, na = A.shape
    mb, nb = B.shape
    C = np.zeros((ma + mb - 1, na + nb - 1), dtype=np.result_type(A, B))
    for p in range(1, ma + 1):              # C(j,k) += A(p,q) B(j−p+1, k−q+1) over legal j, k
        for q in range(1, na + 1):
            for j in range(p, p + mb):
                for k in range(q, q + nb):
                    C[j - 1, k - 1] += A[p - 1, q - 1] * B[j - p, k - q]
    if shape == "full":
        return C
    if shape == "same":                     # C(floor(mb/2) + (1:ma), floor(nb/2) + (1:na))
        return C[mb // 2: mb // 2 + ma, nb // 2: nb // 2 + na]
    if shape == "valid":                    # C(mb:ma, nb:na), empty when B is larger
        return C[mb - 1: ma, nb - 1: na]
    raise ValueError(shape)


def matlab_conv(u, v, shape="full"):
    """MATLAB ``conv(u, v, shape)`` for vectors: w(k) = Σ_j u(j) v(k−j+1), same shapes as conv2."""
    return matlab_conv2(np.reshape(u, (1, -1)), np.reshape(v, (1, -1)), shape)[0]


def test_matlab_reference_against_its_documentation():
    """The reference reproduces the examples of the MATLAB documentation and of the notes."""
    u, v = [-1, 2, 3, -2, 0, 1, 2], [2, 4, -1, 1]
    np.testing.assert_array_equal(matlab_conv(u, v, "same"), [15, 5, -9, 7, 6, 7, -1])
    np.testing.assert_array_equal(matlab_conv([3, 1, 2], [3, 2, 1]), [9, 9, 11, 5, 2])
    assert matlab_conv2(np.ones((3, 3)), np.ones((4, 4)), "valid").size == 0


@pytest.mark.parametrize("shape", ["full", "same", "valid"])
@pytest.mark.parametrize("n, k", SIZES_1D)
def test_matlab_conv(shape, n, k):
    """conv(u, v, shape) == convolve(u, v, shape, origin=[K even] for 'same')."""
    rng = _rng("matlab-conv", shape, n, k)
    u, v = rng.integers(-20, 20, n), rng.integers(-20, 20, k)
    theirs = matlab_conv(u, v, shape)
    if shape == "valid" and k > n:
        assert theirs.size == 0
        with pytest.raises(ValueError, match="valid"):
            ndconv.convolve(u, v, "valid")
        return
    origin = {"origin": int(k % 2 == 0)} if shape == "same" else {}
    assert_same_result(ndconv.convolve(u, v, shape, **origin), theirs, u, v)


@pytest.mark.parametrize("shape", ["full", "same", "valid"])
@pytest.mark.parametrize("a_shape, b_shape", SHAPES_2D + [((4, 4), (2, 2)), ((1, 5), (1, 2))])
@pytest.mark.parametrize("kind", ["float", "int"])
def test_matlab_conv2(shape, a_shape, b_shape, kind):
    """conv2(A, B, shape) == convolve(A, B, shape, origin=(mb even, nb even) for 'same')."""
    rng = _rng("matlab-conv2", shape, a_shape, b_shape, kind)
    if kind == "int":
        A, B = rng.integers(-20, 20, a_shape), rng.integers(-20, 20, b_shape)
    else:
        A, B = _data(rng, a_shape), _data(rng, b_shape)
    theirs = matlab_conv2(A, B, shape)
    if shape == "valid" and any(k > n for n, k in zip(a_shape, b_shape)):
        with pytest.raises(ValueError, match="valid"):
            ndconv.convolve(A, B, "valid")
        return
    origin = {"origin": even_origin(b_shape)} if shape == "same" else {}
    assert_same_result(ndconv.convolve(A, B, shape, **origin), theirs, A, B)


def test_matlab_notes_example_edges():
    """The notes' alignment: 'full' starts with the lower-right of B on A(1,1), even or odd B."""
    A = np.arange(1, 37).reshape(6, 6)
    for B in (np.arange(1, 10).reshape(3, 3), np.arange(1, 5).reshape(2, 2)):
        assert_same_result(ndconv.convolve(A, B), matlab_conv2(A, B), A, B)
        assert ndconv.convolve(A, B)[0, 0] == A[0, 0] * B[0, 0]


# --------------------------------------------------------------------------- PyTorch


def _torch():
    return pytest.importorskip("torch")


def _torch_conv(torch, nd, x, w, **options):
    conv = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d}[nd]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
        return conv(torch.from_numpy(x), torch.from_numpy(w), **options).numpy()


TORCH_1D = [(9, 1, 1), (9, 2, 1), (9, 3, 1), (10, 4, 1), (10, 2, 2), (11, 3, 2), (12, 2, 3), (12, 4, 2), (7, 5, 1)]


@pytest.mark.parametrize("n, k, dilation", TORCH_1D)
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_torch_conv1d_int_padding(n, k, dilation, stride):
    """F.conv1d(padding=p, stride, dilation): correlate('full')[K_d−1−p :: stride] (first count);
    p = 0 is 'valid', p = K_d − 1 is 'full', p = (K_d−1)/2 (odd K_d) is 'same', all with ``stride``."""
    torch = _torch()
    rng = _rng("torch1d", n, k, dilation, stride)
    x, w = _data(rng, (3, 1, n)), _data(rng, (1, 1, k))
    kd = dilated_length(k, dilation)
    full = ndconv.correlate(x[:, 0], w[0, 0], "full", dilation=dilation)
    for p in range(kd):
        theirs = _torch_conv(torch, 1, x, w, padding=p, stride=stride, dilation=dilation)[:, 0]
        count = (n + 2 * p - kd) // stride + 1
        ours = full[:, kd - 1 - p::stride][:, :count]
        assert_same_result(ours, theirs, x, w)
        named = {0: "valid", kd - 1: "full"}
        if kd % 2 == 1:
            named.setdefault((kd - 1) // 2, "same")
        if p in named:
            ours = ndconv.correlate(x[:, 0], w[0, 0], named[p], stride=stride, dilation=dilation)
            assert_same_result(ours, theirs, x, w)


@pytest.mark.parametrize("n, k, dilation", TORCH_1D)
def test_torch_conv1d_padding_same(n, k, dilation):
    """F.conv1d(padding='same', dilation) == correlate('same', dilation, origin=[K_d even])."""
    torch = _torch()
    rng = _rng("torch-same", n, k, dilation)
    x, w = _data(rng, (2, 1, n)), _data(rng, (1, 1, k))
    theirs = _torch_conv(torch, 1, x, w, padding="same", dilation=dilation)[:, 0]
    kd = dilated_length(k, dilation)
    ours = ndconv.correlate(x[:, 0], w[0, 0], "same", dilation=dilation, origin=int(kd % 2 == 0))
    assert_same_result(ours, theirs, x, w)


TORCH_MODES = {"zeros": "constant", "circular": "wrap", "reflect": "reflect", "replicate": "edge"}


@pytest.mark.parametrize("padding_mode", list(TORCH_MODES))
@pytest.mark.parametrize("k_shape, dilation", [((3, 3), (1, 1)), ((2, 4), (1, 1)), ((3, 2), (2, 1)),
                                               ((4, 3), (1, 2)), ((1, 5), (1, 1))])
@pytest.mark.parametrize("padding, stride", [("same", 1), ((1, 2), 1), ((1, 2), 2), ((0, 0), 1), ((0, 0), 2)])
def test_torch_conv2d_padding_mode(padding_mode, k_shape, dilation, padding, stride):
    """nn.Conv2d(padding, padding_mode, stride, dilation) with its weight set.

    padding_mode zeros/circular/reflect/replicate == boundary constant/wrap/reflect/edge;
    'same' → correlate('same', origin=[K_d even] per axis); an int padding p →
    correlate('full') sliced from K_d−1−p with step ``stride`` per axis.
    """
    torch = _torch()  # (torch allows padding='same' only with stride 1)
    rng = _rng("torch2d", padding_mode, k_shape, dilation, padding, stride)
    n_shape = (8, 9)
    kd = [dilated_length(k, d) for k, d in zip(k_shape, dilation)]
    if padding != "same":  # the recipe needs p <= K_d - 1 (more padding only adds pure-extension outputs)
        padding = tuple(min(p, q - 1) for p, q in zip(padding, kd))
    x, w = _data(rng, (2, 1) + n_shape), _data(rng, (1, 1) + k_shape)
    layer = torch.nn.Conv2d(1, 1, k_shape, stride=stride, padding=padding, dilation=dilation,
                            bias=False, padding_mode=padding_mode).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
            theirs = layer(torch.from_numpy(x)).numpy()[:, 0]
    boundary = TORCH_MODES[padding_mode]
    if padding == "same":
        ours = ndconv.correlate(x[:, 0], w[0, 0], "same", boundary, dilation=dilation,
                                origin=even_origin(k_shape, dilation))
    else:
        full = ndconv.correlate(x[:, 0], w[0, 0], "full", boundary, dilation=dilation)
        counts = [(n + 2 * p - q) // stride + 1 for n, p, q in zip(n_shape, padding, kd)]
        ours = full[:, kd[0] - 1 - padding[0]::stride, kd[1] - 1 - padding[1]::stride]
        ours = ours[:, :counts[0], :counts[1]]
        if padding == (0, 0):
            valid = ndconv.correlate(x[:, 0], w[0, 0], "valid", dilation=dilation, stride=stride)
            assert_same_result(valid, theirs, x, w)
    assert_same_result(ours, theirs, x, w)


def test_torch_conv2d_channels_by_broadcasting():
    """F.conv2d over channels: correlate(x[:, None], w[None], axes=(-2, -1)).sum(axis=2)."""
    torch = _torch()
    rng = _rng("torch-channels")
    x, w = _data(rng, (2, 3, 7, 8)), _data(rng, (4, 3, 3, 2))
    theirs = _torch_conv(torch, 2, x, w, padding="same")
    ours = ndconv.correlate(x[:, None], w[None], "same", axes=(-2, -1), origin=(0, 1)).sum(axis=2)
    assert_same_result(ours, theirs, x, np.abs(w).sum(axis=(0, 1)))
    theirs = _torch_conv(torch, 2, x, w, stride=2, dilation=(1, 2))
    ours = ndconv.correlate(x[:, None], w[None], "valid", axes=(-2, -1), stride=2, dilation=(1, 2)).sum(axis=2)
    assert_same_result(ours, theirs, x, np.abs(w).sum(axis=(0, 1)))


# --------------------------------------------------------------------------- TensorFlow
# TensorFlow is not installed: ``tf_conv2d`` is written from the documentation
# of tf.nn.conv2d / tf.nn.convolution and the "Notes on padding" of tf.nn:
#   output[b, i, j, k] = Σ_{di, dj, q} padded[b, s1·i + d1·di, s2·j + d2·dj, q] · filters[di, dj, q, k]
#   'VALID': no padding, out = ceil((N − K_d + 1) / s);
#   'SAME':  out = ceil(N / s), pad_total = max((out − 1)·s + K_d − N, 0),
#            pad_before = pad_total // 2, pad_after = pad_total − pad_before (zeros);
#   K_d = d·(K − 1) + 1 is the filter size after dilation; dilation > 1 is
#   allowed only with stride 1.


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def tf_same_padding(n: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """(pad_before, pad_after) of TensorFlow's 'SAME' on one axis, from its documentation."""
    kd = dilated_length(k, dilation)
    out = _ceil_div(n, stride)
    total = max((out - 1) * stride + kd - n, 0)
    return total // 2, total - total // 2


def tf_conv2d(inp, filters, strides=(1, 1), padding="VALID", dilations=(1, 1)):
    """``tf.nn.conv2d`` (NHWC input, HWIO filters) from its documented definition."""
    batch, height, width, _ = inp.shape
    kh, kw, _, out_channels = filters.shape
    pads, sizes = [], []
    for n, k, s, d in ((height, kh, strides[0], dilations[0]), (width, kw, strides[1], dilations[1])):
        if padding == "VALID":
            pads.append((0, 0))
            sizes.append(_ceil_div(n - dilated_length(k, d) + 1, s))
        else:
            pads.append(tf_same_padding(n, k, s, d))
            sizes.append(_ceil_div(n, s))
    padded = np.pad(inp, ((0, 0), pads[0], pads[1], (0, 0)))
    out = np.zeros((batch, sizes[0], sizes[1], out_channels), dtype=np.result_type(inp, filters))
    (s1, s2), (d1, d2) = strides, dilations
    for i in range(sizes[0]):
        for j in range(sizes[1]):
            for di in range(kh):
                for dj in range(kw):
                    out[:, i, j, :] += padded[:, s1 * i + d1 * di, s2 * j + d2 * dj, :] @ filters[di, dj]
    return out


def tf_same_origin(n: int, k: int, stride: int, dilation: int) -> int:
    """The ndconv origin that reproduces TF 'SAME' on one axis: K_d//2 − pad_before."""
    return dilated_length(k, dilation) // 2 - tf_same_padding(n, k, stride, dilation)[0]


def test_tf_reference_against_the_notes():
    """The reference reproduces the notes' 4×4 example (VALID, stride 1) and its shapes."""
    image = np.array([[0, 10, 10, 0], [20, 30, 30, 20], [10, 20, 20, 10], [0, 5, 5, 0]])
    kernel = np.array([[1, 0], [0, 2]])
    out = tf_conv2d(image[None, :, :, None], kernel[:, :, None, None])
    np.testing.assert_array_equal(out[0, :, :, 0], [[60, 70, 50], [60, 70, 50], [20, 30, 20]])
    assert tf_conv2d(np.ones((1, 13, 13, 1)), np.ones((6, 6, 1, 1)), (5, 5), "SAME").shape == (1, 3, 3, 1)
    assert tf_same_padding(13, 6, 5, 1) == (1, 2)   # 13 samples, 6 taps, stride 5: 1 zero before, 2 after


TF_CASES = [(n, k, s, 1) for n in (7, 8, 9, 10) for k in (1, 2, 3, 4, 5) for s in (1, 2, 3)]
TF_CASES += [(n, k, 1, d) for n in (9, 10) for k in (2, 3) for d in (2, 3)]


@pytest.mark.parametrize("n, k, stride, dilation", TF_CASES)
def test_tf_conv_1d_axis(n, k, stride, dilation):
    """One axis of tf.nn.conv2d (H = 1): VALID and SAME with stride and dilation.

    VALID == correlate('valid', stride, dilation);
    SAME  == correlate('same', stride, dilation, origin=K_d//2 − pad_before)
          == correlate('full', dilation)[K_d−1−pad_before :: stride][:ceil(N/stride)].
    """
    rng = _rng("tf1", n, k, stride, dilation)
    x, h = _data(rng, (3, n)), _data(rng, k)
    kd = dilated_length(k, dilation)
    as_tf = dict(strides=(1, stride), dilations=(1, dilation))
    inp, filters = x[:, None, :, None], h[None, :, None, None]
    if kd <= n:
        theirs = tf_conv2d(inp, filters, padding="VALID", **as_tf)[:, 0, :, 0]
        assert_same_result(ndconv.correlate(x, h, "valid", stride=stride, dilation=dilation), theirs, x, h)
    theirs = tf_conv2d(inp, filters, padding="SAME", **as_tf)[:, 0, :, 0]
    origin = tf_same_origin(n, k, stride, dilation)
    if stride == 1:
        assert origin == int(kd % 2 == 0)
    ours = ndconv.correlate(x, h, "same", stride=stride, dilation=dilation, origin=origin)
    assert_same_result(ours, theirs, x, h)
    before = tf_same_padding(n, k, stride, dilation)[0]
    full = ndconv.correlate(x, h, "full", dilation=dilation)
    assert_same_result(full[:, kd - 1 - before::stride][:, :_ceil_div(n, stride)], theirs, x, h)


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("strides, dilations", [((1, 1), (1, 1)), ((2, 3), (1, 1)), ((1, 1), (2, 1)),
                                                ((3, 2), (1, 1))])
@pytest.mark.parametrize("k_shape", [(3, 3), (2, 4), (5, 2)])
def test_tf_conv2d(padding, strides, dilations, k_shape):
    """tf.nn.conv2d on NHWC with channels: correlate over axes (1, 2), per-axis origin, summed over q."""
    rng = _rng("tf2", padding, strides, dilations, k_shape)
    n_shape = (9, 10)
    inp, filters = _data(rng, (2,) + n_shape + (3,)), _data(rng, k_shape + (3, 4))
    theirs = tf_conv2d(inp, filters, strides, padding, dilations)
    # x: (b, H, W, q) -> (b, 1, H, W, q); filters: (H, W, q, k) -> (1, k, H, W, q)
    x = inp[:, None]
    w = np.moveaxis(filters, 3, 0)[None]
    options = dict(axes=(2, 3), stride=strides, dilation=dilations)
    if padding == "VALID":
        ours = ndconv.correlate(x, w, "valid", **options)
    else:
        origin = tuple(tf_same_origin(n, k, s, d) for n, k, s, d in zip(n_shape, k_shape, strides, dilations))
        ours = ndconv.correlate(x, w, "same", origin=origin, **options)
    ours = np.moveaxis(ours.sum(axis=-1), 1, -1)  # sum over input channels q; k last
    assert_same_result(ours, theirs, inp, np.abs(filters).sum(axis=(2, 3)))
