"""ndconv.plot: each picture has the artists it promises; matplotlib stays optional."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import ndconv  # noqa: E402
from ndconv import plot  # noqa: E402
from ndconv.param import AntisymmetricStencil  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_import_ndconv_does_not_import_matplotlib():
    code = "import sys, ndconv, ndconv.param; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"


def test_missing_matplotlib_says_how_to_install_it():
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "try:\n    import ndconv.plot\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "ndconv.plot needs matplotlib: pip install ndconv[plot]"


class Dense:
    """Any object with to_dense() and (optionally) the operator's shapes."""

    def __init__(self, matrix, input_shape=None, output_shape=None):
        self.matrix = matrix
        if input_shape is not None:
            self.input_shape, self.output_shape = input_shape, output_shape

    def to_dense(self):
        return self.matrix


def test_operator_matrix_from_array_sparse_and_to_dense():
    C = scipy.linalg.circulant([2.0, -1.0, 0.0, 0.0, -1.0])
    for given in (C, scipy.sparse.csr_array(C), Dense(C)):
        ax = plot.operator_matrix(given)
        assert isinstance(ax, matplotlib.axes.Axes)
        np.testing.assert_array_equal(ax.images[0].get_array(), C)
        assert ax.images[0].get_clim() == (-2.0, 2.0)  # centred on zero
        assert ax.get_title() == "5×5 matrix" and len(ax.figure.axes) == 2  # with its colour bar


def test_operator_matrix_block_lines_and_complex():
    units = np.eye(12).reshape(12, 3, 4)
    A = np.stack([ndconv.convolve(e, np.ones((3, 3)), "same", "wrap").ravel() for e in units], axis=1)  # BCCB
    ax = plot.operator_matrix(Dense(A, (3, 4), (3, 4)), colorbar=False, title="BCCB")
    assert len(ax.lines) == 4 and ax.get_title() == "BCCB" and len(ax.figure.axes) == 1  # 2 + 2 block lines
    ax = plot.operator_matrix(A * 1j, blocks=(6, 4))
    assert len(ax.lines) == 1 + 2
    np.testing.assert_array_equal(ax.images[0].get_array(), A)  # |a_ij|


def test_operator_matrix_draws_on_a_given_axes():
    fig, axes = plt.subplots(1, 2)
    assert plot.operator_matrix(np.eye(3), ax=axes[1]) is axes[1]


@pytest.mark.parametrize("bad", [np.ones(3), np.ones((0, 2)), np.array([["a"]])])
def test_operator_matrix_rejects_non_matrices(bad):
    with pytest.raises(ValueError, match="op_or_matrix must be a non-empty 2-D numeric matrix"):
        plot.operator_matrix(bad)


def test_spectrum_of_an_antisymmetric_stencil():
    model = AntisymmetricStencil((3, 3))
    k = model.model(np.arange(1.0, 5.0))
    column = np.zeros((6, 6))
    column[np.ix_([5, 0, 1], [5, 0, 1])] = k  # taps at offsets −1, 0, 1: the kernel placed circularly
    lam = np.fft.fftn(column)
    ax = plot.spectrum(lam, title="antisymmetric", color="C3")
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(offsets[:, 0] + 1j * offsets[:, 1], lam.ravel())
    assert np.abs(offsets[:, 0]).max() < 1e-12
    assert ax.get_xlabel() == "Re λ" and ax.get_ylabel() == "Im λ" and ax.get_title() == "antisymmetric"
    with pytest.raises(ValueError, match=r"eigvals must be a non-empty array of numbers, got \[\]"):
        plot.spectrum([])


def test_frequency_response_1d_and_2d():
    ax = plot.frequency_response([1.0, 2.0, 1.0])
    x, y = ax.lines[0].get_data()
    assert x.size == 64 and x[0] == -0.5 and y.max() == pytest.approx(4.0)
    ax = plot.frequency_response([1.0, -1.0], size=16, db=True)
    assert ax.lines[0].get_ydata()[8] < -200 and "dB" in ax.get_ylabel()  # a zero at f = 0
    ax = plot.frequency_response(np.ones((3, 3)) / 9, size=(8, 16))
    image = ax.images[0]
    assert image.get_array().shape == (8, 16) and image.get_array().max() == pytest.approx(1.0)
    assert image.get_extent() == pytest.approx([-0.53125, 0.46875, -0.5625, 0.4375])
    assert image.get_array()[4, 8] == pytest.approx(1.0)  # zero frequency in the middle


@pytest.mark.parametrize("k, size, match", [(np.ones((2, 2, 2)), None, "k must be a non-empty 1-D or 2-D"),
                                             ([], None, "k must be a non-empty 1-D or 2-D"),
                                             ([1.0, 2.0, 3.0], 2, "size must be an int or 1 ints, each at least"),
                                             (np.ones((3, 3)), (8,), "size must be an int or 2 ints")])
def test_frequency_response_errors(k, size, match):
    with pytest.raises(ValueError, match=match):
        plot.frequency_response(k, size=size)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("correlate", [False, True])
def test_explain_table_has_the_cells_of_explain(mode, correlate):
    x, h = [3, 1, 2, 5], [3, 2, 1]
    ax = plot.explain_table(x, h, mode, correlate)
    cells = ax.tables[0].get_celld()
    text = ndconv.explain(x, h, mode, correlate).splitlines()
    n_rows = 1 + max(r for r, _ in cells)
    n_cols = max(c for _, c in cells)
    assert n_rows == len(text)
    for r, line in enumerate(text):
        row = [cells[r, c].get_text().get_text() for c in range(n_cols + 1)]
        assert row[0] + ":" == line.split()[0]
        assert [t for t in row[1:] if t] == line.split()[1:]  # the same cells, in order
    y_row = [cells[n_rows - 1, c].get_text().get_text() for c in range(1, n_cols + 1)]
    expected = (ndconv.correlate if correlate else ndconv.convolve)(x, h, mode)
    assert [int(t) for t in y_row if t] == expected.tolist()
    assert ax.get_title() == f"{'correlate' if correlate else 'convolve'}, mode={mode!r}"


def test_explain_table_complex_kernel():
    ax = plot.explain_table([1.0, 2.0], [1j, 2.0], correlate=True)
    cells = ax.tables[0].get_celld()
    assert [cells[5, c].get_text().get_text() for c in range(5)] == ["y", "", "2+0j", "4-1j", "0-2j"]
    assert [cells[2, c].get_text().get_text() for c in range(5)] == ["h[k+1]", "0-1j", "2+0j", "", ""]


@pytest.mark.parametrize("correlate", [False, True])
def test_convolution_step_sums_what_it_draws(correlate):
    x, h = np.array([3, 1, 2]), np.array([3, 2, 1])
    full = (ndconv.correlate if correlate else ndconv.convolve)(x, h, "full")
    for n in range(5):
        ax = plot.convolution_step(x, h, n, correlate=correlate)
        title = ax.get_title()
        assert title.startswith(f"y[{n}] = ") and title.endswith(f"= {full[n]}")
        terms = title.split(" = ")[1]
        assert sum(int(a) * int(b) for a, b in (t.split("·") for t in terms.split(" + "))) == full[n]
        plt.close("all")


def test_convolution_step_writes_nan_and_inf_terms():
    """A NaN in x raised ``cannot convert float NaN to integer`` while the terms were written."""
    ax = plot.convolution_step([1.0, np.nan, np.inf], [1.0, 2.0], 2)
    assert ax.get_title() == "y[2] = nan·2 + inf·1 = nan"
    plt.close("all")


def test_convolution_step_rejects_bad_index():
    with pytest.raises(ValueError, match="n must be an output index of the full result, 0 to 4"):
        plot.convolution_step([3, 1, 2], [3, 2, 1], 5)
    with pytest.raises(ValueError, match="x must be"):
        plot.convolution_step([[1, 2]], [1], 0)


def test_match_map_draws_the_box_at_the_best_score():
    scores = np.zeros((6, 7))
    scores[4, 2] = 0.9
    left, right = plot.match_map(np.zeros((10, 12)), scores, template_shape=(5, 6))
    box = left.patches[0]
    assert box.get_xy() == (2, 4) and (box.get_width(), box.get_height()) == (6, 5)
    assert right.images[0].get_array().shape == (6, 7)
    with pytest.raises(ValueError, match="template_shape"):
        plot.match_map(np.zeros((10, 12)), scores, template_shape=(0, 3))


@pytest.mark.parametrize("call, match", [
    (lambda s: plot.match_map(np.zeros((10, 12)), s, template_shape=(11, 3)),
     r"template_shape must be a box that fits in the image \(10, 12\), got \(11, 3\)"),
    (lambda s: plot.match_map(np.zeros((10, 12)), s, template_shape=(4, 4)),
     r"scores must be one score per position .* shape \(7, 9\).*got \(6, 7\)"),
    (lambda s: plot.match_map(np.zeros((10, 12)), s, template_shape=(5, 6), top_left=(6, 0)),
     r"top_left must be a position in the scores, rows 0 to 5 and columns 0 to 6, got \(6, 0\)"),
    (lambda s: plot.match_map(np.zeros((10, 12)), np.full_like(s, np.nan), template_shape=(5, 6)),
     r"scores must be at least one number to find the best match, got 'all NaN'"),
])
def test_match_map_refuses_scores_that_do_not_belong_to_the_image(call, match):
    """Scores of another geometry, a box off the scores, or no score at all: a ValueError
    naming the argument (they drew a box in the wrong place, or raised NumPy's own error)."""
    with pytest.raises(ValueError, match=match):
        call(np.zeros((6, 7)))
