"""ndconv.nn.functional.conv and its gradients against PyTorch.

References: ``torch.nn.Conv{1,2,3}d`` modules (they own torch's ``'same'`` and
``padding_mode`` logic) for the boundaries torch has; for ``symmetric`` and for
paddings wider than torch allows, the input is extended by a gather with
:func:`ndconv.boundary.extension_index` (the definition of each rule) inside
torch, then convolved 'valid' — so autograd differentiates the extension too.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ndconv.boundary import extension_index
from ndconv.nn import functional as F

torch = pytest.importorskip("torch")

TORCH_MODE = {"constant": "zeros", "wrap": "circular", "reflect": "reflect", "edge": "replicate"}
BOUNDARIES = ("constant", "wrap", "reflect", "edge", "symmetric")
TOL = {np.float32: 1e-5, np.float64: 1e-12}

# (spatial, kernel, stride, padding, dilation, groups, in_channels, out_channels, bias)
CASES = [
    ((9,), (3,), 1, 1, 1, 1, 2, 3, True),
    ((10,), (4,), 1, "same", 1, 1, 2, 2, False),       # even kernel: extra pad at the end
    ((11,), (3,), 2, 2, 2, 2, 4, 6, True),             # stride, dilation, groups
    ((7, 8), (3, 3), 1, "same", 1, 1, 3, 4, True),
    ((8, 9), (2, 4), 1, "same", (2, 1), 1, 2, 3, True),  # even, dilated 'same'
    ((9, 8), (3, 2), (2, 3), (1, 2), 1, 1, 2, 3, False),  # tuples
    ((8, 8), (3, 3), 1, "valid", 1, 4, 4, 4, True),    # depthwise
    ((9, 7), (3, 3), 2, 1, (1, 2), 2, 4, 2, True),
    ((5, 6, 5), (3, 2, 3), 1, "same", 1, 1, 2, 2, True),
    ((6, 5, 7), (2, 3, 3), (1, 2, 2), 1, (2, 1, 1), 2, 2, 4, False),
]
CASE_IDS = [f"{len(c[0])}d-{i}" for i, c in enumerate(CASES)]


def _data(case, dtype, seed=0):
    spatial, kernel, _, _, _, groups, cin, cout, bias = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, cin) + spatial).astype(dtype)
    w = rng.standard_normal((cout, cin // groups) + kernel).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype) if bias else None
    return x, w, b


def _pad_widths(spatial, kernel, padding, dilation):
    d = len(spatial)
    if padding == "same":
        dil = (dilation,) * d if isinstance(dilation, int) else dilation
        total = [r * (k - 1) for k, r in zip(kernel, dil)]
        return [(t // 2, t - t // 2) for t in total]
    if padding == "valid":
        return [(0, 0)] * d
    p = (padding,) * d if isinstance(padding, int) else padding
    return [(q, q) for q in p]


def _extend_torch(xt, spatial, pads, boundary):
    """x̃ by the rule's source index: a differentiable gather."""
    for axis, (n, (before, after)) in enumerate(zip(spatial, pads)):
        idx, inside = extension_index(n, -before, n + after - 1, boundary)
        xt = torch.index_select(xt, 2 + axis, torch.from_numpy(idx))
        shape = [1] * xt.ndim
        shape[2 + axis] = -1
        xt = xt * torch.from_numpy(inside.astype(np.float64)).to(xt.dtype).reshape(shape)
    return xt


def torch_conv(x, w, b, stride, padding, boundary, dilation, groups, *, native=True):
    """torch result (and the leaf tensors) of conv with these arguments."""
    xt = torch.from_numpy(x).requires_grad_(True)
    wt = torch.from_numpy(w).requires_grad_(True)
    bt = None if b is None else torch.from_numpy(b).requires_grad_(True)
    d = x.ndim - 2
    conv = getattr(torch.nn.functional, f"conv{d}d")
    if native and boundary in TORCH_MODE:
        module = getattr(torch.nn, f"Conv{d}d")(
            x.shape[1], w.shape[0], w.shape[2:], stride=stride, padding=padding, dilation=dilation,
            groups=groups, bias=b is not None, padding_mode=TORCH_MODE[boundary], dtype=xt.dtype)
        # the module's own padding logic, with our leaf tensors as its parameters
        if boundary == "constant":
            with warnings.catch_warnings():  # torch notes that it copies for an even 'same' kernel
                warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")
                y = module._conv_forward(xt, wt, bt)
        else:
            y = conv(torch.nn.functional.pad(xt, module._reversed_padding_repeated_twice,
                                             mode=TORCH_MODE[boundary]), wt, bt, stride, 0, dilation, groups)
    else:
        pads = _pad_widths(x.shape[2:], w.shape[2:], padding, dilation)
        y = conv(_extend_torch(xt, x.shape[2:], pads, boundary), wt, bt, stride, 0, dilation, groups)
    return y, xt, wt, bt


def assert_close(actual, expected, tol):
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max(initial=0)))
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


def _kwargs(case, boundary):
    _, _, stride, padding, dilation, groups, *_ = case
    return dict(stride=stride, padding=padding, boundary=boundary, dilation=dilation, groups=groups)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_forward_matches_torch(case, boundary, dtype):
    x, w, b = _data(case, dtype)
    kw = _kwargs(case, boundary)
    y = F.conv(x, w, b, **kw)
    expected, *_ = torch_conv(x, w, b, kw["stride"], kw["padding"], boundary, kw["dilation"], kw["groups"])
    assert y.dtype == dtype
    assert_close(y, expected.detach().numpy(), TOL[dtype])


@pytest.mark.parametrize("boundary", ["reflect", "symmetric", "wrap"])
def test_symmetric_and_wide_padding_match_numpy_pad(boundary):
    """numpy.pad repeats every rule; torch then convolves 'valid'. Padding > input size."""
    x, w, b = _data(((4, 5), (3, 3), 1, 0, 1, 1, 2, 3, True), np.float64, seed=3)
    xp = np.pad(x, ((0, 0), (0, 0), (6, 6), (7, 7)), mode=boundary)
    expected = torch.nn.functional.conv2d(torch.from_numpy(xp), torch.from_numpy(w), torch.from_numpy(b))
    assert_close(F.conv(x, w, b, padding=(6, 7), boundary=boundary), expected.numpy(), 1e-12)


@pytest.mark.parametrize("alias, torch_mode", [("zero", "zeros"), ("periodic", "circular"),
                                               ("mirror", "reflect"), ("replicate", "replicate"),
                                               ("nearest", "replicate"), ("circular", "circular")])
def test_boundary_aliases(alias, torch_mode):
    x, w, b = _data(((6, 6), (3, 3), 1, 1, 1, 1, 2, 2, True), np.float64)
    module = torch.nn.Conv2d(2, 2, 3, padding=1, padding_mode=torch_mode, dtype=torch.float64)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(w))
        module.bias.copy_(torch.from_numpy(b))
        expected = module(torch.from_numpy(x)).numpy()
    assert_close(F.conv(x, w, b, padding=1, boundary=alias), expected, 1e-12)


GRAD_CASES = [(c, bd) for i, c in enumerate(CASES) for bd in BOUNDARIES if (i + len(bd)) % 2 == 0 or i in (1, 4)]


@pytest.mark.parametrize("case, boundary", GRAD_CASES,
                         ids=[f"{len(c[0])}d-{CASES.index(c)}-{bd}" for c, bd in GRAD_CASES])
def test_gradients_match_torch_autograd(case, boundary):
    x, w, b = _data(case, np.float64, seed=1)
    kw = _kwargs(case, boundary)
    y, xt, wt, bt = torch_conv(x, w, b, kw["stride"], kw["padding"], boundary, kw["dilation"], kw["groups"])
    dy = np.random.default_rng(2).standard_normal(y.shape)
    (y * torch.from_numpy(dy)).sum().backward()
    dx, dw, db = F.conv_backward(dy, x, w, **kw)
    assert_close(dx, xt.grad.numpy(), 1e-12)
    assert_close(dw, wt.grad.numpy(), 1e-12)
    assert_close(F.conv_input_grad(dy, x, w, **kw), dx, 0)
    assert_close(F.conv_weight_grad(dy, x, w, **kw), dw, 0)
    if b is not None:
        assert_close(db, bt.grad.numpy(), 1e-12)
        assert_close(F.conv_bias_grad(dy), db, 0)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_gradients_float32_and_wide_padding(boundary):
    """float32 stays float32; padding wider than the input folds every repeat back."""
    x, w, _ = _data(((3, 4), (3, 2), 1, 0, 1, 1, 2, 2, False), np.float32, seed=4)
    kw = dict(stride=(1, 2), padding=(5, 6), boundary=boundary, dilation=(2, 1), groups=1)
    y, xt, wt, _ = torch_conv(x, w, None, kw["stride"], kw["padding"], boundary, kw["dilation"], 1, native=False)
    dy = np.random.default_rng(5).standard_normal(y.shape).astype(np.float32)
    (y * torch.from_numpy(dy)).sum().backward()
    dx, dw, db = F.conv_backward(dy, x, w, **kw)
    assert dx.dtype == dw.dtype == db.dtype == np.float32
    assert_close(F.conv(x, w, **kw), y.detach().numpy(), 1e-5)
    assert_close(dx, xt.grad.numpy(), 1e-5)
    assert_close(dw, wt.grad.numpy(), 1e-5)


def test_dtypes():
    x = np.arange(2 * 2 * 5).reshape(2, 2, 5)
    w = np.ones((3, 2, 2), dtype=np.int32)
    y = F.conv(x, w)
    assert y.dtype == np.float64
    assert_close(y, F.conv(x.astype(float), w.astype(float)), 0)
    assert F.conv(x.astype(np.float16), w.astype(np.float16)).dtype == np.float32
    assert F.conv(x.astype(np.float32), w.astype(np.float64)).dtype == np.float64
    assert F.conv(x.astype(np.float32), w.astype(np.float32), np.zeros(3, np.float32)).dtype == np.float32
    with pytest.raises(TypeError, match=r"x must be a real array \(bool, .* got ndarray of dtype complex128"):
        F.conv(x + 0j, w)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_shapes(data):
    d = data.draw(st.integers(1, 2), label="spatial axes")
    groups = data.draw(st.sampled_from([1, 2]))
    cin, cout = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    kernel = tuple(data.draw(st.integers(1, 4)) for _ in range(d))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(d))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    padding = data.draw(st.one_of(st.integers(0, 4), st.sampled_from(["valid", "same"])))
    if padding == "same":
        stride = (1,) * d
    pads = _pad_widths((0,) * d, kernel, padding, dilation)
    extent = [r * (k - 1) + 1 for k, r in zip(kernel, dilation)]
    spatial = tuple(data.draw(st.integers(max(1, e - a - b), e + 5)) for e, (a, b) in zip(extent, pads))
    boundary = data.draw(st.sampled_from(BOUNDARIES))
    case = (spatial, kernel, stride, padding, dilation, groups, cin, cout, data.draw(st.booleans()))
    x, w, b = _data(case, np.float64, seed=len(spatial) + sum(kernel))
    kw = _kwargs(case, boundary)
    y, xt, wt, _ = torch_conv(x, w, b, stride, padding, boundary, dilation, groups, native=False)
    assert_close(F.conv(x, w, b, **kw), y.detach().numpy(), 1e-12)
    dy = np.random.default_rng(0).standard_normal(y.shape)
    (y * torch.from_numpy(dy)).sum().backward()
    dx, dw, _ = F.conv_backward(dy, x, w, **kw)
    assert_close(dx, xt.grad.numpy(), 1e-12)
    assert_close(dw, wt.grad.numpy(), 1e-12)


X = np.zeros((2, 4, 6, 6))
W = np.zeros((6, 4, 3, 3))


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((X, W), dict(padding="full"), ValueError, r"padding must be 'valid' or 'same', got 'full'"),
    ((X, W), dict(padding=-1), ValueError, r"padding must be an int or a sequence of 2 ints >= 0, got -1"),
    ((X, W), dict(padding=(1, 1, 1)), ValueError, r"padding must be an int or a sequence .* got \(1, 1, 1\)"),
    ((X, W), dict(padding="same", stride=2), ValueError, r"padding must be an int or a tuple when stride != 1 .*"),
    ((X, W), dict(boundary="mirrored"), ValueError, r"boundary must be 'constant', .* got 'mirrored'"),
    ((X, W), dict(stride=0), ValueError, r"stride must be an int or a sequence of 2 ints >= 1, got 0"),
    ((X, W), dict(dilation=(1, 0)), ValueError, r"dilation must be an int or a sequence of 2 ints >= 1, got \(1, 0\)"),
    ((X, W), dict(groups=0), ValueError, r"groups must be an int >= 1, got 0"),
    ((X, W), dict(groups=3), ValueError, r"groups must be a divisor of in_channels=4, got 3"),
    ((X, np.zeros((5, 2, 3, 3))), dict(groups=2), ValueError, r"groups must be a divisor of out_channels=5 .*, got 2"),
    ((X, np.zeros((6, 3, 3, 3))), {}, ValueError,
     r"w must be an array with w.shape\[1\] == in_channels/groups == 4 .*\(6, 3, 3, 3\)"),
    ((X, np.zeros((6, 4, 3))), {}, ValueError, r"w must be an array \(out_channels, .*\) with 4 dimensions"),
    ((np.zeros((2, 4)), np.zeros((6, 4))), {}, ValueError,
     r"x must be an array .* with 1 to 3 spatial axes, got an array of shape \(2, 4\)"),
    ((X, W, np.zeros(5)), {}, ValueError, r"b must be None or an array of shape \(6,\), got an array of shape \(5,\)"),
    ((X, np.zeros((6, 4, 7, 3))), {}, ValueError,
     r"w must be a kernel whose dilated extent \(7, 3\) fits the padded input \(6, 6\)"),
    ((X, W), dict(groups=1.5), ValueError, r"groups must be an int >= 1, got 1.5"),
    ((X.astype(complex), W), {}, TypeError, r"x must be a real array"),
    ((X, "abc"), {}, TypeError, r"w must be an array of"),
])
def test_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        F.conv(*args, **kwargs)


def test_backward_errors():
    with pytest.raises(ValueError, match=r"dy must be an array of the output shape \(2, 6, 4, 4\), got .*6, 6\)"):
        F.conv_backward(np.zeros((2, 6, 6, 6)), X, W)
    with pytest.raises(ValueError, match=r"dy must be an array \(batch, channels, .*\), got an array of shape \(3,\)"):
        F.conv_bias_grad(np.zeros(3))


def test_workspace_reuse_is_per_thread_and_between_calls():
    """Large im2col buffers are reused: results stay right across calls, shapes and threads."""
    from concurrent.futures import ThreadPoolExecutor

    from ndconv.nn import _conv_gemm

    rng = np.random.default_rng(0)
    cases = []
    for channels, size in ((16, 48), (8, 64)):          # columns of 4.2 MB and 4.5 MB: over KEEP_BYTES
        x = rng.standard_normal((4, channels, size, size)).astype(np.float32)
        w = rng.standard_normal((8, channels, 3, 3)).astype(np.float32)
        dy = rng.standard_normal((4, 8, size, size)).astype(np.float32)
        expected = [torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()]
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w).requires_grad_()
        out = torch.nn.functional.conv2d(tx, tw, padding=1)
        expected += [g.numpy() for g in torch.autograd.grad(out, (tx, tw), torch.from_numpy(dy))]
        assert 9 * x.nbytes >= _conv_gemm.KEEP_BYTES
        cases.append((x, w, dy, expected))

    def run(i):
        x, w, dy, expected = cases[i % 2]
        got = [F.conv(x, w, padding=1), *F.conv_backward(dy, x, w, padding=1)[:2]]
        return all(np.allclose(a, b, rtol=1e-4, atol=1e-3) for a, b in zip(got, expected))

    assert all(run(i) for i in range(4))                          # one thread, alternating sizes
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(run, range(16)))


@pytest.mark.parametrize("stride", [8, 9, 2**63, 10**30])
def test_strides_past_the_last_window_keep_the_first(stride):
    """Any stride of at least 8 keeps the first window of a 3×3 kernel on 10 samples (and a stride
    of 2**63 or more no longer overflows int64 on its way to the loops)."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 10, 10)), rng.standard_normal((3, 2, 3, 3))
    expected = F.conv(x, w, stride=(1, 8))
    np.testing.assert_array_equal(F.conv(x, w, stride=(1, stride)), expected)
    dy = rng.standard_normal(expected.shape)
    for got, want in zip(F.conv_backward(dy, x, w, stride=(1, stride)), F.conv_backward(dy, x, w, stride=(1, 8))):
        np.testing.assert_array_equal(got, want)
