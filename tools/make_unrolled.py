#!/usr/bin/env python3
"""Write src/ndconv/methods/_unrolled.py: the row loops with all taps in one pass.

The generic loop (``_numba_kernels._correlate_rows``) adds four taps per pass over a
block of outputs, so a 3×3 kernel costs three passes.  With few taps one pass that
keeps every weight and offset in registers is about 30 % faster (measured: 3×3 on
2048² float32 5.2 → 3.6 ms, K=8 on 2^20 float64 2.0 → 1.4 ms).  Numba caches
compiled code per source file, so the loops are generated here, once, into a real
module rather than built with ``exec`` at run time.  Run this after changing it.

Two families:

* ``_rows_T`` (2 to 9 taps): each tap has its own offset, held in a register;
* ``_grid_RxC`` (10 to 25 taps): the taps are R runs of C consecutive samples (a 2-D
  kernel of R rows and C columns, or a 1-D kernel, R = 1); only the R run starts
  are registers, the columns are constant shifts.  With an offset register per tap
  a 25-tap loop ran out of registers and was no faster than four taps per pass; with
  runs, 5×5 on a 1024² float32 tile runs in 1.3 ms instead of 2.1 ms (one core), and
  on 2048² in about half OpenCV's time.  Past 25 taps the weights no longer fit in
  the vector registers (7×7: no faster than OpenCV; 9×9: 1.7× slower).

A third family serves kernels with more taps whose taps come in runs of consecutive
samples (the rows of a 2-D or nD kernel with an undilated last axis):

* ``_runs_C`` (C = 3 to 25): one pass per run of C taps over the block of outputs,
  the C weights in registers and the columns constant shifts of one run start; the
  first pass stores, the others add.  Measured (2048² float32, one process,
  interleaved, whole calls with OpenCV off) against four taps per pass: 6×6 to 11×11
  0.85–0.97 of the time; 3-D 128³ 5³ 0.90–0.97, 96³ 7³ 0.89, 3×3×9 0.81.  The loop
  alone on a padded image summed 11×11 in 0.76–0.91 of OpenCV's filter2D time (a
  call adds its border frames, 1.3 ms of 17).  Runs of two taps gained nothing
  (0.92–0.97), nor did long 1-D kernels cut into runs of 16, so they stay with four
  taps per pass.
"""

from pathlib import Path

TAPS = range(2, 10)
RUNS = range(3, 26)
GRID = [(r, c) for c in range(2, 26) for r in range(1, 26) if 10 <= r * c <= 25]
TARGET = Path(__file__).resolve().parent.parent / "src" / "ndconv" / "methods" / "_unrolled.py"


def _head(name: str) -> list[str]:
    """The decorator, signature and first lines of a loop."""
    return ["@numba.njit(**_options)",
            f"def {name}(z, weights, tap_offsets, row_offsets, stride, ncols, out, out_offsets,",
            "             job_lo, job_hi):  # pragma: no cover - compiled",
            "    nrows = row_offsets.size",
            "    nblocks = (ncols + BLOCK - 1) // BLOCK"]


#: the loop over (batch item, row, block) jobs, up to the block's offsets in z and out
_JOBS = ["    for job in range(job_lo, job_hi):",
         "        b = job // (nrows * nblocks)",
         "        rest = job - b * nrows * nblocks",
         "        r = rest // nblocks",
         "        c0 = (rest - r * nblocks) * BLOCK",
         "        m = numba.uint64(min(ncols, c0 + BLOCK) - c0)",
         "        zb = z[b]",
         "        ob = out[b]",
         "        o = numba.uint64(out_offsets[r] + c0)",
         "        base = numba.uint64(row_offsets[r] + c0)"]


def _sum(first: str, terms: list[str], indent: str) -> list[str]:
    """``first`` followed by the sum of ``terms`` in parentheses, wrapped at 110 characters
    (continuation lines start with ``indent + "+ "``)."""
    lines, body = [], first + "(" + terms[0]
    for term in terms[1:]:
        if len(body) + len(term) + 3 > 110:
            lines.append(body)
            body = indent + "+ " + term
        else:
            body += " + " + term
    return lines + [body + ")"]


def _function(name: str, taps: int, setup: list[str], starts: int, terms: list[str]) -> str:
    """One loop: ``taps`` weights and ``setup`` lines before the jobs, ``starts`` offset
    registers ``i0 …`` per job, and the sum of ``terms`` stored per output."""
    lines = _head(name) + [f"    w{t} = weights[{t}]" for t in range(taps)] + setup + _JOBS
    lines += [f"        i{a} = base + d{a}" for a in range(starts)]
    lines.append("        for i in range(m):")
    lines += _sum("            ob[o + i] = ", terms, " " * 25)
    return "\n".join(lines)


def loop(taps: int) -> str:
    setup = [f"    d{t} = numba.uint64(tap_offsets[{t}])" for t in range(taps)]
    return _function(f"_rows_{taps}", taps, setup, taps, [f"w{t} * zb[i{t} + i]" for t in range(taps)])


def grid(rows: int, cols: int) -> str:
    setup = [f"    d{a} = numba.uint64(tap_offsets[{a * cols}])" for a in range(rows)]
    setup += [f"    s{c} = numba.uint64({c})" for c in range(1, cols)]
    terms = [f"w{a * cols + c} * zb[i{a} + i + s{c}]" if c else f"w{a * cols} * zb[i{a} + i]"
             for a in range(rows) for c in range(cols)]
    return _function(f"_grid_{rows}x{cols}", rows * cols, setup, rows, terms)


def run_passes(cols: int) -> str:
    """``_runs_C``: one pass per run of ``cols`` consecutive taps (``weights.size // cols`` runs)."""
    lines = _head(f"_runs_{cols}") + [f"    npasses = weights.size // {cols}"]
    lines += [f"    s{c} = numba.uint64({c})" for c in range(1, cols)]
    lines += _JOBS + ["        for p in range(npasses):", f"            t = p * {cols}"]
    lines += [f"            w{c} = weights[t + {c}]" if c else "            w0 = weights[t]" for c in range(cols)]
    lines.append("            i0 = base + numba.uint64(tap_offsets[t])")
    terms = [f"w{c} * zb[i0 + i + s{c}]" if c else "w0 * zb[i0 + i]" for c in range(cols)]
    for head, op in (("            if p == 0:", "="), ("            else:", "+=")):
        lines += [head, "                for i in range(m):"]
        lines += _sum(f"                    ob[o + i] {op} ", terms, " " * 37)
    return "\n".join(lines)


def main() -> None:
    header = '''"""Row loops with every kernel tap in one pass (2 to 25 taps), or one pass per run of taps (stride 1).

GENERATED by tools/make_unrolled.py — do not edit; change the generator and re-run it.
Same contract as ``_numba_kernels._correlate_rows`` (which they replace for few
taps): ``out[b, out_offsets[r] + i] = Σ_t w[t] · z[b, row_offsets[r] + i + tap_offsets[t]]``.
The sum runs tap by tap in order, as the generic loop's does within a pass.
``_grid_RxC`` need the taps as R runs of C consecutive offsets
(``tap_offsets[a·C + c] = tap_offsets[a·C] + c``); ``_runs_C`` take any number of
such runs, one pass over the outputs per run (the sum runs in order within a run,
and the runs' partial sums are added in order).
"""

from __future__ import annotations

import numba

from ._numba_kernels import BLOCK, _options
'''
    body = "\n\n\n".join([loop(t) for t in TAPS] + [grid(r, c) for r, c in GRID] + [run_passes(c) for c in RUNS])
    table = "\n\n\n#: the one-pass loop for each number of taps\nROWS = {" + ", ".join(
        f"{t}: _rows_{t}" for t in TAPS) + "}\n"
    table += "\n#: the one-pass loop for R runs of C consecutive taps\nGRID = {\n" + "".join(
        f"    ({r}, {c}): _grid_{r}x{c},\n" for r, c in GRID) + "}\n"
    table += "\n#: one pass per run of C consecutive taps\nRUNS = {\n" + "".join(
        f"    {c}: _runs_{c},\n" for c in RUNS) + "}\n"
    TARGET.write_text(header + "\n\n" + body + table, encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
