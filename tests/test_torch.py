"""ndconv.torch against ndconv (NumPy) and torch.nn.ConvNd: values, gradients, errors, TF32."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import ndconv  # noqa: E402
import ndconv.torch as nt  # noqa: E402
from ndconv.nn.functional import conv as numpy_conv  # noqa: E402
from ndconv.param import SeparableStencil, Stencil, SymmetricStencil  # noqa: E402
from ndconv.torch import _engine, _functional  # noqa: E402

MODES = ("full", "same", "valid")
BOUNDARIES = ("constant", "wrap", "reflect", "symmetric", "edge")
METHODS = ("direct", "fft")
PADDING_MODE = {"constant": "zeros", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Two xdist workers on two cores: torch's own threads would only fight each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="module")
def _torch_engines():
    """These tests check torch's engines on the CPU: CPU calls without gradients would run
    on ndconv's NumPy core (``NUMPY_CORE``), which the tests marked so switch back on."""
    _functional.NUMPY_CORE = False
    yield
    _functional.NUMPY_CORE = True


def rng_for(*key: object) -> np.random.Generator:
    return np.random.default_rng(abs(hash(repr(key))) % 2**32)


def check(x: np.ndarray, k: np.ndarray, *, correlate: bool = False, method: str = "direct", **kw) -> None:
    name = "correlate" if correlate else "convolve"
    want = getattr(ndconv, name)(x, k, **kw)
    got = getattr(nt, name)(torch.from_numpy(np.asarray(x)), torch.from_numpy(np.asarray(k)), method=method, **kw)
    assert isinstance(got, torch.Tensor)
    assert tuple(got.shape) == want.shape
    assert got.numpy().dtype == want.dtype, (got.dtype, want.dtype)
    scale = np.abs(k).sum() * max(np.abs(x).max(), abs(kw.get("fill_value", 0)))
    tol = 1e-5 if want.dtype in (np.float32, np.complex64) else 1e-12
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=tol * scale + 1e-300)


# --- convolve / correlate against NumPy ndconv ---------------------------------------------------

def every_variant(check, ndim: int, mode: str, boundary: str, method: str, dtype=np.float64) -> None:
    """``check`` (one of the modules' ``check``) on one batch axis, with strides, dilations,
    origins, a fill value, convolution and correlation."""
    rng = rng_for(ndim, mode, boundary, method)
    x = rng.standard_normal((2,) + (7,) * ndim).astype(dtype)          # one batch axis
    k = rng.standard_normal((3,) * ndim).astype(dtype)
    variants = [{}, {"stride": 2}, {"dilation": 2, "stride": (1,) * (ndim - 1) + (3,)}]
    if mode == "same":
        variants += [{"origin": 1}, {"origin": (-1,) + (0,) * (ndim - 1), "dilation": 2}]
    for kw in variants:
        for correlate in (False, True):
            check(x, k, mode=mode, boundary=boundary, fill_value=1.5, method=method, correlate=correlate, **kw)


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_every_mode_boundary_and_method(ndim, mode, boundary, method):
    every_variant(check, ndim, mode, boundary, method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_kernel_longer_than_input_repeats_the_extension(method, boundary):
    rng = rng_for(method, boundary)
    check(rng.standard_normal(3), rng.standard_normal(9), mode="same", boundary=boundary, method=method)
    check(rng.standard_normal((2, 3)), rng.standard_normal((5, 7)), boundary=boundary, method=method)


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", METHODS)
def test_zero_boundary_leaves_the_zeros_to_the_engine(ndim, mode, method, monkeypatch):
    """With a zero boundary x̃ is not built: the FFT's own padding holds the zeros (outputs
    read shifted), or cuDNN's ``padding`` the part both sides share — equal to NumPy ndconv
    for every mode, stride, dilation, origin, kernels longer than x, batch axes and per-row
    kernels."""
    extended, padded = [], []
    extend, correlate = _engine.extend, _engine.correlate_ieee
    monkeypatch.setattr(_engine, "extend", lambda x, ranges, *a: extended.append(
        all(0 <= first and last < n for (first, last), n in zip(ranges, x.shape[x.ndim - len(ranges):])))
        or extend(x, ranges, *a))
    monkeypatch.setattr(_engine, "correlate_ieee", lambda *a, padding=None: padded.append(any(padding or ()))
                        or correlate(*a, padding=padding))
    rng = rng_for("zero-fft", ndim, mode)
    x = rng.standard_normal((2,) + (7,) * ndim)
    k = rng.standard_normal((3,) * ndim)
    variants = [{}, {"stride": 2}, {"dilation": 2, "stride": (1,) * (ndim - 1) + (3,)}]
    if mode == "same":
        variants += [{"origin": 1}, {"origin": (-1,) + (0,) * (ndim - 1), "dilation": 2}]
    for kw in variants:
        for corr in (False, True):
            check(x, k, mode=mode, method=method, correlate=corr, **kw)
    if mode != "valid":
        check(rng.standard_normal((2,) + (3,) * ndim), rng.standard_normal((8,) * ndim), mode=mode, method=method)
        check(rng.standard_normal((4, 9)), rng.standard_normal((4, 5)), axes=-1, mode=mode, method=method)
    if method == "fft":
        assert extended and all(extended), "x̃ was extended on the FFT path of a zero boundary"
    elif mode != "valid":
        assert any(padded), "cuDNN was given no padding"


@pytest.mark.parametrize("method", METHODS)
def test_batch_axes_per_row_kernels_and_axes(method):
    rng = rng_for(method)
    x = rng.standard_normal((4, 1, 9))
    check(x, rng.standard_normal((1, 3, 4)), axes=2, method=method)                   # broadcast rows
    check(x, rng.standard_normal((4, 1, 3)), axes=-1, mode="same", method=method)     # one kernel per row
    check(rng.standard_normal((5, 6, 3)), rng.standard_normal((3, 2)), axes=(0, 1), method=method,
          boundary="reflect", mode="same")                                              # batch axis last
    check(rng.standard_normal((6, 5)), rng.standard_normal(3), axes=0, mode="valid", method=method)
    check(rng.standard_normal((1, 9)), rng.standard_normal((3, 4)), axes=1, method=method, correlate=True)


@pytest.mark.parametrize("method", METHODS)
def test_four_axes(method):
    rng = rng_for(method, 4)
    for correlate in (False, True):
        check(rng.standard_normal((4, 5, 6, 5)), rng.standard_normal((2, 3, 2, 2)), stride=(1, 2, 1, 2),
              dilation=(2, 1, 1, 1), boundary="symmetric", method=method, correlate=correlate)


@pytest.mark.parametrize("method", METHODS)
def test_dtypes_follow_ndconv(method):
    rng = rng_for(method, "dtypes")
    x, k = rng.standard_normal(12), rng.standard_normal(4)
    xc, kc = x + 1j * rng.standard_normal(12), k - 0.5j
    for a, b in [(x.astype(np.float32), k.astype(np.float32)), (x.astype(np.float16), k.astype(np.float16)),
                 (x, k.astype(np.float32)), (xc, k), (xc.astype(np.complex64), kc.astype(np.complex64)),
                 (x.astype(np.float32), kc)]:
        for correlate in (False, True):
            check(a, b, method=method, correlate=correlate, boundary="wrap", mode="same")


@pytest.mark.parametrize("method", ("auto",) + METHODS)
def test_integers_are_exact_int64(method):
    x = torch.tensor([200, 100, 255], dtype=torch.uint8)
    k = torch.tensor([True, False, True])
    y = nt.convolve(x, k, method=method)
    assert y.dtype == torch.int64 and y.tolist() == ndconv.convolve(x.numpy(), k.numpy()).tolist()
    big = torch.tensor([2**40, 3, 2**40 - 1])
    y = nt.correlate(big, torch.tensor([3, -1]), method=method)   # bound > 2**40: the FFT gives way
    assert y.tolist() == ndconv.correlate(big.numpy(), [3, -1]).tolist()


def test_bfloat16_is_computed_and_returned_as_float32():
    y = nt.convolve(torch.tensor([1.0, 2.0, 3.0], dtype=torch.bfloat16), torch.tensor([1.0, 1.0]))
    assert y.dtype == torch.float32 and y.tolist() == [1.0, 3.0, 5.0, 3.0]


def nonfinite_stays_local(method: str, where: str, device: str = "cpu") -> None:
    """A NaN sample (reflect boundary), a NaN tap, a NaN fill or an ∞ sample give NaN/±∞ exactly
    where the definition does — the FFT path checks its result and gives way to the direct sum."""
    x, k = np.arange(1.0, 41.0), np.linspace(-1.0, 1.0, 9)   # a NaN tap reaches every output; the rest not
    kw = {"mode": "same", "boundary": "constant"}
    if where == "nan":
        x[7] = np.nan
        kw["boundary"] = "reflect"
    elif where == "kernel":
        k[3] = np.nan
    elif where == "fill":
        kw["fill_value"] = np.nan
    else:
        x[12] = np.inf
    want = ndconv.convolve(x, k, **kw)
    got = nt.convolve(torch.from_numpy(x).to(device), torch.from_numpy(k).to(device), method=method, **kw)
    got = got.cpu().numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], atol=1e-9)


@pytest.mark.parametrize("method", ("auto",) + METHODS)
@pytest.mark.parametrize("where", ["nan", "kernel", "fill", "inf"])
def test_nonfinite_values_stay_local(method, where):
    nonfinite_stays_local(method, where)


def test_auto_rule():
    assert nt.choose_method(torch.ones(500), torch.ones(nt.FFT_MIN_TAPS - 1)) == "direct"
    assert nt.choose_method(torch.ones(500), torch.ones(nt.FFT_MIN_TAPS)) == "fft"
    assert nt.choose_method(torch.ones(50, 50), torch.ones(10, 10)) == "fft"
    assert nt.choose_method(torch.ones(500), torch.ones(300), method="overlap_add") == "fft"
    assert nt.choose_method(torch.ones(500), torch.ones(3), method="separable") == "direct"


@st.composite
def problems(draw):
    ndim = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(MODES))
    n = draw(st.lists(st.integers(1, {1: 16, 2: 7, 3: 4}[ndim]), min_size=ndim, max_size=ndim))
    dilation = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))
    k = [draw(st.integers(1, 5 if mode != "valid" else max(1, (ni - 1) // di + 1)))
         for ni, di in zip(n, dilation)]
    kw = {"mode": mode, "boundary": draw(st.sampled_from(BOUNDARIES + ("periodic", "mirror", "nearest"))),
          "stride": draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim)), "dilation": dilation}
    if mode == "same":
        kw["origin"] = [draw(st.integers(-((di * (ki - 1)) // 2), di * (ki - 1) - (di * (ki - 1)) // 2))
                        for ki, di in zip(k, dilation)]
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    return tuple(batch + n), tuple(k), kw, draw(st.sampled_from(METHODS)), draw(st.booleans())


@settings(max_examples=60, deadline=None, derandomize=True)
@given(problems())
def test_random_problems(problem):
    x_shape, k_shape, kw, method, correlate = problem
    rng = rng_for(problem)
    check(rng.standard_normal(x_shape), rng.standard_normal(k_shape), method=method, correlate=correlate, **kw)


# --- gradients -----------------------------------------------------------------------------------

def gradchecks(boundary: str, method: str, device: str = "cpu") -> None:
    """float64 gradcheck of convolve (stride, dilation, fill) and correlate ('full') on ``device``."""
    gen = torch.Generator(device=device).manual_seed(0)
    new = dict(dtype=torch.float64, device=device, generator=gen, requires_grad=True)
    x, k = torch.randn(2, 6, **new), torch.randn(3, **new)
    assert torch.autograd.gradcheck(
        lambda x, k: nt.convolve(x, k, "same", boundary, method=method, stride=2, dilation=3, fill_value=0.5),
        (x, k))
    x2, k2 = torch.randn(3, 4, **new), torch.randn(2, 5, **new)
    assert torch.autograd.gradcheck(lambda x, k: nt.correlate(x, k, "full", boundary, method=method), (x2, k2))


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_gradcheck_convolve(boundary, method):
    gradchecks(boundary, method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("groups", [1, 2])
def test_gradcheck_conv_with_kernel_model(method, groups):
    torch.manual_seed(0)
    layer = nt.Conv(2, 2, 2, 3, boundary="symmetric", method=method, groups=groups,
                    kernel_model=SymmetricStencil((3, 3))).double()
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    theta = layer.theta.detach().clone().requires_grad_()
    bias = layer.bias.detach().clone().requires_grad_()
    call = torch.func.functional_call
    assert torch.autograd.gradcheck(lambda t, b, x: call(layer, {"theta": t, "bias": b}, (x,)), (theta, bias, x))


# --- the Conv module -----------------------------------------------------------------------------

CONV_CASES = [(1, 1, 1, "same"), (2, 2, 1, 1), (1, 1, 2, "same"), (2, 1, 2, 2), (1, 2, 1, "valid"), (4, 1, 1, "same")]


def conv_matches_torch(nd: int, boundary: str, method: str, device: str = "cpu") -> None:
    """``Conv`` equals ``torch.nn.Conv{nd}d`` (float64, on ``device``) for every case of CONV_CASES."""
    torch.manual_seed(nd)
    reference = getattr(torch.nn, f"Conv{nd}d")
    for groups, stride, dilation, padding in CONV_CASES:
        kernel = 4 if padding == "same" and groups == 4 else 3     # an even kernel: the extra sample at the end
        ours = nt.Conv(nd, 4, 8, kernel, stride=stride, padding=padding, boundary=boundary, dilation=dilation,
                       groups=groups, method=method, device=device, dtype=torch.float64)
        theirs = reference(4, 8, kernel, stride=stride, padding=padding, padding_mode=PADDING_MODE[boundary],
                           dilation=dilation, groups=groups, device=device, dtype=torch.float64)
        with torch.no_grad():
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)
        x = torch.randn((2, 4) + (8,) * nd, dtype=torch.float64, device=device)
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("boundary", list(PADDING_MODE))
@pytest.mark.parametrize("method", METHODS)
def test_conv_equals_torch_conv(nd, boundary, method):
    conv_matches_torch(nd, boundary, method)


@pytest.mark.parametrize("method", METHODS)
def test_conv_symmetric_equals_numpy_layer(method):
    torch.manual_seed(1)
    layer = nt.Conv(2, 4, 6, (3, 4), boundary="symmetric", groups=2, padding=(2, 5), method=method)
    x = torch.randn(2, 4, 7, 6)
    want = numpy_conv(x.numpy(), layer.weight.detach().numpy(), layer.bias.detach().numpy(), padding=(2, 5),
                      boundary="symmetric", groups=2)
    np.testing.assert_allclose(layer(x).detach().numpy(), want, atol=1e-5)


def test_conv_initialisation_and_weight():
    torch.manual_seed(0)
    layer = nt.Conv(2, 8, 16, 5, bias=False)
    assert tuple(layer.weight.shape) == (16, 8, 5, 5) and layer.bias is None
    assert layer.weight.abs().max() <= 1 / np.sqrt(8 * 25)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    model = Stencil((3, 5), order="F")
    layer = nt.Conv(2, 4, 6, (3, 5), groups=2, kernel_model=model).double()
    assert tuple(layer.theta.shape) == (6, 2, 15) and "Q" in dict(layer.named_buffers())
    theta = layer.theta.detach().numpy()
    for o, i in itertools.product(range(6), range(2)):
        np.testing.assert_allclose(layer.weight[o, i].detach().numpy(), model.model(theta[o, i]), atol=1e-15)
    assert layer.weight.std() < 2 / np.sqrt(2 * 15)


def test_training_reduces_the_loss():
    torch.manual_seed(0)
    target = nt.Conv(2, 1, 2, 3, boundary="reflect").requires_grad_(False)
    layer = nt.Conv(2, 1, 2, 3, boundary="reflect", kernel_model=SymmetricStencil((3, 3)), method="fft")
    x = torch.randn(8, 1, 12, 12)
    y = target(x)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.05)
    losses = []
    for _ in range(25):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(layer(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# --- TF32, imports, errors -----------------------------------------------------------------------

def test_tf32_off_inside_and_restored_after(monkeypatch):
    conv_flags = torch.backends.cudnn.conv
    before = (conv_flags.fp32_precision, torch.backends.cuda.matmul.fp32_precision)
    seen = []
    real = _engine._CONV[1]

    def spy(*args, **kwargs):
        seen.append(conv_flags.fp32_precision)
        return real(*args, **kwargs)

    monkeypatch.setitem(_engine._CONV, 1, spy)
    conv_flags.fp32_precision = "tf32"
    try:
        x = torch.randn(10, requires_grad=True)
        nt.convolve(x, torch.randn(3)).sum().backward()
        assert seen == ["ieee"] and conv_flags.fp32_precision == "tf32"
        assert torch.backends.cuda.matmul.fp32_precision == before[1]
        assert torch.backends.cudnn.allow_tf32   # the legacy flag reads the restored state
    finally:
        conv_flags.fp32_precision = before[0]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)


def test_package_imports_the_real_torch_and_missing_torch_is_explained():
    proc = _run("import sys, ndconv.torch, ndconv.torch._engine as e\n"
                "assert e.torch is sys.modules['torch'] and 'ndconv' not in e.torch.__file__\n"
                "assert sys.modules['torch'].__name__ == 'torch'\n")
    assert proc.returncode == 0, proc.stderr
    proc = _run("import sys\nsys.modules['torch'] = None\nimport ndconv.torch\n")
    assert proc.returncode != 0 and 'pip install "ndconv[torch]"' in proc.stderr


@pytest.mark.parametrize("call, error, match", [
    (lambda: nt.convolve(torch.ones(3), torch.ones(2), mode="sam"), ValueError, "mode must be"),
    (lambda: nt.convolve(torch.ones(3), torch.ones(2), boundary="zeros"), ValueError, "boundary must be"),
    (lambda: nt.correlate(torch.ones(3), torch.ones(2), method="fastest"), ValueError, "method must be"),
    (lambda: nt.convolve(torch.ones(3), torch.ones(2), stride=0), ValueError, "stride must be"),
    (lambda: nt.convolve(torch.ones(3), torch.ones(5), mode="valid"), ValueError, "mode='valid' needs"),
    (lambda: nt.convolve(torch.ones(3), torch.ones(2), origin=1), ValueError, "origin is allowed only"),
    (lambda: nt.convolve(torch.ones(3), torch.ones(2), fill_value=1j), ValueError, "fill_value must be"),
    (lambda: nt.convolve(torch.tensor(1.0), torch.ones(2)), ValueError, "x must be an array with at least 1"),
    (lambda: nt.convolve(torch.ones(3), torch.ones(2, 2)), ValueError, "k must not have more dimensions"),
    (lambda: nt.convolve(torch.zeros(3, dtype=torch.uint16), torch.ones(2)), TypeError, "x must be a tensor"),
    (lambda: nt.convolve(torch.ones(3), ["a"]), TypeError, "k must be an array of"),
    (lambda: nt.convolve(torch.tensor([2**50]), torch.tensor([2**4])), OverflowError, "2\\*\\*53"),
    (lambda: nt.Conv(4, 1, 1, 3), ValueError, "nd must be 1, 2 or 3"),
    (lambda: nt.Conv(2, 3, 4, 3, groups=2), ValueError, "groups must be a divisor of in_channels"),
    (lambda: nt.Conv(2, 1, 1, 3, padding="full"), ValueError, "padding must be 'valid' or 'same'"),
    (lambda: nt.Conv(2, 1, 1, 3, stride=2), ValueError, "padding must be an int or a tuple when stride"),
    (lambda: nt.Conv(2, 1, 1, 3, boundary="zeros"), ValueError, "boundary must be"),
    (lambda: nt.Conv(2, 1, 1, 3, method="overlap_add"), ValueError, "method must be 'auto', 'direct' or 'fft'"),
    (lambda: nt.Conv(2, 1, 1, 3, kernel_model=SeparableStencil((3, 3))), TypeError, "kernel_model must be a linear"),
    (lambda: nt.Conv(2, 1, 1, 3, kernel_model=Stencil((3, 5))), ValueError, "kernel_model must be a model of shape"),
    (lambda: nt.Conv(2, 2, 1, 3)(torch.ones(1, 3, 5, 5)), ValueError, "x must be a tensor \\(batch, 2"),
    (lambda: nt.Conv(2, 1, 1, 3)(torch.ones(1, 1, 5, 5, dtype=torch.float64)), TypeError, "x must be a tensor of the"),
    (lambda: nt.Conv(1, 1, 1, 5, padding="valid")(torch.ones(1, 1, 3)), ValueError, "x must be an input whose"),
])
def test_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_kept_specs_tell_equal_values_of_other_types_apart():
    """Specs are kept per shapes and options; ``origin=1.0`` still fails after ``origin=1`` ran
    (they are equal dict keys), and unhashable options (a list of axes) are validated afresh."""
    x, k = torch.arange(8.0), torch.tensor([1.0, 2.0, 3.0])
    first = nt.convolve(x, k, mode="same", origin=1)
    assert torch.equal(nt.convolve(x, k, mode="same", origin=1), first)
    for origin in (1.0, True, (1.0,)):
        with pytest.raises(ValueError, match="origin must be an int"):
            nt.convolve(x, k, mode="same", origin=origin)
    xx = torch.ones(3, 5)
    assert nt.convolve(xx, k, axes=[1]).shape == (3, 7)
    with pytest.raises(ValueError, match="axes"):
        nt.convolve(xx, k, axes=[2])
    sizes = (torch.Size([8]), torch.Size([3]), np.dtype(np.float64), False)
    for zero in (0.0, -0.0, 0.0):                 # equal keys in a dict, but not the same fill
        spec = _functional._spec(*sizes, {"mode": "same", "fill_value": zero})
        assert np.signbit(spec.fill_value) == np.signbit(zero)
    for n in range(2 * _functional._SPECS_MAX):   # the store stays bounded
        nt.convolve(torch.ones(n + 3), k)
    assert len(_functional._SPECS) <= _functional._SPECS_MAX


def test_all_finite_is_not_fooled_by_an_overflowing_sum():
    """The finiteness check sums first; a sum that overflows on finite values is looked at
    value by value, a NaN or ±∞ anywhere (real or imaginary part) is found."""
    big = torch.full((4,), 3e38)
    assert _functional._all_finite(big, torch.ones(3))
    assert _functional._all_finite(torch.empty(0), big.to(torch.complex64))
    assert not _functional._all_finite(torch.ones(3), torch.tensor([1.0, float("nan")]))
    assert not _functional._all_finite(big, torch.tensor([complex(1, float("inf"))]))
    assert not _functional._all_finite(torch.tensor([float("inf"), -float("inf")]))
    assert _functional._all_finite(torch.empty(0))


def test_fft_overflow_of_large_finite_data_falls_back_to_the_direct_sum():
    """float32 data of 3e36 (mean zero) on 64²: the spectra overflow (every output was ±∞ or NaN)
    although no sum of the definition does; the zero-frequency bins stay finite, so the result is
    checked."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 64)) * 3e36
    x = torch.from_numpy((x - x.mean()).astype(np.float32))
    k = torch.from_numpy(rng.standard_normal((5, 5)).astype(np.float32))
    totals: list = []
    assert not torch.isfinite(_engine.fft(x, k, (1, 1), (1, 1), totals=totals)).all()
    assert torch.isfinite(totals[0]).all()
    got = ndconv.torch.convolve(x, k, mode="same", method="fft")
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, ndconv.torch.convolve(x, k, mode="same", method="direct"), rtol=0, atol=0)


def test_conv_layer_fft_keeps_nan_local_and_survives_large_data():
    """The layer's FFT path spread one NaN over its whole output (4096 of 4096 samples) and
    overflowed on data of 1e37; such outputs are now computed again by the direct sum."""
    torch.manual_seed(0)
    fft, direct = (nt.Conv(2, 2, 3, 11, method=m, bias=False) for m in ("fft", "direct"))
    direct.load_state_dict(fft.state_dict())
    x = torch.randn(1, 2, 40, 40)
    x[0, 1, 7, 9] = float("nan")
    got, expected = fft(x), direct(x)
    assert torch.isnan(got).sum() == torch.isnan(expected).sum() < got.numel() // 4
    torch.testing.assert_close(got, expected, equal_nan=True, rtol=0, atol=0)
    big = torch.randn(1, 2, 40, 40) * 1e37     # the spectra overflow, the sums do not
    assert torch.isfinite(fft(big)).all()
    torch.testing.assert_close(fft(big), direct(big), rtol=0, atol=0)
    clean = torch.randn(1, 2, 40, 40)
    torch.testing.assert_close(fft(clean), direct(clean), rtol=1e-4, atol=1e-4)   # the FFT is used here


def test_cpu_calls_without_gradients_run_on_the_numpy_core(monkeypatch):
    """CPU tensors of float and complex dtypes, no gradient wanted: ndconv's NumPy core on the
    tensors' own memory, bit for bit its result; gradients, integers and bfloat16 stay on
    torch's engines, and the errors are the same."""
    monkeypatch.setattr(_functional, "NUMPY_CORE", True)
    used = []
    for name in ("direct", "fft"):
        original = getattr(_engine, name)
        monkeypatch.setattr(_engine, name, lambda *a, _original=original, **kw: used.append(1) or _original(*a, **kw))
    rng = rng_for("numpy core")
    x = torch.from_numpy(rng.standard_normal((3, 40, 50)).astype(np.float32))
    k = torch.from_numpy(rng.standard_normal((5, 4)).astype(np.float32))
    for options in ({"mode": "same", "boundary": "reflect"}, {"stride": 2}, {"mode": "valid", "method": "fft"}):
        for corr in (False, True):
            got = (nt.correlate if corr else nt.convolve)(x, k, axes=(1, 2), **options)
            want = (ndconv.correlate if corr else ndconv.convolve)(x.numpy(), k.numpy(), axes=(1, 2), **options)
            assert got.dtype == torch.float32
            np.testing.assert_array_equal(got.numpy(), want)
    xc = torch.randn(30, 40, dtype=torch.complex64)[:, ::2]          # strided
    kc = torch.randn(3, 3, dtype=torch.complex64).conj()              # a pending conjugation
    np.testing.assert_array_equal(nt.correlate(xc, kc, mode="same").numpy(),
                                  ndconv.correlate(xc.numpy(), kc.resolve_conj().numpy(), mode="same"))
    half = torch.randn(20, dtype=torch.float16)
    assert nt.convolve(half, half).dtype == torch.float32
    assert nt.choose_method(torch.ones(2**20), torch.ones(512)) == str(ndconv.choose_method(np.ones(2**20),
                                                                                            np.ones(512)))
    with pytest.raises(ValueError, match="mode must be"):
        nt.convolve(torch.ones(3), torch.ones(2), mode="sam")
    assert not used
    nt.convolve(x[0].clone().requires_grad_(), k)
    nt.convolve(torch.arange(10), torch.arange(3))
    nt.convolve(torch.ones(10, dtype=torch.bfloat16), torch.ones(3, dtype=torch.bfloat16))
    assert nt.choose_method(torch.ones(2**20, requires_grad=True), torch.ones(512)) == "fft"
    assert len(used) == 3


def test_triton_stencil_is_for_cuda_only(monkeypatch):
    """On the CPU (CI has no GPU) the stencil never applies, Triton is not even looked for,
    and ``import ndconv.torch`` does not import it."""
    from ndconv.torch import _triton

    looked = []
    monkeypatch.setattr(_triton, "_stencil", lambda: looked.append(1))
    x, w = torch.ones(2, 1, 1024, 1024), torch.ones(1, 1, 3, 3)
    assert not _triton.usable(x, w, 1)
    assert not looked
    code = ("import sys, torch; before = 'triton' in sys.modules; import ndconv.torch; "
            "print(before, 'triton' in sys.modules)")
    before, after = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                   check=True).stdout.split()
    assert after == before      # whatever torch itself imports


def test_fft_pairs_real_rows_into_complex_transforms(monkeypatch):
    """Real rows sharing a kernel (or real kernels sharing a row) go two to a complex transform
    (on CUDA; switched on here for the CPU): equal to NumPy ndconv for every mode, boundary,
    stride, dilation and origin, with kernels and rows paired, an odd count left unpaired,
    gradients and non-finite values kept local."""
    monkeypatch.setattr(_engine, "PAIR_DEVICES", frozenset({"cpu"}))
    pairs = []
    complex_ = torch.complex
    monkeypatch.setattr(torch, "complex", lambda a, b: pairs.append(tuple(a.shape)) or complex_(a, b))
    for ndim, mode, boundary in itertools.product((1, 2, 3), MODES, ("constant", "reflect", "wrap")):
        every_variant(check, ndim, mode, boundary, "fft")
    assert pairs and all(shape[0] == 1 for shape in pairs), pairs     # x's batch of 2: one pair
    rng = rng_for("pairs")
    cases = [((4, 1, 9), (1, 3, 4), {"axes": 2}, (2, 1, 9)),             # rows of x paired
             ((1, 9), (4, 5), {"axes": -1, "mode": "same"}, (2, 5)),      # kernels paired
             ((1, 9), (6, 4), {"axes": 1, "correlate": True}, (3, 4)),   # kernels paired, x broadcast
             ((3, 9), (4,), {"axes": -1}, None),                          # odd: as it was
             ((4, 1, 9), (4, 1, 3), {"axes": -1}, None)]                  # one kernel per row: as it was
    for x_shape, k_shape, kw, paired in cases:
        pairs.clear()
        check(rng.standard_normal(x_shape), rng.standard_normal(k_shape), method="fft", **kw)
        assert pairs == ([paired] if paired else []), (x_shape, k_shape, pairs)
    check(rng.standard_normal((2, 6)).astype(np.float32), rng.standard_normal(3).astype(np.float32),
          method="fft", mode="same", boundary="reflect")
    gen = torch.Generator().manual_seed(3)
    new = dict(dtype=torch.float64, generator=gen, requires_grad=True)
    x, k, x2, k2 = (torch.randn(4, 7, **new), torch.randn(3, **new), torch.randn(1, 1, 7, **new),
                    torch.randn(1, 2, 3, **new))
    assert torch.autograd.gradcheck(lambda x, k: nt.convolve(x, k, "same", "reflect", method="fft", stride=2), (x, k))
    assert torch.autograd.gradcheck(lambda x, k: nt.correlate(x, k, "full", method="fft", axes=-1), (x2, k2))
    for where in ("nan", "kernel", "fill", "inf"):
        nonfinite_stays_local("fft", where)    # one row: checks the unpaired path's fallback
    x = np.arange(1.0, 41.0).reshape(2, 20)
    x[1, 7] = np.nan
    k = np.linspace(-1.0, 1.0, 5)
    want = ndconv.convolve(x, k, mode="same", axes=-1)
    got = nt.convolve(torch.from_numpy(x), torch.from_numpy(k), mode="same", axes=-1, method="fft").numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], atol=1e-9)
