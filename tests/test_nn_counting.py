"""count_parameters and conv_vs_dense: the course notes' numbers, lenet by hand, θ counted for kernel models."""

from __future__ import annotations

import numpy as np
import pytest

from ndconv import nn, param
from ndconv.cli import main


def test_the_notes_example_conv_against_dense():
    # 004: 32×32×3 input, 64 filters of 5×5; valid output 28×28×64.
    counts = nn.conv_vs_dense((3, 32, 32), 5, 64)
    assert counts.conv == 5 * 5 * 3 * 64 == 4800
    assert counts.output_shape == (64, 28, 28)
    assert counts.dense == 3072 * 50176 == 154_140_672  # the notes' "154 000 000"
    assert round(counts.ratio, -3) == 32_000  # "32000 x more than conv operation"


def test_conv_count_equals_a_conv_layer():
    counts = nn.conv_vs_dense((3, 32, 32), (5, 5), 64, bias=True)
    assert counts.conv == nn.count_parameters(nn.Conv(3, 64, 5)) == 4864
    assert counts.dense == nn.count_parameters(nn.Linear(3072, 64 * 28 * 28))


@pytest.mark.parametrize(("mode", "spatial"), [("valid", (28, 28)), ("same", (32, 32)), ("full", (36, 36))])
def test_mode_sets_the_dense_output_only(mode, spatial):
    counts = nn.conv_vs_dense([3, 32, 32], 5, 64, mode=mode)
    assert counts.conv == 4800
    assert counts.output_shape == (64, *spatial)
    assert counts.dense == 3072 * 64 * spatial[0] * spatial[1]


def test_one_and_three_spatial_axes_and_per_axis_kernels():
    assert nn.conv_vs_dense((2, 10), 3, 4) == (3 * 2 * 4, 20 * 4 * 8, (4, 8))
    assert nn.conv_vs_dense((1, 6, 7, 8), (1, 2, 3), 5) == (6 * 5, 336 * 5 * 6 * 6 * 6, (5, 6, 6, 6))


def test_lenet_count_is_the_hand_sum():
    # conv 1→16 3×3, conv 16→32 3×3, dense 32·2·2→64, dense 64→10, each with biases.
    hand = (1 * 16 * 9 + 16) + (16 * 32 * 9 + 32) + (128 * 64 + 64) + (64 * 10 + 10)
    assert nn.count_parameters(nn.lenet(seed=0)) == hand == 13706
    model = nn.lenet(3, 10, (32, 32), seed=0)
    assert nn.count_parameters(model) == sum(value.size for value in model.params.values())


@pytest.mark.parametrize(("kernel_model", "theta_per_kernel"),
                         [(param.SymmetricStencil, 4), (param.AntisymmetricStencil, 4), (param.MMatrixStencil, 8),
                          (param.SeparableStencil, 6)])
def test_kernel_models_count_theta_not_weights(kernel_model, theta_per_kernel):
    layer = nn.Conv(2, 5, 3, kernel_model=kernel_model((3, 3)), seed=0)
    assert nn.count_parameters(layer) == 2 * 5 * theta_per_kernel + 5
    free = (1 * 16 * 9 + 16) + (16 * 32 * 9 + 32)
    theta = (1 * 16 * theta_per_kernel + 16) + (16 * 32 * theta_per_kernel + 32)
    assert nn.count_parameters(nn.lenet(seed=0, kernel_model=kernel_model)) == 13706 - free + theta


def test_layers_without_parameters_count_zero():
    assert nn.count_parameters(nn.ReLU()) == nn.count_parameters(nn.Sequential(nn.Flatten(), nn.MaxPool(2))) == 0


def test_train_command_reports_count_parameters(capsys):
    assert main(["train", "--epochs", "1", "--kernel-model", "symmetric"]) == 0
    assert "symmetric kernels, 11,066 parameters" in capsys.readouterr().out


@pytest.mark.parametrize("value", [None, 3, np.zeros(3), {"weight": 1}])
def test_count_parameters_rejects_non_models(value):
    with pytest.raises(TypeError, match=r"^model must be an ndconv.nn layer or model .*, got "):
        nn.count_parameters(value)


@pytest.mark.parametrize(("args", "kwargs", "error", "message"), [
    (("32x32", 5, 64), {}, TypeError, r"^input_shape must be .*, got str"),
    (((3, 32, 32, 32, 32), 5, 64), {}, ValueError, r"^input_shape must be \(channels, \*spatial\).*, got \(3, 32"),
    (((3,), 5, 64), {}, ValueError, r"^input_shape must be \(channels, \*spatial\)"),
    (((3, 0, 32), 5, 64), {}, ValueError, r"^input_shape must be .*, got \(3, 0, 32\)"),
    (((3, 32, 32), (5, 5, 5), 64), {}, ValueError, r"^kernel_size must be an int or a tuple of 2 ints >= 1"),
    (((3, 32, 32), 2.5, 64), {}, TypeError, r"^kernel_size must be .*, got float"),
    (((3, 32, 32), 33, 64), {}, ValueError, r"^kernel_size must be at most the input's spatial shape \(32, 32\)"),
    (((3, 32, 32), 5, 0), {}, ValueError, r"^out_channels must be an int >= 1, got 0"),
    (((3, 32, 32), 5, True), {}, ValueError, r"^out_channels must be an int >= 1, got True"),
    (((3, 32, 32), 5, 64), {"mode": "sam"}, ValueError, r"^mode must be 'valid', 'same' or 'full', got 'sam'"),
    (((3, 32, 32), 5, 64), {"bias": 1}, TypeError, r"^bias must be a bool, got int"),
])
def test_conv_vs_dense_errors_name_the_argument(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        nn.conv_vs_dense(*args, **kwargs)
