"""The tuning cache (``cost_model.json``) can be corrupt, missing, a directory,
unreadable or written by several processes at once: ndconv falls back to the
built-in constants, silently (pytest turns warnings into errors), and never
crashes; ``tune`` refuses a cache it cannot write with a clear error."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import ndconv
from ndconv.methods import _costs

CORRUPT = {
    "garbage": b"\x00\xff not json at all \x89PNG",
    "empty": b"",
    "truncated": b'{"constants": {"fft_f4": 1.2e-9, "direct_f8"',
    "list": b"[1, 2, 3]",
    "string": b'"constants"',
    "null": b"null",
    "constants-not-a-dict": b'{"constants": [1.0, 2.0]}',
    "constants-null": b'{"constants": null}',
    "value-string": b'{"constants": {"fft_f4": "fast"}}',
    "value-list": b'{"constants": {"fft_f4": [1e-9]}}',
    "value-dict": b'{"constants": {"fft_f4": {"s": 1e-9}}}',
    "value-null": b'{"constants": {"fft_f4": null}}',
    "value-bool": b'{"constants": {"fft_f4": true}}',
    "nan": b'{"constants": {"fft_f4": NaN}}',
    "infinity": b'{"constants": {"fft_f4": Infinity}}',
    "overflow": b'{"constants": {"fft_f4": 1e999}}',
    "negative": b'{"constants": {"fft_f4": -1e-9}}',
    "zero": b'{"constants": {"fft_f4": 0}}',
    "missing-keys": b'{"machine": {}}',
    "unknown-keys": b'{"constants": {"warp_drive": 1.0}}',
    "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
    "latin-1": '{"constants": {"fft_f4": 1e-9}, "machine": "caf\xe9"}'.encode("latin-1"),
}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache directory, the constants re-read from it (and after the test)."""
    monkeypatch.setenv("NDCONV_CACHE_DIR", str(tmp_path))
    _costs.constants.cache_clear()
    yield tmp_path
    _costs.constants.cache_clear()


def _still_works():
    """'auto' plans with the constants in force and gives the right answer."""
    rng = np.random.default_rng(0)
    x, k = rng.standard_normal((40, 40)), rng.standard_normal((9, 9))
    y = ndconv.convolve(x, k, "same", method="auto")
    np.testing.assert_allclose(y, ndconv.convolve(x, k, "same", method="direct"), atol=1e-10)
    assert ndconv.choose_method(x, k, mode="same") in ("direct", "fft", "overlap_add", "separable")
    big = rng.standard_normal(1 << 14)
    assert ndconv.choose_method(big, rng.standard_normal(2000)) in ("fft", "overlap_add", "direct")


@pytest.mark.parametrize("name", list(CORRUPT))
def test_corrupt_cost_file_falls_back_to_defaults(cache, name):
    (cache / "cost_model.json").write_bytes(CORRUPT[name])
    values = _costs.constants()
    assert values == _costs.DEFAULTS
    assert all(math.isfinite(v) and v > 0 for v in values.values())
    _still_works()


def test_bad_entries_fall_back_one_by_one(cache):
    """Valid measured constants are kept, bad ones replaced by the defaults."""
    stored = {"constants": {"fft_f4": 2e-9, "fft_f8": "slow", "direct_f8": -1.0, "copy": float("nan"),
                            "call": 1e-5}}
    (cache / "cost_model.json").write_text(json.dumps(stored), encoding="utf-8")
    values = _costs.constants()
    assert values["fft_f4"] == 2e-9 and values["call"] == 1e-5
    for key in ("fft_f8", "direct_f8", "copy"):
        assert values[key] == _costs.DEFAULTS[key]
    _still_works()


def test_directory_in_place_of_the_cost_file(cache):
    (cache / "cost_model.json").mkdir()
    assert _costs.constants() == _costs.DEFAULTS
    _still_works()
    with pytest.raises(OSError, match=r"cannot write the cost model to .*cost_model\.json.*NDCONV_CACHE_DIR"):
        _costs.save(dict(_costs.DEFAULTS), {})
    assert not [p for p in cache.iterdir() if p.name.startswith(".cost_model.")]  # no temporary left


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_cost_file(cache):
    path = cache / "cost_model.json"
    path.write_text(json.dumps({"constants": {"fft_f4": 5e-9}}), encoding="utf-8")
    path.chmod(0)
    try:
        assert _costs.constants() == _costs.DEFAULTS
        _still_works()
    finally:
        path.chmod(0o600)


def test_unwritable_cache_dir_refused_before_measuring(tmp_path, monkeypatch):
    """A cache path that cannot be a directory (under a regular file; works as root too):
    tune raises a clear OSError at once, convolve still works."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("NDCONV_CACHE_DIR", str(blocker / "cache"))
    _costs.constants.cache_clear()
    try:
        t0 = time.perf_counter()
        with pytest.raises(OSError, match=r"cannot write the cost model to the cache directory "
                                          r"'.*a-file/cache'.*set NDCONV_CACHE_DIR to a writable directory"):
            ndconv.tune(quick=True)
        assert time.perf_counter() - t0 < 0.5  # nothing measured first
        assert _costs.constants() == _costs.DEFAULTS
        _still_works()
    finally:
        _costs.constants.cache_clear()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes whatever the mode")
def test_read_only_cache_dir(cache):
    cache.chmod(0o500)
    try:
        with pytest.raises(OSError, match=r"cannot write the cost model to the cache directory"):
            ndconv.tune(quick=True)
        _still_works()
    finally:
        cache.chmod(0o700)


def test_concurrent_tune_in_threads_leaves_a_valid_file(cache):
    errors: list[BaseException] = []

    def run():
        try:
            ndconv.tune(quick=True)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stored = json.loads((cache / "cost_model.json").read_text(encoding="utf-8"))
    assert set(stored["constants"]) == set(_costs.DEFAULTS)
    assert all(math.isfinite(v) and v > 0 for v in stored["constants"].values())
    assert not [p for p in cache.iterdir() if p.name.startswith(".cost_model.")]
    _costs.constants.cache_clear()
    assert _costs.constants() == stored["constants"]
    _still_works()


_WRITER = """
import sys
from ndconv.methods import _costs
base = dict(_costs.DEFAULTS)
for i in range(int(sys.argv[1])):
    _costs.save({k: v * (1 + (i % 7) / 10) for k, v in base.items()}, {"writer": sys.argv[2], "i": i})
"""


def test_concurrent_writer_processes_never_expose_a_partial_file(cache):
    """Four processes rewrite the file in a loop (``tune``'s atomic write) while
    this one reads it: every read parses, the last file is whole, nothing leaks."""
    (cache / "cost_model.json").write_text(json.dumps({"constants": _costs.DEFAULTS}), encoding="utf-8")
    env = dict(os.environ, NDCONV_CACHE_DIR=str(cache))
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, "150", str(w)], env=env) for w in range(4)]
    reads = 0
    while any(w.poll() is None for w in writers):
        text = (cache / "cost_model.json").read_text(encoding="utf-8")
        assert set(json.loads(text)["constants"]) == set(_costs.DEFAULTS)
        reads += 1
    assert [w.wait() for w in writers] == [0, 0, 0, 0]
    assert reads > 0
    stored = json.loads((cache / "cost_model.json").read_text(encoding="utf-8"))
    assert stored["machine"]["i"] == 149
    assert not [p for p in cache.iterdir() if p.name.startswith(".cost_model.")]
    _costs.constants.cache_clear()
    assert set(_costs.constants()) == set(_costs.DEFAULTS)
