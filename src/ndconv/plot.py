"""Pictures of convolution operators (needs matplotlib: ``pip install ndconv[plot]``).

- :func:`operator_matrix`: the matrix of an operator — Toeplitz, circulant, BCCB …;
- :func:`spectrum`: eigenvalues in the complex plane;
- :func:`frequency_response`: ``|FFT|`` of a 1-D or 2-D kernel, centred;
- :func:`explain_table`: the step-by-step table of :func:`ndconv.explain` as a figure;
- :func:`convolution_step`: one output sample of a 1-D convolution — the input,
  the flipped kernel shifted to that sample, their products and the sum;
- :func:`match_map`: template-matching scores as a heat-map with the best
  match's box drawn on the image.

Each draws on ``ax`` (a new figure when None) and returns the Axes.  ``import
ndconv`` never imports this module, so matplotlib stays optional.
"""

from __future__ import annotations

import math
import re

import numpy as np

try:
    import matplotlib  # noqa: F401  (fail here, with the install hint, not deep inside a call)
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("ndconv.plot needs matplotlib: pip install ndconv[plot]") from error

from ._errors import bad_value
from .explain import explain

__all__ = ["operator_matrix", "spectrum", "frequency_response", "explain_table", "convolution_step", "match_map"]


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.figure().add_subplot()


def _dense_matrix(op_or_matrix) -> np.ndarray:
    if hasattr(op_or_matrix, "to_dense"):
        matrix = op_or_matrix.to_dense()
    elif hasattr(op_or_matrix, "toarray"):  # scipy.sparse
        matrix = op_or_matrix.toarray()
    else:
        matrix = op_or_matrix
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.size == 0 or matrix.dtype.kind not in "biufc":
        raise bad_value("op_or_matrix", op_or_matrix, "a non-empty 2-D numeric matrix, a scipy.sparse matrix or "
                        "an object with to_dense()")
    return matrix


def operator_matrix(op_or_matrix, ax=None, *, blocks=None, cmap: str = "RdBu_r", colorbar: bool = True,
                    title: str | None = None):
    """Draw the matrix of an operator, entry by entry, to show its structure.

    Parameters
    ----------
    op_or_matrix : ndarray, scipy.sparse matrix or object with ``to_dense()``
        E.g. an ``ndconv.ConvOperator`` or ``convolution_matrix(...)``.
    ax : matplotlib Axes, optional
    blocks : int or (int, int), optional
        Draw block lines every ``blocks`` rows and columns (``(rows, columns)``
        for different sizes) — for a 2-D input of shape ``(n₁, n₂)`` use ``n₂``
        to see the BCCB / block-Toeplitz structure.  By default taken from the
        operator's ``output_shape`` / ``input_shape`` when they are 2-D or more.
    cmap : str
        A diverging colour map, centred on 0 (complex matrices show ``|a_ij|``).
    colorbar : bool
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, scipy.linalg
    >>> from ndconv import plot
    >>> ax = plot.operator_matrix(scipy.linalg.circulant([2.0, -1.0, 0.0, 0.0, -1.0]))
    >>> ax.images[0].get_array().shape
    (5, 5)
    """
    matrix = _dense_matrix(op_or_matrix)
    ax = _axes(ax)
    if matrix.dtype.kind == "c":
        values, cmap, vmin = np.abs(matrix), "viridis", 0.0
        vmax = float(values.max()) or 1.0
    else:
        values = matrix.astype(float)
        vmax = float(np.abs(values).max()) or 1.0
        vmin = -vmax
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    if blocks is None:
        out_shape, in_shape = getattr(op_or_matrix, "output_shape", ()), getattr(op_or_matrix, "input_shape", ())
        if len(out_shape) >= 2 and len(in_shape) >= 2:
            blocks = (int(np.prod(out_shape[1:])), int(np.prod(in_shape[1:])))
    if blocks is not None:
        row_block, col_block = (blocks, blocks) if np.isscalar(blocks) else blocks
        for r in range(row_block, matrix.shape[0], row_block):
            ax.axhline(r - 0.5, color="0.4", linewidth=0.6)
        for c in range(col_block, matrix.shape[1], col_block):
            ax.axvline(c - 0.5, color="0.4", linewidth=0.6)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xlabel("column (input index)")
    ax.set_ylabel("row (output index)")
    ax.set_title(title if title is not None else f"{matrix.shape[0]}×{matrix.shape[1]} matrix")
    return ax


def spectrum(eigvals, ax=None, *, title: str | None = None, **scatter_kwargs):
    """Plot eigenvalues in the complex plane (real part right, imaginary part up).

    Parameters
    ----------
    eigvals : array_like
        Any shape (e.g. ``op.eigvals()`` of shape ``input_shape``); flattened.
    ax : matplotlib Axes, optional
    title : str, optional
    **scatter_kwargs
        Passed to ``ax.scatter``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np
    >>> from ndconv import plot
    >>> ax = plot.spectrum(np.fft.fft([0.0, 1.0, 0.0, 0.0, -1.0]))  # an antisymmetric stencil
    >>> np.abs(ax.collections[0].get_offsets()[:, 0]).max() < 1e-12  # on the imaginary axis
    np.True_
    """
    values = np.ravel(np.asarray(eigvals)).astype(complex)
    if values.size == 0:
        raise bad_value("eigvals", eigvals, "a non-empty array of numbers")
    ax = _axes(ax)
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
    ax.axvline(0.0, color="0.6", linewidth=0.8, zorder=0)
    scatter_kwargs.setdefault("s", 12)
    ax.scatter(values.real, values.imag, **scatter_kwargs)
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title if title is not None else f"{values.size} eigenvalues")
    return ax


def frequency_response(k, ax=None, *, size=None, db: bool = False, title: str | None = None):
    """Plot ``|FFT(k)|``, centred (zero frequency in the middle), of a 1-D or 2-D kernel.

    Parameters
    ----------
    k : array_like
        A 1-D or 2-D kernel.
    ax : matplotlib Axes, optional
    size : int or (int, int), optional
        Transform length per axis (the kernel is zero-padded); default
        ``max(64, K)`` per axis, for a smooth curve.
    db : bool
        Plot ``20 log10 |K(f)|`` (decibels) instead of ``|K(f)|``.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        Frequencies in cycles per sample, from −1/2 to 1/2: a line for a 1-D
        kernel, an image (``extent`` in those units) for a 2-D kernel.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from ndconv import plot
    >>> ax = plot.frequency_response([0.25, 0.5, 0.25], size=8)  # a low-pass filter
    >>> line = ax.lines[0]
    >>> line.get_xdata().tolist()
    [-0.5, -0.375, -0.25, -0.125, 0.0, 0.125, 0.25, 0.375]
    >>> line.get_ydata().round(3).tolist()
    [0.0, 0.146, 0.5, 0.854, 1.0, 0.854, 0.5, 0.146]
    """
    kernel = np.asarray(k)
    if kernel.ndim not in (1, 2) or kernel.size == 0 or kernel.dtype.kind not in "biufc":
        raise bad_value("k", k, "a non-empty 1-D or 2-D numeric kernel")
    if size is None:
        size = tuple(max(64, s) for s in kernel.shape)
    size = (size,) * kernel.ndim if np.isscalar(size) else tuple(size)
    if len(size) != kernel.ndim or any(int(n) < s for n, s in zip(size, kernel.shape)):
        raise bad_value("size", size, f"an int or {kernel.ndim} ints, each at least the kernel size {kernel.shape}")
    size = tuple(int(s) for s in size)
    response = np.abs(np.fft.fftshift(np.fft.fftn(kernel, s=size, axes=tuple(range(kernel.ndim)))))
    label = "|K(f)|"
    if db:
        response = 20 * np.log10(np.maximum(response, np.finfo(float).tiny))
        label = "20 log10 |K(f)| (dB)"
    freqs = [np.fft.fftshift(np.fft.fftfreq(n)) for n in size]
    ax = _axes(ax)
    if kernel.ndim == 1:
        ax.plot(freqs[0], response)
        ax.set_xlabel("frequency (cycles/sample)")
        ax.set_ylabel(label)
    else:
        step = [1.0 / n for n in size]
        extent = (freqs[1][0] - step[1] / 2, freqs[1][-1] + step[1] / 2,
                  freqs[0][0] - step[0] / 2, freqs[0][-1] + step[0] / 2)
        image = ax.imshow(response, extent=extent, origin="lower", cmap="magma", interpolation="nearest")
        ax.figure.colorbar(image, ax=ax, shrink=0.8, label=label)
        ax.set_xlabel("frequency, axis 1 (cycles/sample)")
        ax.set_ylabel("frequency, axis 0 (cycles/sample)")
    ax.set_title(title if title is not None else "frequency response")
    return ax


def _table_rows(text: str) -> tuple[list[str], list[str], list[list[str]]]:
    """Parse :func:`ndconv.explain`'s text: cells are right-aligned under the index row."""
    lines = text.splitlines()
    header = list(re.finditer(r"\S+", lines[0]))
    column_of_end = {m.end(): i for i, m in enumerate(header[1:])}
    labels, cells = [], []
    for line in lines:
        tokens = list(re.finditer(r"\S+", line))
        row = [""] * len(column_of_end)
        for m in tokens[1:]:
            row[column_of_end[m.end()]] = m.group()
        labels.append(tokens[0].group().rstrip(":"))
        cells.append(row)
    return [m.group() for m in header[1:]], labels, cells


def explain_table(x, h, mode="full", correlate: bool = False, ax=None):
    """The step-by-step table of :func:`ndconv.explain` as a figure.

    Rows: the index ``k``, the input ``x[k]``, the flipped kernel shifted to
    each output (``h[n-k]``; the conjugated, unflipped kernel when
    ``correlate=True``), and the output ``y`` under the index it belongs to.

    Returns
    -------
    matplotlib.axes.Axes
        With one ``matplotlib.table.Table`` (``ax.tables[0]``); row labels in the
        first column.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from ndconv import plot
    >>> ax = plot.explain_table([3, 1, 2], [3, 2, 1])
    >>> cells = ax.tables[0].get_celld()
    >>> [cells[7, c].get_text().get_text() for c in range(8)]   # the output row
    ['y', '', '', '9', '9', '11', '5', '2']
    """
    _, labels, cells = _table_rows(explain(x, h, mode, correlate))
    ax = _axes(ax)
    ax.axis("off")
    text = [[label] + row for label, row in zip(labels, cells)]
    table = ax.table(cellText=text, bbox=[0, 0, 1, 1], cellLoc="center")   # fills the axes
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    columns = len(text[0])
    for (r, c), cell in table.get_celld().items():   # a wider first column for the "h[n-k]" labels
        cell.set_width(0.16 if c == 0 else 0.84 / (columns - 1))
    shade = {0: "#dddddd", 1: "#cfe2f3", len(text) - 1: "#fce5cd"}  # index, x and y rows
    for (r, c), cell in table.get_celld().items():
        if r in shade:
            cell.set_facecolor(shade[r])
        if c == 0:
            cell.get_text().set_fontweight("bold")
    ax.set_title(f"{'correlate' if correlate else 'convolve'}, mode={mode!r}")
    return ax


def convolution_step(x, h, n: int, *, correlate: bool = False, ax=None):
    """One output sample of the full 1-D convolution ``y[n] = Σ_k x[k] h[n−k]``, drawn.

    Stems of ``x[k]`` (blue) and of the kernel flipped and shifted to ``n``
    (``h[n−k]``, orange; with ``correlate=True`` the unflipped kernel, as
    :func:`ndconv.correlate` in 'full' mode pairs it), and in the title each
    product where both are non-zero and their sum ``y[n]``.

    Parameters
    ----------
    x, h : array_like
        Real 1-D input and kernel.
    n : int
        Output index of the 'full' result, ``0 <= n <= len(x) + len(h) - 2``.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.lines`` holds the two stem plots' markers, ``ax.get_title()`` the sum.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from ndconv import plot
    >>> ax = plot.convolution_step([3, 1, 2], [3, 2, 1], 2)
    >>> ax.get_title()
    'y[2] = 3·1 + 1·2 + 2·3 = 11'
    """
    import ndconv

    x = np.asarray(x)
    h = np.asarray(h)
    for name, value in (("x", x), ("h", h)):
        if value.ndim != 1 or value.size == 0 or value.dtype.kind not in "biuf":
            raise bad_value(name, value, "a non-empty real 1-D sequence")
    last = x.size + h.size - 2
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= last:
        raise bad_value("n", n, f"an output index of the full result, 0 to {last}")
    n = int(n)
    k = np.arange(-(h.size - 1), x.size + h.size - 1)
    xs = np.array([x[i] if 0 <= i < x.size else 0 for i in k], dtype=float)
    # the kernel tap that meets x[k] in output n: h[n-k] (convolution) or, for the full
    # correlation y[n] = sum_k x[k] h[k - n + K - 1], the unflipped tap k - n + K - 1
    taps = (k - n + h.size - 1) if correlate else (n - k)
    inside = (taps >= 0) & (taps < h.size)
    shifted = np.where(inside, h[np.clip(taps, 0, h.size - 1)], 0).astype(float)
    y = (ndconv.correlate if correlate else ndconv.convolve)(x.astype(float), h.astype(float), "full")[n]
    ax = _axes(ax)
    ax.stem(k - 0.08, xs, linefmt="C0-", markerfmt="C0o", basefmt="k-", label="x[k]")
    label = "h[k−n+K−1] (shifted to n)" if correlate else "h[n−k] (flipped, shifted to n)"
    ax.stem(k + 0.08, shifted, linefmt="C1-", markerfmt="C1s", basefmt="k-", label=label)
    both = (xs != 0) & (shifted != 0)
    terms = [f"{_number(a)}·{_number(b)}" for a, b in zip(xs[both], shifted[both])]
    ax.set_title(f"y[{n}] = {' + '.join(terms) if terms else '0'} = {_number(y)}")
    ax.set_xlabel("k")
    ax.set_xticks(k)
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + 0.35 * (high - low))   # room for the legend above the stems
    ax.legend(loc="upper right", fontsize="small")
    return ax


def _number(value) -> str:
    value = float(value)
    if not math.isfinite(value):   # int(nan) and int(inf) raise: "nan", "inf", "-inf"
        return str(value)
    return str(int(value)) if value == int(value) else f"{value:.3g}"


def match_map(image, scores, *, template_shape, top_left=None, ax=None, cmap: str = "viridis"):
    """Template-matching scores beside the image, with the best match's box drawn.

    Parameters
    ----------
    image : array_like
        2-D grey (or ``(H, W, 3|4)`` colour) image searched.
    scores : array_like
        2-D scores, one per template position (as :func:`ndconv.match_template`
        gives them, 'valid' positions: ``image − template + 1`` per axis).
    template_shape : (int, int)
        Height and width of the template (the box's size).
    top_left : (int, int), optional
        Row and column of the box; default the position of the highest score.

    Returns
    -------
    (Axes, Axes)
        The image with the box (a ``matplotlib.patches.Rectangle`` in
        ``patches``), and the heat-map with its colorbar.

    Raises
    ------
    ValueError
        A template that does not fit in the image, scores of another shape than
        ``image − template + 1``, a ``top_left`` outside the scores, or scores
        that are all NaN.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from ndconv import plot
    >>> scores = np.zeros((5, 5)); scores[1, 3] = 1.0
    >>> left, right = plot.match_map(np.zeros((8, 8)), scores, template_shape=(4, 4))
    >>> left.patches[0].get_xy()
    (3, 1)
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    image = np.asarray(image)
    scores = np.asarray(scores)
    if image.ndim not in (2, 3) or image.size == 0:
        raise bad_value("image", image.shape, "a non-empty 2-D image (or H×W×channels)")
    if scores.ndim != 2 or scores.size == 0 or scores.dtype.kind not in "biuf":
        raise bad_value("scores", scores.shape, "a non-empty real 2-D array")
    shape = tuple(int(s) for s in np.atleast_1d(template_shape))
    if len(shape) != 2 or min(shape) < 1:
        raise bad_value("template_shape", template_shape, "(height, width), both positive")
    positions = tuple(n - t + 1 for n, t in zip(image.shape[:2], shape))
    if min(positions) < 1:
        raise bad_value("template_shape", template_shape, f"a box that fits in the image {image.shape[:2]}")
    if scores.shape != positions:
        raise bad_value("scores", scores.shape, f"one score per position of a {shape} template in a "
                        f"{image.shape[:2]} image: shape {positions} (match_template's default pad_input=False)")
    if top_left is None:
        if np.isnan(scores).all():
            raise bad_value("scores", "all NaN", "at least one number to find the best match")
        top_left = np.unravel_index(np.nanargmax(scores), scores.shape)
    row, col = (int(v) for v in top_left)
    if not (0 <= row < positions[0] and 0 <= col < positions[1]):
        raise bad_value("top_left", (row, col), f"a position in the scores, rows 0 to {positions[0] - 1} "
                        f"and columns 0 to {positions[1] - 1}")
    if ax is None:
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    else:
        left, right = ax
    left.imshow(image, cmap="gray" if image.ndim == 2 else None)
    left.add_patch(Rectangle((col, row), shape[1], shape[0], fill=False, edgecolor="red", linewidth=2))
    left.set_title(f"best match at row {row}, column {col}")
    heat = right.imshow(scores, cmap=cmap)
    right.plot(col, row, "r+", markersize=12)
    right.figure.colorbar(heat, ax=right, shrink=0.8, label="score")
    right.set_title("scores (top-left corner of the template)")
    return left, right
