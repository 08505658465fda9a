"""``ndconv.explain``: the step-by-step table of the course notes (§6)."""

from __future__ import annotations

import numpy as np
import pytest

import ndconv

NOTES_TABLE = """\
k:        -2  -1   0   1   2   3   4
x[k]:              3   1   2
h[-k]:     1   2   3
h[1-k]:        1   2   3
h[2-k]:            1   2   3
h[3-k]:                1   2   3
h[4-k]:                    1   2   3
y:                 9   9  11   5   2"""


def rows(table: str) -> dict[str, list[str]]:
    return {line.split(":")[0] + ":": line.split(":", 1)[1].split() for line in table.splitlines()}


def test_the_notes_example():
    """x = [3, 1, 2], h = [3, 2, 1]: the table of the notes, cell for cell."""
    assert ndconv.explain([3, 1, 2], [3, 2, 1]) == NOTES_TABLE


def test_columns_line_up():
    """Every cell ends in the column of the index k it belongs to."""
    for table in (ndconv.explain([3, 1, 2], [3, 2, 1]), ndconv.explain([10, -20, 3.5], [1, 200], "same"),
                  ndconv.explain([1, 2, 3, 4, 5], [2, 1], "valid", correlate=True)):
        lines = table.splitlines()
        header = lines[0]
        ends = [i + 1 for i, ch in enumerate(header) if ch != " " and (i + 1 == len(header) or header[i + 1] == " ")]
        ends = ends[1:]  # drop the label "k:"
        for line in lines[1:]:
            label_end = line.index(":") + 1
            for i, ch in enumerate(line):
                if i >= label_end and ch != " " and (i + 1 == len(line) or line[i + 1] == " "):
                    assert i + 1 in ends, (line, i)


def test_one_row_per_kept_output_and_y_equals_convolve():
    x, h = [3, 1, 2, 4], [1, -1, 2]
    for mode in ("full", "same", "valid"):
        table = ndconv.explain(x, h, mode)
        r = rows(table)
        y = ndconv.convolve(x, h, mode)
        assert r["y:"] == [str(v) for v in y]
        kernel_rows = [label for label in r if label.startswith("h[")]
        assert len(kernel_rows) == y.size
        assert r["x[k]:"] == ["3", "1", "2", "4"]
        assert r["k:"] == [str(k) for k in range(-2, 6)]


def test_same_and_valid_rows():
    same = ndconv.explain([3, 1, 2], [3, 2, 1], mode="same").splitlines()
    assert [line.split(":")[0] for line in same] == ["k", "x[k]", "h[1-k]", "h[2-k]", "h[3-k]", "y"]
    assert same[-1].split() == ["y:", "9", "11", "5"]
    valid = ndconv.explain([3, 1, 2], [3, 2, 1], mode="valid").splitlines()
    assert [line.split(":")[0] for line in valid] == ["k", "x[k]", "h[2-k]", "y"]
    assert valid[-1].split() == ["y:", "11"]


def test_correlate_slides_the_unflipped_kernel():
    """[2, 1] slid over [1, 2, 3, 4, 5] gives 4, 7, 10, 13 (the notes' slip printed 5)."""
    table = ndconv.explain([1, 2, 3, 4, 5], [2, 1], mode="valid", correlate=True)
    r = rows(table)
    assert r["y:"] == ["4", "7", "10", "13"]
    assert [label for label in r if label.startswith("h[")] == ["h[k]:", "h[k-1]:", "h[k-2]:", "h[k-3]:"]
    assert r["h[k]:"] == ["2", "1"]
    full = rows(ndconv.explain([3, 1, 2], [3, 2, 1], correlate=True))
    assert full["y:"] == [str(v) for v in ndconv.correlate([3, 1, 2], [3, 2, 1])]
    assert full["h[k+2]:"] == ["3", "2", "1"]   # unflipped


def test_complex_kernel_is_conjugated_in_correlation():
    r = rows(ndconv.explain([1j, 2], [1 - 1j, 2], correlate=True))
    assert r["h[k]:"] == ["1+1j", "2+0j"]
    assert r["y:"] == [f"{v:g}" for v in ndconv.correlate([1j, 2], [1 - 1j, 2])]


def test_float_cells():
    r = rows(ndconv.explain([0.5, 1.25], [2, 4]))
    assert r["x[k]:"] == ["0.5", "1.25"]
    assert r["y:"] == ["1", "4.5", "5"]
    assert "-0" not in ndconv.explain([0.0, -0.0], [1.0, -1.0])


def test_kernel_longer_than_input():
    r = rows(ndconv.explain([1, 2], [1, 2, 3, 4], mode="same"))
    assert r["y:"] == ["4", "7"]


@pytest.mark.parametrize(("x", "h", "kwargs", "error", "message"), [
    ([[1, 2]], [1], {}, ValueError, r"x must be a non-empty 1-D sequence of numbers, got \[\[1, 2\]\]"),
    ([1, 2], [], {}, ValueError, r"h must be a non-empty 1-D sequence of numbers, got \[\]"),
    ([1, 2], 3, {}, ValueError, r"h must be a non-empty 1-D sequence of numbers, got 3"),
    ([1, 2], [1], {"mode": "sam"}, ValueError, r"mode must be 'full', 'same' or 'valid', got 'sam'"),
    (["a"], [1], {}, TypeError, r"x must be an array of bool, integer, float16/32/64 or complex64/128"),
    ([1, 2], [1, 2, 3], {"mode": "valid"}, ValueError, r"mode='valid' needs the dilated kernel to fit"),
])
def test_errors(x, h, kwargs, error, message):
    with pytest.raises(error, match=message):
        ndconv.explain(x, h, **kwargs)


def test_numpy_inputs():
    assert ndconv.explain(np.array([3, 1, 2]), np.array([3, 2, 1], dtype=np.int8)) == NOTES_TABLE


def test_tables_beyond_a_million_cells_are_refused_at_once():
    """A long signal (the CLI takes any list of numbers) once printed for minutes."""
    import time

    from ndconv.explain import MAX_CELLS

    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"x of 1000000 and h of 1000 samples give 1001002 rows × 1001998 columns, "
                                         r"more than its 1,000,000 cells"):
        ndconv.explain(np.ones(10**6), np.ones(10**3))
    assert time.perf_counter() - start < 5.0
    rows, columns = 400 + 2 + 3, 400 + 2 * 2     # x of 400, h of 3: 405 rows of 404 columns
    assert rows * columns < MAX_CELLS
    assert len(ndconv.explain(np.ones(400), np.ones(3)).splitlines()) == rows
