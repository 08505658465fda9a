"""The step-by-step table of a 1-D convolution, as the course notes draw it."""

from __future__ import annotations

import numpy as np

from ._errors import bad_value
from ._spec import as_array, normalize_mode
from ._typing import ArrayLike, Mode
from .api import convolve
from .api import correlate as _correlate

#: the most cells (rows × columns) a table may have: about 5 MB of text, drawn in a
#: second; a longer signal raises a ValueError instead of printing for minutes
MAX_CELLS = 10**6


def _fmt(value) -> str:
    if isinstance(value, (complex, np.complexfloating)):
        return f"{complex(value) + 0j:g}"  # + 0j: no "-0j" for a conjugated real
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value) + 0.0:g}"


def _offset(name: str, shift: int) -> str:
    if shift == 0:
        return f"{name}[k]"
    return f"{name}[k{'+' if shift > 0 else '-'}{abs(shift)}]"


def explain(x: ArrayLike, h: ArrayLike, mode: Mode = "full", correlate: bool = False) -> str:
    """Step-by-step table of ``y = x * h`` (zero boundary, 1-D).

    One row per quantity: the index ``k``, the input ``x[k]``, the flipped
    kernel shifted to each output ``n`` (``h[n-k]``), and the output ``y``
    written under the index ``n`` it belongs to.  Only the rows of the outputs
    that ``mode`` keeps are shown.  With ``correlate=True`` the kernel rows are
    the unflipped, conjugated ``h`` slid along ``x``.  A table of more than
    :data:`MAX_CELLS` cells (rows × columns) raises a ValueError: it is for
    signals short enough to read.

    Examples
    --------
    >>> import ndconv
    >>> print(ndconv.explain([3, 1, 2], [3, 2, 1]))
    k:        -2  -1   0   1   2   3   4
    x[k]:              3   1   2
    h[-k]:     1   2   3
    h[1-k]:        1   2   3
    h[2-k]:            1   2   3
    h[3-k]:                1   2   3
    h[4-k]:                    1   2   3
    y:                 9   9  11   5   2
    """
    x_arr, h_arr = as_array(x, "x"), as_array(h, "h")
    mode = normalize_mode(mode)
    for name, arr, value in (("x", x_arr, x), ("h", h_arr, h)):
        if arr.ndim != 1 or arr.size == 0:
            raise bad_value(name, value, "a non-empty 1-D sequence of numbers")
    n_x, n_h = x_arr.size, h_arr.size
    y = (_correlate if correlate else convolve)(x_arr, h_arr, mode)  # validates as convolve does
    start = {"full": 0, "same": (n_h - 1) // 2, "valid": n_h - 1}[mode]
    count = y.size
    columns = n_x + 2 * (n_h - 1)
    if (count + 3) * columns > MAX_CELLS:
        raise ValueError(f"explain draws a table of one row per output and one column per index k: x of {n_x} "
                         f"and h of {n_h} samples give {count + 3} rows × {columns} columns, more than its "
                         f"{MAX_CELLS:,} cells; ndconv.convolve gives the values of signals this long")
    ks = list(range(-(n_h - 1), n_x + n_h - 1))
    rows: list[tuple[str, dict[int, str]]] = [
        ("k:", {k: str(k) for k in ks}),
        ("x[k]:", {k: _fmt(x_arr[k]) for k in range(n_x)}),
    ]
    for n in range(start, start + count):
        if correlate:  # y[n] = Σ_k x[k] conj(h[k + K−1−n])
            shift = n_h - 1 - n
            label = _offset("h", shift) + ":"
            cells = {k: _fmt(np.conj(h_arr[k + shift]) if h_arr.dtype.kind == "c" else h_arr[k + shift])
                     for k in ks if 0 <= k + shift < n_h}
        else:  # y[n] = Σ_k x[k] h[n−k]
            label = (f"h[{n}-k]:" if n else "h[-k]:")
            cells = {k: _fmt(h_arr[n - k]) for k in ks if 0 <= n - k < n_h}
        rows.append((label, cells))
    rows.append(("y:", {n: _fmt(y[n - start]) for n in range(start, start + count)}))
    width = max(len(c) for _, cells in rows for c in cells.values()) + 1
    width = max(width, 3)
    label_width = max(len(label) for label, _ in rows) + 1
    lines = []
    for label, cells in rows:
        line = label.ljust(label_width) + "".join(cells.get(k, "").rjust(width + 1) for k in ks)
        lines.append(line.rstrip())
    return "\n".join(lines)
