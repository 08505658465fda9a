"""The measuring helpers of benchmarks/ (the scripts that write docs/benchmarks.md)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def scripts(request):
    sys.path.insert(0, str(BENCHMARKS))
    request.addfinalizer(lambda: sys.path.remove(str(BENCHMARKS)))
    import limits
    import regret
    return limits, regret


def test_shuffled_rounds_time_each_sample_after_its_own_warm_call(scripts):
    _, regret = scripts
    log: list[str] = []
    calls = {name: (lambda name=name: log.append(name)) for name in "abc"}
    warm = {name: (lambda name=name: log.append("warm " + name)) for name in "abc"}
    samples = regret._shuffled_rounds(calls, 4, seed=1, warm=warm)
    assert all(len(v) == 4 for v in samples.values())
    assert len(log) == 24
    assert all(log[i] == "warm " + log[i + 1] for i in range(0, 24, 2))
    log.clear()
    regret._shuffled_rounds(calls, 2, seed=1)
    assert sorted(log) == sorted("abc" * 2)          # without warm: the timed calls alone


def test_top_functions_sums_alike_names_and_renames(scripts):
    limits, _ = scripts

    def spin(n: int) -> float:
        return sum(math.sqrt(i) for i in range(n))

    def call():
        spin(20000)
        sorted(range(20000), key=lambda i: -i)

    top = limits.top_functions(call, calls=3, names={"test_benchmark_helpers.spin": "renamed spin"})
    assert len(top) == 3 and len({name for name, _ in top}) == 3
    assert all(0 < share <= 1 for _, share in top) and sum(share for _, share in top) <= 1 + 1e-9
    assert [share for _, share in top] == sorted((share for _, share in top), reverse=True)
    names = [name for name, _ in top]
    assert "renamed spin" in names or "test_benchmark_helpers.<genexpr>" in names
    assert limits.where([("a", 0.5), ("b", 0.25)]) == "a 50%, b 25%"


def test_fft_flops_takes_the_cheaper_blocks_in_1d(scripts):
    limits, _ = scripts
    whole = 3 * limits.FFT_FLOPS_PER_POINT * (2**16 + 63) * math.log2(2**16 + 63)
    assert limits.fft_flops((2**16,), (64,), "same") < whole        # overlap-add's blocks
    n = (512 + 31 - 1) ** 2
    assert limits.fft_flops((512, 512), (31, 31), "same") == pytest.approx(
        3 * limits.FFT_FLOPS_PER_POINT * n * math.log2(n))


def test_cnn_section_runs_in_its_own_process_with_freed_memory_kept(scripts, monkeypatch):
    """Unless glibc was started keeping freed memory, the CNN section re-runs its script in a
    new process with KEEP_FREED_MEMORY in the environment, and returns what that prints."""
    import subprocess

    import cnn

    seen = {}

    def fake_run(command, env, **kwargs):
        seen.update(command=command, env=env)
        return subprocess.CompletedProcess(command, 0, stdout="## CNN\n\ntable\n")

    for name in cnn.KEEP_FREED_MEMORY:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(cnn, "_render", lambda: pytest.fail("measured in the parent process"))
    assert cnn.render() == "## CNN\n\ntable"
    assert seen["command"][1] == cnn.__file__
    assert all(seen["env"][name] == value for name, value in cnn.KEEP_FREED_MEMORY.items())
    for name, value in cnn.KEEP_FREED_MEMORY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cnn, "_render", lambda: "measured here")
    assert cnn.render() == "measured here"
