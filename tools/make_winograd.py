#!/usr/bin/env python3
"""Write src/ndconv/nn/_winograd_loops.py: the compiled transforms of Winograd F(m×m, 3×3).

For each output tile size ``m`` in ``VARIANTS`` this builds the three matrices of
the minimal filtering algorithm from its interpolation points (the Toom–Cook
construction, in exact fractions) and writes one input transform (Bᵀ d B) and one
output transform (Aᵀ M A) with every combination spelt out as one vectorisable
loop over a whole phase of the image (see ndconv/nn/_winograd.py for the layout).
Numba caches compiled code per source file, so the loops are generated here,
once, into a real module rather than built with ``exec`` at run time.  Run this
after changing it; tests/test_nn_winograd.py checks that the module is up to date.

Points: F(2, 3) uses 0, 1, −1 (Lavin & Gray's matrices).  For F(4, 3) a search over
five points from {0, ±1, ±2, ±3, ±1/2, ±1/3, ±1/4} for the smallest float32 error
on 64- and 256-channel layers picked 0, 1, −1, 2, −1/2: about 3·10⁻⁶ of the output's
largest value, against 9·10⁻⁶ for the textbook 0, ±1, ±2.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "src" / "ndconv" / "nn" / "_winograd_loops.py"
R = 3                                       # kernel taps per axis
VARIANTS = {2: (0, 1, -1), 4: (0, 1, -1, 2, Fraction(-1, 2))}


def _poly(roots: list[Fraction], size: int) -> list[Fraction]:
    """Coefficients (ascending powers) of Π (x − root), padded to ``size``."""
    coeffs = [Fraction(1)]
    for root in roots:
        nxt = [Fraction(0)] * (len(coeffs) + 1)
        for i, a in enumerate(coeffs):
            nxt[i + 1] += a
            nxt[i] -= a * root
        coeffs = nxt
    return coeffs + [Fraction(0)] * (size - len(coeffs))


def matrices(m: int, points) -> tuple[list[list[Fraction]], list[list[Fraction]], list[list[Fraction]]]:
    """(Aᵀ, G, Bᵀ) of F(m, 3) for the finite ``points`` and the point at infinity.

    Correlation is the transpose of Toom–Cook's linear convolution: Aᵀ evaluates
    the data polynomial at the points, G evaluates the kernel (scaled by the
    Lagrange denominators), Bᵀ holds the Lagrange numerators.
    """
    pts = [Fraction(p) for p in points]
    alpha = m + R - 1
    assert len(pts) == alpha - 1
    at = [[p ** i for p in pts] + [Fraction(int(i == m - 1))] for i in range(m)]
    g = []
    for j, p in enumerate(pts):
        denominator = Fraction(1)
        for q in pts[:j] + pts[j + 1:]:
            denominator *= p - q
        g.append([p ** k / denominator for k in range(R)])
    g.append([Fraction(int(k == R - 1)) for k in range(R)])
    bt = [_poly(pts[:j] + pts[j + 1:], alpha) for j in range(len(pts))] + [_poly(pts, alpha)]
    return at, g, bt


def _expr(row: list[Fraction], names: list[str], constants: dict[Fraction, str]) -> str:
    """``Σ row[t]·names[t][q]`` with unit coefficients as plain adds."""
    parts = []
    for coef, name in zip(row, names):
        if coef == 0:
            continue
        magnitude = abs(coef)
        term = f"{name}[q]" if magnitude == 1 else f"{constants[magnitude]} * {name}[q]"
        parts.append(("- " if coef < 0 else "+ ") + term)
    text = " ".join(parts)
    return text[2:] if text.startswith("+ ") else "-" + text[2:]


def _combination(target: str, row: list[Fraction], names: list[str], constants: dict[Fraction, str],
                 count: str = "per_image", plus: str = "") -> list[str]:
    """One vectorisable loop: ``target[q] = Σ row[t]·names[t][q] (+ plus)`` for q < count."""
    return [f"            out = {target}",
            f"            for q in range({count}):",
            f"                out[q] = {_expr(row, names, constants)}{plus}"]


def _constants(*mats) -> dict[Fraction, str]:
    values = sorted({abs(c) for mat in mats for row in mat for c in row if c != 0 and abs(c) != 1})
    return {v: f"k{i}" for i, v in enumerate(values)}


def _head(signature: str, comments: list[str], constants: dict[Fraction, str]) -> list[str]:
    """A loop's decorator, signature, comment and constants (read from ``consts``)."""
    return (["@numba.njit(**_options)", f"def {signature}:  # pragma: no cover - compiled"]
            + [f"    # {line}" for line in comments]
            + [f"    {name} = consts[{i}]" for i, name in enumerate(constants.values())])


#: the loop over (image, channel) planes that every transform runs
_PLANES = ["    for p in range(lo, hi):",
           "        b = p // channels",
           "        c = p - b * channels"]


def _input(m: int, bt, constants: dict[Fraction, str]) -> list[str]:
    alpha = m + R - 1
    lines = _head(f"input_{m}(x, v, consts, channels, height, width, top, left, tiles_h, n, lo, hi)",
                  [f"Bᵀ d B of F({m}, 3) for every {alpha}×{alpha} tile: split into {m}×{m} phases, then",
                   "the column combinations per row phase, then the row combinations into v."], constants)
    lines += [
        "    size = (tiles_h + 1) * n",
        "    per_image = tiles_h * n",
        f"    ph = np.zeros(({m}, {m}, size), x.dtype)",
        f"    cc = np.empty(({m}, {alpha}, size), x.dtype)",
        f"    step = numba.uint64({m})",
        *_PLANES,
        "        plane = p * height * width",
        f"        for r in range({m} * (tiles_h + 1)):",
        "            row = r - top",
        f"            dst = (r // {m}) * n",
        f"            for s in range({m}):",
        f"                target = ph[r % {m}, s]",
        "                if row < 0 or row >= height:",
        "                    for j in range(n):",
        "                        target[dst + j] = 0",
        "                    continue",
        "                src = plane + row * width + s - left",
        f"                j_lo = min(n, max(0, (left - s + {m - 1}) // {m}))",
        f"                j_hi = max(j_lo, min(n, (width - 1 + left - s) // {m} + 1))",
        "                for j in range(j_lo):",
        "                    target[dst + j] = 0",
        f"                first = numba.uint64(src + {m} * j_lo)",
        "                into = numba.uint64(dst + j_lo)",
        "                for k in range(numba.uint64(j_hi - j_lo)):",
        "                    target[into + k] = x[first + k * step]",
        "                for j in range(j_hi, n):",
        "                    target[dst + j] = 0",
        f"        for rho in range({m}):",
    ]
    names = [f"d{t}" for t in range(alpha)]
    for t in range(alpha):
        view = f"ph[rho, {t % m}]" + ("" if t < m else f"[{t // m}:]")
        lines.append(f"            d{t} = {view}")
    for k in range(alpha):
        lines += _combination(f"cc[rho, {k}]", bt[k], names, constants, "size - 1") + ["            out[size - 1] = 0"]
    lines += ["        lo_q = b * per_image",
              f"        for k in range({alpha}):"]
    for t in range(alpha):
        view = f"cc[{t % m}, k]" + ("" if t < m else f"[{t // m} * n:]")
        lines.append(f"            d{t} = {view}")
    for a in range(alpha):
        lines += _combination(f"v[{a * alpha} + k, c, lo_q:lo_q + per_image]", bt[a], names, constants)
    return lines


def _output(m: int, at, constants: dict[Fraction, str]) -> list[str]:
    alpha = m + R - 1
    lines = _head(f"output_{m}(mt, y, consts, bias, channels, h, w, row0, rows, tiles_h, n, lo, hi)",
                  [f"Aᵀ M A of F({m}, 3): the row combinations, the column combinations into",
                   f"{m}×{m} output phases (plus the bias), then the phases interleaved into",
                   "output rows row0 … row0 + rows − 1 of each (image, channel) plane of y."], constants)
    lines += [
        "    per_image = tiles_h * n",
        f"    s = np.empty(({m}, {alpha}, per_image), mt.dtype)",
        f"    ph = np.empty(({m}, {m}, per_image), mt.dtype)",
        f"    full = w // {m}                  # whole tiles per row: their {m} phases interleaved in one loop",
        *_PLANES,
        "        beta = bias[c]",
        "        lo_q = b * per_image",
        f"        for k in range({alpha}):",
    ]
    names = [f"e{t}" for t in range(alpha)]
    for t in range(alpha):
        lines.append(f"            e{t} = mt[{t * alpha} + k, c, lo_q:lo_q + per_image]")
    for a in range(m):
        lines += _combination(f"s[{a}, k]", at[a], names, constants)
    lines.append(f"        for a in range({m}):")
    for t in range(alpha):
        lines.append(f"            e{t} = s[a, {t}]")
    for b in range(m):
        lines += _combination(f"ph[a, {b}]", at[b], names, constants, plus=" + beta")
    lines += [
        "        plane = p * h * w + row0 * w",
        "        for i in range(rows):",
        f"            base = (i // {m}) * n",
        "            row = y[plane + i * w:plane + (i + 1) * w]",
        *[f"            a{t} = ph[i % {m}, {t}][base:base + n]" for t in range(m)],
        "            for j in range(full):",
        *[f"                row[{m} * j + {t}] = a{t}[j]" for t in range(m)],
        f"            for s_ in range(w - {m} * full):",
        f"                row[{m} * full + s_] = ph[i % {m}, s_][base + full]",
    ]
    return lines


def _frac(c: Fraction) -> str:
    return f'F("{c}")'


def _gradient(m: int, at, constants: dict[Fraction, str]) -> list[str]:
    """The transpose of the output transform: A dY Aᵀ for every m×m tile of dy."""
    alpha = m + R - 1
    a = [[at[r][k] for r in range(m)] for k in range(alpha)]          # A = (Aᵀ)ᵀ, alpha × m
    lines = _head(f"gradient_{m}(dy, t, consts, channels, h, w, row0, tiles_h, n, lo, hi)",
                  [f"A dY Aᵀ of F({m}, 3) for the m×m tiles of dy whose first row is row0: the",
                   "adjoint of output_m, for the weight gradient.  Samples past dy and the junk",
                   "tile of each row (column n − 1) are zeros, so they add nothing."], constants)
    lines += [
        "    per_image = tiles_h * n",
        f"    ph = np.zeros(({m}, {m}, per_image), dy.dtype)",
        f"    cc = np.empty(({m}, {alpha}, per_image), dy.dtype)",
        f"    step = numba.uint64({m})",
        *_PLANES,
        "        plane = p * h * w",
        f"        for r in range({m} * tiles_h):",
        "            row = row0 + r",
        f"            dst = (r // {m}) * n",
        f"            for s in range({m}):",
        f"                target = ph[r % {m}, s]",
        f"                count = 0 if row >= h else max(0, min(n - 1, (w - s + {m - 1}) // {m}))",
        "                first = numba.uint64(plane + row * w + s)",
        "                into = numba.uint64(dst)",
        "                for k in range(numba.uint64(count)):",
        "                    target[into + k] = dy[first + k * step]",
        "                for j in range(count, n):",
        "                    target[dst + j] = 0",
        f"        for rho in range({m}):",
    ]
    names = [f"d{t}" for t in range(m)]
    lines += [f"            d{t} = ph[rho, {t}]" for t in range(m)]
    for k in range(alpha):
        lines += _combination(f"cc[rho, {k}]", a[k], names, constants)
    lines += ["        lo_q = b * per_image",
              f"        for k in range({alpha}):"]
    lines += [f"            d{t} = cc[{t}, k]" for t in range(m)]
    for r in range(alpha):
        lines += _combination(f"t[{r * alpha} + k, c, lo_q:lo_q + per_image]", a[r], names, constants)
    return lines


def render() -> str:
    out = ['"""Generated by tools/make_winograd.py — do not edit; run the tool instead.',
           "",
           "The Winograd F(m×m, 3×3) transforms of ndconv.nn._winograd, one input and one",
           "output transform per tile size, every combination of the transform matrices",
           'spelt out as one loop over a whole phase (which LLVM vectorises)."""',
           "",
           "from fractions import Fraction as F",
           "",
           "import numba",
           "import numpy as np",
           "",
           '_options = dict(cache=True, nogil=True, boundscheck=False, error_model="numpy")',
           ""]
    tables = []
    for m, points in VARIANTS.items():
        at, g, bt = matrices(m, points)
        c_in, c_out = _constants(bt), _constants(at)
        out += ["", *_input(m, bt, c_in), "", "", *_output(m, at, c_out), "", "", *_gradient(m, at, c_out), ""]
        g_rows = "".join(f"\n                [{', '.join(_frac(c) for c in row)}]," for row in g)
        tables.append(f"    {m}: dict(points={tuple(str(Fraction(p)) for p in points)!r},\n"
                      f"             input=input_{m}, input_constants=[{', '.join(_frac(c) for c in c_in)}],\n"
                      f"             output=output_{m}, gradient=gradient_{m},\n"
                      f"             output_constants=[{', '.join(_frac(c) for c in c_out)}],\n"
                      f"             G=[{g_rows}]),")
    out += ["", "#: per tile size m: the points, the loops with the constants they take (in",
            "#: order; the gradient loop takes the output loop's), and the kernel transform G",
            "VARIANTS = {", *tables, "}", ""]
    return "\n".join(out)


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
