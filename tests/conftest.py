"""Shared helpers of the core tests: the oracle check, data, the OpenCV switch.

Every fast path is compared with :func:`ndconv.testing.reference_convolve`, the
slow literal evaluation of §1 of the contract.  Data come from generators
seeded by the test's own parameters, so every case is reproducible; hypothesis
runs derandomised (same examples on every run) with a modest budget.
"""

from __future__ import annotations

import atexit
import copy
import os
import shutil
import tempfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# The cost model must not read a cost file tuned on this machine: 'auto' and the
# OpenCV dispatch then depend only on the built-in constants.
_CACHE = tempfile.mkdtemp(prefix="ndconv-tests-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ["NDCONV_CACHE_DIR"] = _CACHE

import ndconv
from ndconv.methods import REGISTRY, _opencv
from ndconv.testing import assert_conv_close, reference_convolve

settings.register_profile(
    "ndconv", deadline=None, max_examples=40, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
# the scheduled fuzzing campaign (.ci/fuzz, docs/reliability.md): many random examples, no deadline
settings.register_profile(
    "fuzz", deadline=None, max_examples=2000, derandomize=False, database=None, print_blob=True,
    suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ndconv"))

METHODS: tuple[str, ...] = tuple(REGISTRY)
MODES = ("full", "same", "valid")
BOUNDARIES = ("constant", "wrap", "reflect", "symmetric", "edge")
#: every accepted spelling (§1 table) and the rule it names
ALIASES = {"zero": "constant", "fill": "constant", "periodic": "wrap", "circular": "wrap",
           "mirror": "reflect", "replicate": "edge", "nearest": "edge"}
DTYPES = ("bool", "int8", "uint8", "int64", "float16", "float32", "float64", "complex64", "complex128")
#: mixed pairs (x dtype, k dtype)
MIXED = (("int8", "float32"), ("uint8", "float16"), ("float32", "float64"), ("float32", "complex64"),
         ("float64", "complex64"), ("bool", "int8"), ("int64", "float32"), ("float16", "complex64"),
         ("bool", "float16"), ("int8", "float16"), ("complex64", "float64"), ("uint8", "int8"))

#: (method, OpenCV enabled) pairs: direct, separable and fft may all hand 2-D float work to OpenCV
ENGINES = tuple((m, cv) for m in METHODS for cv in (True, False))
ENGINE_IDS = tuple(f"{m}-cv" if cv else m for m, cv in ENGINES)


def rng_for(*key: object) -> np.random.Generator:
    """A generator seeded from the test's parameters."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def make_array(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """Random data of ``dtype`` with small magnitudes (exact for integers)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind == "u":
        return rng.integers(0, 7, shape).astype(dtype)
    if dtype.kind == "i":
        return rng.integers(-6, 7, shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def expected_dtype(x_dtype, k_dtype) -> np.dtype:
    """§2, written from the contract: bool/int → int64, float16 → float32, else result_type."""
    a, b = np.dtype(x_dtype), np.dtype(k_dtype)
    if a.kind in "biu" and b.kind in "biu":
        return np.dtype(np.int64)
    out = np.result_type(a, b)
    return np.dtype(np.float32) if out == np.float16 else out


def compute(x, k, method="auto", *, correlate=False, **kwargs) -> np.ndarray:
    func = ndconv.correlate if correlate else ndconv.convolve
    return func(x, k, method=method, **kwargs)


def check(x, k, method="auto", *, correlate=False, **kwargs) -> np.ndarray:
    """Run ``method`` and assert it equals the oracle within §2's tolerance and
    has §2's dtype.  Returns the result."""
    x, k = np.asarray(x), np.asarray(k)
    y = compute(x, k, method, correlate=correlate, **kwargs)
    expected = reference_convolve(x, k, correlate=correlate, **kwargs)
    assert y.dtype == expected_dtype(x.dtype, k.dtype), (y.dtype, x.dtype, k.dtype)
    # the bound of §2 is relative to max|x̃|: the fill value is part of the extended input
    scale_x = np.append(np.ravel(x).astype(complex), complex(kwargs.get("fill_value", 0)))
    assert_conv_close(y, expected, scale_x, k, dtype=y.dtype)
    return y


@pytest.fixture(params=[True, False], ids=["opencv", "no-opencv"])
def opencv(request, monkeypatch):
    """Run the test with OpenCV dispatch on (where installed) and off."""
    monkeypatch.setattr(_opencv, "ENABLED", request.param)
    return request.param


@pytest.fixture
def set_opencv(monkeypatch):
    """``set_opencv(flag)`` switches the OpenCV dispatch for this test only."""

    def apply(flag: bool) -> None:
        monkeypatch.setattr(_opencv, "ENABLED", bool(flag))

    return apply


def draw_fill_value(draw, dtype: np.dtype):
    """A ``fill_value`` of ``dtype``'s kind for the hypothesis strategies (integers stay small)."""
    from hypothesis import strategies as st

    if dtype.kind in "biu":
        return draw(st.integers(-5, 5))
    if dtype.kind == "c":
        return complex(draw(st.sampled_from([0.0, 1.5, -2.0])), draw(st.sampled_from([0.0, 0.5])))
    return draw(st.sampled_from([0.0, 1.5, -2.25, 100.0]))


def dense_adjoint(op, y) -> np.ndarray:
    """Kᴴ y from the operator's dense matrix, in float64."""
    a = op.to_dense().astype(np.float64)
    return (a.T @ np.asarray(y).astype(np.float64).ravel()).reshape(op.input_shape)


def with_adjoint_plan(op, **fields):
    """A copy of ``op`` (made without its kept plans) whose adjoint plan has ``fields``
    replaced: ``loops=None`` keeps the fold path, ``phases=None`` the upsampled one."""
    other = copy.copy(op)
    other.__dict__["_kept_adjoint"] = other._adjoint_plan()._replace(**fields)
    return other
