"""Pictures of convolution operators (needs matplotlib: ``pip install ndconv[plot]``).

- :func:`operator_matrix`: the matrix of an operator — Toeplitz, circulant, BCCB …;
- :func:`spectrum`: eigenvalues in the complex plane;
- :func:`frequency_response`: ``|FFT|`` of a 1-D or 2-D kernel, centred;
- :func:`explain_table`: the step-by-step table of :func:`ndconv.explain` as a figure.

Each draws on ``ax`` (a new figure when None) and returns the Axes.  ``import
ndconv`` never imports this module, so matplotlib stays optional.
"""

from __future__ import annotations

import re

import numpy as np

try:
    import matplotlib  # noqa: F401  (fail here, with the install hint, not deep inside a call)
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("ndconv.plot needs matplotlib: pip install ndconv[plot]") from error

from ._errors import bad_value
from .explain import explain

__all__ = ["operator_matrix", "spectrum", "frequency_response", "explain_table"]


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
    table = ax.table(cellText=text, loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    shade = {0: "#dddddd", 1: "#cfe2f3", len(text) - 1: "#fce5cd"}  # index, x and y rows
    for (r, c), cell in table.get_celld().items():
        if r in shade:
            cell.set_facecolor(shade[r])
        if c == 0:
            cell.get_text().set_fontweight("bold")
    ax.set_title(f"{'correlate' if correlate else 'convolve'}, mode={mode!r}")
    return ax
