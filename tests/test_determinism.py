"""Determinism: the same inputs and method give the same bits, call after call
in one process and across fresh processes (parallel direct loops, FFT)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest

import ndconv
from conftest import METHODS, rng_for
from ndconv.methods._taps import shares_cores


def _problem(name: str):
    rng = rng_for("determinism", name)
    if name == "direct-parallel":
        x, k = rng.standard_normal((320, 320)), rng.standard_normal((9, 9))
        assert shares_cores(x.size * k.size, x.dtype)
        return x, k, {"mode": "same", "boundary": "reflect"}
    if name == "fft":
        return rng.standard_normal((300, 257)), rng.standard_normal((40, 33)), {"mode": "full", "boundary": "wrap"}
    if name == "overlap_add":
        return rng.standard_normal(1 << 16), rng.standard_normal(500), {"mode": "same"}
    if name == "complex":
        return (rng.standard_normal((64, 64)) + 1j * rng.standard_normal((64, 64)), rng.standard_normal((6, 6)),
                {"mode": "valid", "stride": 2})
    if name == "float32":
        return (rng.standard_normal((200, 200)).astype(np.float32), rng.standard_normal((5, 5)).astype(np.float32),
                {"mode": "same"})
    raise AssertionError(name)


CASES = ("direct-parallel", "fft", "overlap_add", "complex", "float32")


def _digest(y: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(y).tobytes()).hexdigest()


@pytest.mark.parametrize("method", METHODS + ("auto",))
@pytest.mark.parametrize("case", CASES)
def test_repeated_calls_give_identical_bits(case, method):
    x, k, kw = _problem(case)
    first = ndconv.convolve(x, k, method=method, **kw)
    for _ in range(3):
        np.testing.assert_array_equal(ndconv.convolve(x, k, method=method, **kw), first)
    assert _digest(ndconv.correlate(x, k, method=method, **kw)) == _digest(
        ndconv.correlate(x, k, method=method, **kw))


def test_operator_solve_is_repeatable():
    rng = rng_for("determinism-solve")
    op = ndconv.ConvOperator(rng.standard_normal((5, 5)), (64, 64), boundary="reflect")
    y = op(rng.standard_normal((64, 64)))
    first = op.solve(y, reg=1e-3, maxiter=40)
    np.testing.assert_array_equal(op.solve(y, reg=1e-3, maxiter=40), first)


_CHILD = """
import hashlib, sys
import numpy as np
sys.path.insert(0, {tests!r})
import test_determinism as t
import ndconv
for case, method in [("direct-parallel", "direct"), ("fft", "fft"), ("overlap_add", "overlap_add"),
                     ("float32", "auto")]:
    x, k, kw = t._problem(case)
    print(case, method, t._digest(ndconv.convolve(x, k, method=method, **kw)))
"""


def test_fresh_processes_give_identical_bits(tmp_path):
    """Two fresh interpreters (new thread pools, new FFT plans, Numba loaded from
    its cache) print the same digests as this process."""
    import os

    tests = os.path.dirname(__file__)
    env = dict(os.environ, NDCONV_CACHE_DIR=str(tmp_path))
    code = _CHILD.format(tests=tests)
    outputs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              check=True).stdout for _ in range(2)]
    assert outputs[0] == outputs[1]
    here = []
    for line in outputs[0].splitlines():
        case, method, digest = line.split()
        x, k, kw = _problem(case)
        here.append(digest == _digest(ndconv.convolve(x, k, method=method, **kw)))
    assert len(here) == 4 and all(here)
