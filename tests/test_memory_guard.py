"""The memory guard: every entry point that would allocate more than the
machine has refuses at once with a MemoryLimitError (a ValueError and a
MemoryError) naming the sizes — before allocating anything.

Inputs are zero-stride views (``np.broadcast_to``): the test itself allocates
nothing, and tracemalloc (which sees NumPy's allocations) proves the library
did not either.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

import ndconv
from ndconv import filters, fourier, nn
from ndconv._errors import MemoryLimitError
from ndconv.nn import functional

HUGE_2D = (2**20, 2**20)  # 8 TiB of float64


def view(shape, value=1.0, dtype=np.float64):
    return np.broadcast_to(np.asarray(value, dtype=dtype), shape)


def refused_quickly(call, match: str) -> MemoryLimitError:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(MemoryLimitError, match=match) as info:
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 5.0
    assert peak < 16 * 2**20, f"{peak} bytes allocated before the refusal"
    assert isinstance(info.value, MemoryError) and isinstance(info.value, ValueError)
    assert "of memory available" in str(info.value)
    return info.value


@pytest.mark.parametrize("method", ["auto", "direct", "fft", "overlap_add", "separable"])
@pytest.mark.parametrize("func", [ndconv.convolve, ndconv.correlate], ids=["convolve", "correlate"])
def test_convolve_every_method(func, method):
    refused_quickly(lambda: func(view(HUGE_2D), np.ones((3, 3)), "same", method=method),
                    r"the result has shape \(1048576, 1048576\) and needs 16\.0 TiB with its working copy")


def test_choose_method_refuses_too():
    refused_quickly(lambda: ndconv.choose_method(view(HUGE_2D), np.ones((3, 3))), r"the result has shape")


def test_operator_construction():
    refused_quickly(lambda: ndconv.ConvOperator(np.ones((3, 3)), HUGE_2D), r"the result has shape")


@pytest.fixture(scope="module")
def big_operator():
    """16 M unknowns: fine to apply, far too large as a matrix."""
    return ndconv.ConvOperator(np.ones((64, 64)), (4096, 4096), boundary="wrap")


def test_to_dense(big_operator):
    refused_quickly(big_operator.to_dense, r"the dense matrix has shape \(16777216, 16777216\) and needs 2\.0 PiB")
    refused_quickly(big_operator.T.to_dense, r"the dense matrix has shape")


def test_to_sparse(big_operator):
    refused_quickly(big_operator.to_sparse, r"the sparse matrix has shape \(16777216, 16777216\) and needs "
                                            r".* for 4096 taps per row")
    refused_quickly(lambda: ndconv.convolution_matrix(np.ones((64, 64)), (4096, 4096), sparse=True),
                    r"the sparse matrix has shape")


def test_generic_to_dense_of_a_jacobian():
    """Maps without a structured matrix build it from the identity: refused when that is too large."""
    x = view((2**14, 2**14))
    jac = ndconv.ConvOperator(np.ones((16, 16)), x.shape).jacobian_kernel(x)
    refused_quickly(jac.to_dense, r"the dense matrix has shape \(268435456, 256\) and needs .* with the identity")


def test_small_matrices_still_built():
    op = ndconv.ConvOperator([1.0, 2.0, 3.0], (5,), boundary="wrap")
    np.testing.assert_array_equal(op.to_dense(), op.to_sparse().toarray())


def test_dft_matrix():
    error = refused_quickly(lambda: fourier.dft_matrix(2**24), r"n=16777216 gives a dft_matrix of 4\.0 PiB")
    assert isinstance(error, ValueError)  # as documented before: still a ValueError


@pytest.mark.parametrize("pad_input", [False, True])
def test_match_template(pad_input):
    refused_quickly(lambda: ndconv.match_template(view(HUGE_2D), np.eye(3), pad_input=pad_input),
                    r"the padded image has shape \(10485\d\d, 10485\d\d\) and needs .* with its spectrum")


def test_filters():
    refused_quickly(lambda: filters.gaussian(view(HUGE_2D), 2.0), r"the result has shape")
    refused_quickly(lambda: filters.sobel(view(HUGE_2D)), r"the result has shape")
    refused_quickly(lambda: filters.box(view(HUGE_2D), 5), r"the result has shape")


def test_nn_conv_im2col():
    x = view((64, 64, 2048, 2048), dtype=np.float32)  # 64 GiB input, 2.3 TiB of columns
    w = np.ones((64, 64, 3, 3), np.float32)
    match = r"the im2col columns has shape \(64, 576, 4194304\) and needs"
    refused_quickly(lambda: functional.conv(x, w, padding=1), match)
    dy = view((64, 64, 2048, 2048), dtype=np.float32)
    refused_quickly(lambda: functional.conv_backward(dy, x, w, padding=1), match)
    layer = nn.Conv(64, 64, (3, 3), padding=1, dtype=np.float32)
    refused_quickly(lambda: layer.forward(x), match)


def test_nn_small_calls_unaffected():
    x = np.ones((2, 3, 8, 8))
    w = np.ones((4, 3, 3, 3))
    assert functional.conv(x, w, padding=1).shape == (2, 4, 8, 8)


# Sizes given as numbers rather than arrays: the guard must act before the first allocation,
# and count the temporaries (a 50000 × 50000 float32 layer once fitted in memory as weights
# but was drawn as float64 and scaled into a copy: the OS killed the process).

HUGE = 2**20


@pytest.fixture
def small_memory(monkeypatch):
    """The machine seen as having 64 MiB available: sizes of a few MB are then refused."""
    import ndconv._errors

    monkeypatch.setattr(ndconv._errors, "available_bytes", lambda need=0: 64 * 2**20)


def test_nn_layers_refuse_weights_beyond_memory():
    refused_quickly(lambda: nn.Linear(HUGE, HUGE), r"the weight has shape \(1048576, 1048576\) and needs "
                                                   r"12\.0 TiB while drawn in float64")
    refused_quickly(lambda: nn.Conv(1, 1, (HUGE, HUGE)), r"the weight has shape \(1, 1, 1048576, 1048576\)")
    refused_quickly(lambda: nn.Linear(HUGE, HUGE, dtype=np.float64), r"needs 8\.0 TiB while drawn in float64")
    model = ndconv.param.SymmetricStencil((3, 3))
    refused_quickly(lambda: nn.Conv(HUGE, HUGE, (3, 3), kernel_model=model),
                    r"theta has shape \(1048576, 1048576, 4\)")


def test_nn_weights_count_the_float64_draws(small_memory):
    assert nn.Linear(2000, 2000).params["weight"].shape == (2000, 2000)   # 48 MB with the draws
    refused_quickly(lambda: nn.Linear(2400, 2400), r"the weight has shape \(2400, 2400\) and needs 65\.9 MiB")


def test_nn_weights_are_the_same_draws_as_before():
    """The draws scaled in place: the same numbers as scaling a copy (seeded layers unchanged)."""
    rng = np.random.default_rng(7)
    expected = (rng.standard_normal((5, 3)) * np.sqrt(2.0 / 3)).astype(np.float32)
    np.testing.assert_array_equal(nn.Linear(3, 5, seed=7).params["weight"], expected)


@pytest.mark.parametrize("make", [lambda layer: nn.Adam(layer), lambda layer: nn.SGD(layer, lr=0.1, momentum=0.9)],
                         ids=["Adam", "SGD momentum"])
def test_optimizer_state_beyond_memory(small_memory, make):
    layer = nn.Linear(1800, 1800, seed=0)     # 13 MB of weights: Adam's moments and temporaries 78 MB,
    layer.grads = {name: np.ones_like(p) for name, p in layer.params.items()}   # SGD's buffer 39 MB
    before = layer.params["weight"].copy()
    optimizer = make(layer)
    if isinstance(optimizer, nn.Adam):
        refused_quickly(optimizer.step, r"the Adam state of 'weight' has shape \(1800, 1800\) and needs .* for its "
                                        r"two moments")
        np.testing.assert_array_equal(layer.params["weight"], before)   # refused before any update
    else:
        optimizer.step()                      # 3 × 13 MB fits in 64 MiB
        assert not np.array_equal(layer.params["weight"], before)


def test_filter_kernels_beyond_memory():
    refused_quickly(lambda: filters.gaussian_kernel(1e12, ndim=1),
                    r"the Gaussian kernel has shape \(8000000000001,\) and needs .* for sigma=1e\+12 and truncate=4")
    refused_quickly(lambda: filters.gaussian(np.ones((4, 4)), 1e12), r"the Gaussian kernel has shape")
    refused_quickly(lambda: filters.gaussian_kernel(3e4), r"the Gaussian kernel has shape \(240001, 240001\)")
    refused_quickly(lambda: filters.box(np.ones((4, 4)), 2**50), r"the box weights has shape")


def test_fourier_sizes_beyond_memory(small_memory):
    refused_quickly(lambda: fourier.freqs(2**22), r"the frequencies has shape \(4194304,\)")
    assert fourier.freqs(2**20).size == 2**20
    refused_quickly(lambda: fourier.resample(np.ones((4, 8)), 2**20), r"the result has shape \(4, 1048576\)")
    t = (np.linspace(0.0, 3.0, 2**10), np.linspace(0.0, 3.0, 2**13))
    refused_quickly(lambda: fourier.sinc_interpolate(np.eye(4), t), r"the result has shape \(1024, 8192\)")


def test_extend_beyond_memory():
    refused_quickly(lambda: ndconv.boundary.extend(np.ones(4), ((2**50, 0),), "reflect"),
                    r"the extended input has shape \(1125899906842628,\)")


def test_kernel_models_beyond_memory():
    """MMatrix(10**6) built a 931 GiB boolean mask and met NumPy's own MemoryError."""
    from ndconv import param

    refused_quickly(lambda: param.MMatrix(10**6), r"the kernel model has shape \(1000000, 1000000\) and needs .* for "
                                                  r"the 2,000,000,000,000 nonzeros of Q")
    refused_quickly(lambda: param.Antisymmetric(10**6), r"the kernel model has shape \(1000000, 1000000\)")
    for model in (param.Stencil, param.SymmetricStencil, param.AntisymmetricStencil, param.MMatrixStencil):
        refused_quickly(lambda model=model: model((HUGE + 1, HUGE + 1)), r"the kernel model has shape")
    assert param.Diagonal(10**6).num_params == 10**6        # a million nonzeros: built
    assert param.SeparableStencil((HUGE, HUGE)).num_params == 2 * HUGE   # no Q at all
