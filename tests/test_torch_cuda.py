"""ndconv.torch on a CUDA device: the CPU's answers, in IEEE float32, with gradients.

Skipped where torch sees no GPU (CI has none).  On a GPU machine:
``pytest tests/test_torch_cuda.py``.  Every result is computed on the device and
compared with NumPy ``ndconv`` (float64 on the host) within the float32 bound
``1e-5 · Σ|k| · max|x|`` — a bound TF32 (10-bit mantissa) breaks, which
``test_tf32_would_break_the_bound`` shows on the same data.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ndconv  # noqa: E402
import ndconv.torch as nt  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

from test_torch import (  # noqa: E402
    BOUNDARIES,
    METHODS,
    MODES,
    PADDING_MODE,
    conv_matches_torch,
    every_variant,
    gradchecks,
    nonfinite_stays_local,
)


def _device():
    return torch.device("cuda")


def rng_for(*key: object) -> np.random.Generator:
    return np.random.default_rng(abs(hash(repr(key))) % 2**32)


def bound(x: np.ndarray, k: np.ndarray, dtype, fill_value: float = 0.0) -> float:
    scale = np.abs(k).sum() * max(np.abs(x).max(), abs(fill_value))
    return (1e-5 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-12) * scale + 1e-300


def check(x: np.ndarray, k: np.ndarray, *, correlate: bool = False, method: str = "direct", **kw) -> torch.Tensor:
    name = "correlate" if correlate else "convolve"
    want = getattr(ndconv, name)(x, k, **kw)
    got = getattr(nt, name)(torch.from_numpy(np.asarray(x)).to(_device()),
                            torch.from_numpy(np.asarray(k)).to(_device()), method=method, **kw)
    assert got.device.type == "cuda"
    assert tuple(got.shape) == want.shape
    host = got.cpu().numpy()
    assert host.dtype == want.dtype, (host.dtype, want.dtype)
    if want.dtype.kind in "iu":
        np.testing.assert_array_equal(host, want)
    else:
        np.testing.assert_allclose(host, want, rtol=0, atol=bound(x, k, want.dtype, kw.get("fill_value", 0.0)))
    return got


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_every_mode_boundary_and_method(ndim, mode, boundary, method):
    every_variant(check, ndim, mode, boundary, method, np.float32)


@pytest.mark.parametrize("method", METHODS)
def test_batch_axes_per_row_kernels_and_dtypes(method):
    rng = rng_for(method, "rows")
    x = rng.standard_normal((4, 1, 9))
    check(x, rng.standard_normal((4, 1, 3)), axes=-1, mode="same", method=method)     # one kernel per row
    check(rng.standard_normal((5, 6, 3)), rng.standard_normal((3, 2)), axes=(0, 1), method=method,
          boundary="reflect", mode="same")
    xc = rng.standard_normal(12) + 1j * rng.standard_normal(12)
    check(xc.astype(np.complex64), (rng.standard_normal(4) - 0.5j).astype(np.complex64), method=method)
    check(rng.standard_normal(12).astype(np.float16), rng.standard_normal(4).astype(np.float16), method=method)


@pytest.mark.parametrize("method", ("auto",) + METHODS)
def test_integers_are_exact_int64(method):
    x = np.array([200, 100, 255], dtype=np.uint8)
    k = np.array([True, False, True])
    check(x, k, method=method)
    check(np.array([2**40, 3, 2**40 - 1]), np.array([3, -1]), method=method, correlate=True)


@pytest.mark.parametrize("method", ("auto",) + METHODS)
@pytest.mark.parametrize("where", ["nan", "kernel", "fill", "inf"])
def test_nonfinite_values_stay_local(method, where):
    nonfinite_stays_local(method, where, "cuda")


def _tf32_case():
    rng = rng_for("tf32")
    return rng.standard_normal((256, 256)).astype(np.float32), rng.standard_normal((15, 15)).astype(np.float32)


@pytest.mark.parametrize("method", METHODS)
def test_float32_is_ieee_not_tf32(method):
    """Large float32 problems on the device meet the float32 bound (TF32 would not), and
    the caller's TF32 settings are back as they were afterwards."""
    x, k = _tf32_case()
    before = torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    try:
        check(x, k, mode="same", boundary="reflect", method=method)
        assert torch.backends.cudnn.conv.fp32_precision == "tf32"
    finally:
        torch.backends.cudnn.conv.fp32_precision = before[0]


def test_tf32_would_break_the_bound():
    """The bound the tests use is tight enough to catch TF32: cuDNN's own TF32 convolution
    of the same data misses it (H100 and newer compute float32 convolutions in TF32 when allowed)."""
    x, k = _tf32_case()
    want = ndconv.correlate(x.astype(np.float64), k.astype(np.float64), mode="same")
    before = torch.backends.cudnn.conv.fp32_precision
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    try:
        xt = torch.from_numpy(x).to(_device())[None, None]
        kt = torch.from_numpy(k).to(_device())[None, None]
        got = torch.nn.functional.conv2d(xt, kt, padding="same")[0, 0].cpu().numpy()
    finally:
        torch.backends.cudnn.conv.fp32_precision = before
    if np.abs(got - want).max() <= bound(x, k, np.float32):
        pytest.skip("this GPU's cuDNN did not use TF32 here")
    assert np.abs(got - want).max() > bound(x, k, np.float32)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("method", METHODS)
def test_gradcheck_on_the_device(boundary, method):
    gradchecks(boundary, method, "cuda")


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("boundary", list(PADDING_MODE))
@pytest.mark.parametrize("method", METHODS)
def test_conv_module_equals_torch_conv_on_the_device(nd, boundary, method):
    conv_matches_torch(nd, boundary, method, "cuda")


@pytest.mark.parametrize("method", METHODS)
def test_training_step_matches_the_cpu(method):
    """One float32 forward and backward of a Conv layer: the device's gradients are the CPU's."""
    torch.manual_seed(3)
    layer = nt.Conv(2, 3, 5, 5, padding="same", boundary="reflect", method=method)
    x = torch.randn(4, 3, 32, 32)
    grads = []
    for device in ("cpu", "cuda"):
        moved = nt.Conv(2, 3, 5, 5, padding="same", boundary="reflect", method=method).to(device)
        moved.load_state_dict(layer.state_dict())
        loss = moved(x.to(device)).square().mean()
        loss.backward()
        grads.append([p.grad.cpu() for p in moved.parameters()])
    for cpu, cuda in zip(*grads):
        torch.testing.assert_close(cuda, cpu, rtol=1e-4, atol=1e-5)


def _case_id(case) -> str:
    return "x".join(map(str, case[0])) + "-k" + "x".join(map(str, case[1]))


TRITON_CASES = [   # (x shape, kernel shape, stride, dilation, padding)
    ((3, 1, 40, 37), (1, 1, 3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 1, 64, 300), (1, 1, 5, 7), (2, 3), (1, 2), (2, 0)),
    ((1, 1, 9, 1500), (1, 1, 9, 1), (1, 1), (3, 1), (8, 0)),
    ((1, 1, 17, 17), (1, 1, 31, 31), (1, 1), (1, 1), (30, 30)),     # taps beyond the input: 'full'
    ((4, 1, 5000), (1, 1, 64), (1,), (1,), (63,)),                     # 1-D, the last row unrolled
    ((6, 1, 2049), (1, 1, 3), (4,), (5,), (0,)),
]


@pytest.mark.parametrize("case", TRITON_CASES, ids=_case_id)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_triton_stencil_equals_float64_cudnn(case, dtype, monkeypatch):
    """The one-channel stencil that stands in for cuDNN: every stride, dilation, padding and
    a strided (non-contiguous) input, within the float32 (float64) bound of float64 cuDNN."""
    from ndconv.torch import _engine, _triton

    monkeypatch.setattr(_triton, "MIN_WORK", 0)   # small problems too
    shape, taps, stride, dilation, padding = case
    gen = torch.Generator(device="cuda").manual_seed(len(shape) * 100 + taps[-1])
    x = torch.randn(shape[:-1] + (2 * shape[-1],), device="cuda", dtype=dtype, generator=gen)[..., ::2]
    w = torch.randn(taps, device="cuda", dtype=dtype, generator=gen)
    assert _triton.usable(x, w, 1)
    conv = torch.nn.functional.conv1d if len(shape) == 3 else torch.nn.functional.conv2d
    want = conv(x.double(), w.double(), None, stride, padding, dilation)
    got = _triton.correlate(x, w, stride, dilation, padding)
    assert got.dtype == dtype and got.shape == want.shape
    scale = float(w.abs().sum() * x.abs().max())
    assert float((got.double() - want).abs().max()) <= (1e-6 if dtype == torch.float32 else 1e-14) * scale
    assert torch.equal(_engine.correlate_ieee(x, w, stride, dilation, padding=padding), got)


def test_triton_stencil_steps_aside_where_it_does_not_apply(monkeypatch):
    """Small problems, gradients, several channels, complex data, long rows and huge batches
    go to cuDNN."""
    from ndconv.torch import _triton

    x = torch.ones(2, 1, 8, 8, device="cuda")
    w = torch.ones(1, 1, 3, 3, device="cuda")
    assert not _triton.usable(x, w, 1)
    assert _triton.usable(torch.ones(2, 1, 1024, 1024, device="cuda"), w, 1)
    monkeypatch.setattr(_triton, "MIN_WORK", 0)
    assert _triton.usable(x, w, 1)
    assert not _triton.usable(x, w.clone().requires_grad_(), 1)
    assert not _triton.usable(torch.ones(2, 2, 8, 8, device="cuda"), torch.ones(1, 2, 3, 3, device="cuda"), 1)
    assert not _triton.usable(x.cpu(), w.cpu(), 1)
    assert not _triton.usable(x, torch.ones(1, 1, 1, _triton.MAX_ROW_TAPS + 1, device="cuda"), 1)
    assert not _triton.usable(x.to(torch.complex64), w.to(torch.complex64), 1)
    rows = torch.ones(_triton.MAX_GRID + 1, 1, 4, device="cuda")
    assert _triton.correlate(rows, torch.ones(1, 1, 2, device="cuda"), (1,), (1,), (0,)) is None
    y = nt.correlate(rows[:, 0], torch.ones(2, device="cuda"), axes=-1, mode="valid", method="direct")
    assert y.shape == (_triton.MAX_GRID + 1, 3) and bool((y == 2).all())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", ["constant", "reflect"])
@pytest.mark.parametrize("ndim", [1, 2])
def test_public_calls_reach_the_triton_stencil(mode, boundary, ndim, monkeypatch):
    """Problems above ``MIN_WORK`` run on the stencil through ndconv.torch's own calls
    (convolve and correlate) and give NumPy ndconv's answers within the float32 bound."""
    from ndconv.torch import _triton

    calls = []
    original = _triton.correlate
    monkeypatch.setattr(_triton, "correlate", lambda *a: calls.append(a) or original(*a))
    rng = rng_for("stencil", mode, boundary, ndim)
    shape, taps = ((2, 600, 500), (5, 4)) if ndim == 2 else ((3, 2**18), (7,))
    x = rng.standard_normal(shape).astype(np.float32)
    k = rng.standard_normal(taps).astype(np.float32)
    axes = tuple(range(-ndim, 0))
    check(x, k, mode=mode, boundary=boundary, axes=axes, fill_value=0.0)
    check(x, k, mode=mode, boundary=boundary, axes=axes, correlate=True, stride=2)
    assert len(calls) == 2


DEPTHWISE_CASES = [   # (x shape, kernel shape, stride, dilation, padding)
    ((2, 5, 3000), (5, 1, 4), (1,), (1,), (3,)),
    ((3, 7, 513), (7, 1, 16), (2,), (2,), (30,)),
    ((1, 4, 33, 70), (4, 1, 3, 5), (1, 2), (2, 1), (1, 2)),
]


@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=_case_id)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_triton_stencil_depthwise_equals_float64_cudnn(case, dtype, monkeypatch):
    """One kernel per channel (``groups`` = channels): each batch row reads its channel's
    kernel; against float64 cuDNN, through the stencil and through correlate_ieee."""
    from ndconv.torch import _engine, _triton

    monkeypatch.setattr(_triton, "MIN_WORK", 0)
    monkeypatch.setattr(_triton, "DEPTHWISE_MIN_OUTPUTS", 0)
    shape, taps, stride, dilation, padding = case
    gen = torch.Generator(device="cuda").manual_seed(taps[-1])
    x = torch.randn(shape, device="cuda", dtype=dtype, generator=gen)
    w = torch.randn(taps, device="cuda", dtype=dtype, generator=gen)
    channels = shape[1]
    assert _triton.usable(x, w, channels)
    conv = torch.nn.functional.conv1d if len(shape) == 3 else torch.nn.functional.conv2d
    want = conv(x.double(), w.double(), None, stride, padding, dilation, channels)
    got = _triton.correlate(x, w, stride, dilation, padding)
    assert got.dtype == dtype and got.shape == want.shape
    scale = float(w.abs().sum(dim=tuple(range(1, w.ndim))).max() * x.abs().max())
    assert float((got.double() - want).abs().max()) <= (1e-6 if dtype == torch.float32 else 1e-14) * scale
    assert torch.equal(_engine.correlate_ieee(x, w, stride, dilation, channels, padding=padding), got)
    wide = torch.randn((channels, 1) + taps[2:-1] + (_triton.DEPTHWISE_MAX_ROW_TAPS + 1,), device="cuda", dtype=dtype)
    assert not _triton.usable(x, wide, channels)


def test_per_row_kernels_reach_the_depthwise_stencil(monkeypatch):
    """ndconv.torch's per-row kernels (a short causal convolution per channel, Mamba-style)
    run on the stencil and give NumPy ndconv's answers within the float32 bound."""
    from ndconv.torch import _triton

    calls = []
    original = _triton.correlate
    monkeypatch.setattr(_triton, "correlate", lambda *a: calls.append(a) or original(*a))
    rng = rng_for("depthwise")
    x = rng.standard_normal((4, 64, 2**16)).astype(np.float32)    # DEPTHWISE_MIN_OUTPUTS
    k = rng.standard_normal((1, 64, 4)).astype(np.float32)
    check(x, k, axes=-1, mode="full")
    check(x, k, axes=-1, mode="same", boundary="reflect", correlate=True)
    assert len(calls) == 2
