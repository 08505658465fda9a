"""The one-pass row loops (2 to 9 taps): same sums as the definition, NaN stays local,
and the module is what tools/make_unrolled.py generates."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import ndconv
from ndconv.methods import _opencv
from ndconv.methods._taps import ONE_PASS_TAPS
from ndconv.testing import assert_conv_close, reference_convolve

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def loops_only(monkeypatch):
    monkeypatch.setattr(_opencv, "ENABLED", False)   # the compiled loops, not OpenCV's filter2D


@pytest.mark.parametrize("taps", list(ONE_PASS_TAPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128, np.int64])
def test_one_pass_loops_equal_the_definition(taps, dtype):
    rng = np.random.default_rng(taps)
    x = (rng.standard_normal(3000) * 10).astype(dtype)
    k = (rng.standard_normal(taps) * 3).astype(dtype)
    for mode in ("full", "same", "valid"):
        got = ndconv.convolve(x, k, mode, "reflect", method="direct")
        assert_conv_close(got, reference_convolve(x, k, mode, "reflect"), x, k)


@pytest.mark.parametrize("shape", [(3, 3), (1, 9), (2, 4), (3, 2)])
def test_one_pass_loops_in_2d_with_parallel_rows(shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal((700, 700)).astype(np.float32)        # over PARALLEL_WORK: both cores
    k = rng.standard_normal(shape).astype(np.float32)
    for boundary in ("constant", "wrap", "symmetric"):
        got = ndconv.convolve(x, k, "same", boundary, method="direct")
        assert_conv_close(got, reference_convolve(x, k, "same", boundary), x, k)


def test_one_pass_loops_keep_nan_local():
    x = np.arange(40.0)
    x[17] = np.nan
    y = ndconv.convolve(x, np.ones(5), "same", method="direct")
    assert np.isnan(y[15:20]).all() and not np.isnan(np.delete(y, range(15, 20))).any()


def test_generated_module_is_up_to_date(tmp_path):
    spec = importlib.util.spec_from_file_location("make_unrolled", ROOT / "tools" / "make_unrolled.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.TARGET = tmp_path / "_unrolled.py"
    module.main()
    committed = (ROOT / "src" / "ndconv" / "methods" / "_unrolled.py").read_text(encoding="utf-8")
    assert module.TARGET.read_text(encoding="utf-8") == committed
