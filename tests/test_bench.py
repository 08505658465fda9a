"""Smoke tests of the benchmark harness (tiny sizes).  Timings are never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ndconv import bench


@pytest.fixture(scope="module")
def report() -> bench.Report:
    return bench.run("tiny", repeat=1)


def test_every_case_runs_with_peers(report):
    assert [r.case.id for r in report.results] == [c.id for c in bench.cases("tiny")]
    for result in report.results:
        assert result.ndconv > 0
        assert result.method in ("direct", "fft", "overlap_add", "separable")
        assert result.peers, f"{result.case.id}: no peer timed ({result.notes})"
        assert result.ratio == pytest.approx(result.ndconv / result.best_peer()[1])
        assert result.paired is not None and result.paired > 0


def test_peers_and_methods_agree_with_ndconv(report):
    for result in report.results:
        wrong = {name: why for name, why in result.notes.items()
                 if why.startswith((bench.DISAGREES, "failed"))}
        assert not wrong, result.case.id


def test_integer_cases_compare_only_exact_peers(report):
    result = next(r for r in report.results if r.case.id == "2d-int-3x3")
    assert "fftconvolve" not in result.peers
    assert result.notes["fftconvolve"].startswith("not comparable")


def test_a_peer_with_another_answer_is_reported_not_timed():
    case = bench.select(bench.cases("tiny"), "1d-k8")[0]
    correlating = bench.Peer("correlate", "numpy", lambda c, x, k: lambda: np.correlate(x, k, "full"))
    broken = bench.Peer("broken", "numpy", lambda c, x, k: 1 / 0)
    result = bench.run_case(case, bench.SCALES["tiny"], [correlating, broken], repeat=1)
    assert result.peers == {} and result.ratio is None
    assert result.notes["correlate"].startswith(bench.DISAGREES)
    assert result.notes["broken"].startswith("failed: ZeroDivisionError")
    assert "correlate ✗" in bench.render_table([result])


def test_cases_are_timed_in_a_seeded_random_order(monkeypatch):
    """Each round of a case in a fresh random order, the same from run to run: rotated, ndconv
    ran after the same (slowest) peer in every round and paid for it."""
    seeds = []
    real = bench.time_interleaved
    monkeypatch.setattr(bench, "time_interleaved",
                        lambda calls, repeat, budget, seed=None, rounds=None, least=0.0: seeds.append(seed)
                        or real(calls, repeat, budget, seed=seed, rounds=rounds, least=least))
    case = bench.select(bench.cases("tiny"), "1d-k8")[0]
    peer = bench.Peer("numpy", "numpy", lambda c, x, k: lambda: np.convolve(x, k))
    for _ in range(2):
        bench.run_case(case, bench.SCALES["tiny"], [peer], repeat=1)
    assert seeds[0] is not None and seeds[0] == seeds[1]


def test_disagreement_tolerance():
    x = np.ones(100, np.float32)
    k = np.ones(4, np.float32)
    y = np.convolve(x, k).astype(np.float32)
    assert bench.disagreement(y, y + 1e-4, x, k) is None
    assert bench.disagreement(y, y + 1e-3, x, k).startswith(bench.DISAGREES)
    y64 = y.astype(np.float64)
    assert bench.disagreement(y64, y64 + 1e-9, x, k).startswith(bench.DISAGREES)
    assert bench.disagreement(y, y[:-1], x, k) == f"{bench.DISAGREES}: shape (102,), not (103,)"
    ints = np.arange(5)
    assert bench.disagreement(ints, ints.astype(float), ints, ints).startswith("not comparable")


def test_interleaved_timing_takes_the_median_of_each():
    calls = []
    times = bench.time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 4, 0.0)
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())
    assert calls == ["a", "b", "b", "a", "a", "b"]  # three each (MIN_SAMPLES), order rotating


def test_reports_render(report):
    table = bench.render_table(report.results)
    assert table.startswith("| case | auto method | ndconv ms | best peer | peer ms | ratio | paired |")
    assert table.count("\n") == len(report.results) + 1
    summary = bench.render_summary(report)
    assert "Machine:" in summary and "Numba" in summary
    page = bench.render_markdown(report, "python benchmarks/run_benchmarks.py")
    for heading in ("# Benchmarks", "## Results", "## Machine", "## How to reproduce"):
        assert heading in page
    assert ">>>" not in page  # the docs are collected as doctests


def test_select_names_the_cases():
    assert [c.id for c in bench.select(bench.cases("tiny"), "3d, 1d-k8")] == ["1d-k8", "3d-5"]
    with pytest.raises(ValueError, match=r"cases='nothing' matches no case; the ids are: 2d-3x3, "):
        bench.select(bench.cases("tiny"), "nothing")
    with pytest.raises(ValueError, match=r"scale must be one of 'full', 'quick', 'tiny', got 'huge'"):
        bench.cases("huge")


def test_first_call_latency_in_a_fresh_process():
    case = bench.select(bench.cases("tiny"), "2d-3x3")[0]
    found = bench.first_call_latency(case, "tiny")
    assert set(found) == {"first_s", "steady_s", "import_s", "latency_s"}
    assert found["first_s"] > 0 and found["steady_s"] > 0


def test_import_loads_no_peer():
    code = "import sys, ndconv.bench; print(sorted({'torch', 'cv2'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_cli_bench_quick():
    env = dict(os.environ, NDCONV_BENCH_SCALE="tiny", NDCONV_BENCH_CASES="2d-5x5,1d-k8")
    done = subprocess.run([sys.executable, "-m", "ndconv", "bench", "--quick"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert "ratio" in rows[0] and len(rows) == 3  # the header and one row per case


def test_cli_bench_calibrate_prints_the_constants(monkeypatch, tmp_path, capsys):
    path = tmp_path / "cost_model.json"

    def fake_tune(quick=False):
        path.write_text(json.dumps({"constants": {"call": 2e-5, "copy": 5e-10}}))
        return path

    monkeypatch.setattr("ndconv.tuning.tune", fake_tune)
    monkeypatch.setenv("NDCONV_BENCH_SCALE", "tiny")
    monkeypatch.setenv("NDCONV_BENCH_CASES", "1d-k8")
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    assert bench.main(calibrate=True) == 0
    out = capsys.readouterr().out
    assert f"cost model written to {path}" in out
    assert "  call  2.000e-05\n  copy  5.000e-10\n" in out and "| 1-D float64 2^11 'full' K=8 |" in out


def test_time_interleaved_with_a_seed_shuffles_each_round():
    calls = []
    bench.time_interleaved({name: (lambda n=name: calls.append(n)) for name in "abcd"}, 3, 0.0, seed=1)
    rounds = [calls[i:i + 4] for i in range(0, 12, 4)]
    assert all(sorted(r) == list("abcd") for r in rounds)
    assert len({tuple(r) for r in rounds}) > 1 and any(r[0] != "abcd"[i % 4] for i, r in enumerate(rounds))


def test_time_interleaved_hands_out_each_round():
    rounds = []
    times = bench.time_interleaved({"a": lambda: None, "b": lambda: None}, 4, 0.0, rounds=rounds)
    # three samples each (MIN_SAMPLES), then both leave and the rounds end
    assert [sorted(r) for r in rounds] == [["a", "b"]] * 3
    assert times["a"] == pytest.approx(sorted(r["a"] for r in rounds[:3])[1])


def test_time_interleaved_keeps_a_fast_contender_until_it_has_used_least_seconds(monkeypatch):
    """With ``least``, a contender that used less than ``least`` seconds in ``repeat`` rounds
    stays on (a fast call's median over 15 rounds is 30 ms of samples); the others leave."""
    clock = [0.0]
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock[0])

    def costing(seconds):
        def call():
            clock[0] += seconds
        return call

    rounds = []
    bench.time_interleaved({"fast": costing(0.1), "slow": costing(1.0)}, 4, 10.0, seed=0,
                           rounds=rounds, least=1.45)
    assert sum("slow" in r for r in rounds) == 4            # repeat rounds, 4 s ≥ least
    assert sum("fast" in r for r in rounds) == 15           # 15 × 0.1 s reaches least
    assert len(rounds) == 15
    rounds = []
    bench.time_interleaved({"fast": costing(0.1)}, 4, 1e9, rounds=rounds, least=1e9)
    assert len(rounds) == 4 * bench.MAX_ROUNDS_FACTOR       # never more than that
    rounds = []
    bench.time_interleaved({"fast": costing(0.1)}, 4, 10.0, rounds=rounds)
    assert len(rounds) == 4                                 # without least: repeat rounds


def test_paired_ratio_is_the_median_of_the_rounds_that_timed_both():
    rounds = [{"a": 2.0, "b": 1.0}, {"a": 9.0, "b": 3.0}, {"a": 4.0, "b": 4.0}, {"a": 1.0}, {"b": 5.0}]
    assert bench.paired_ratio(rounds, "a", "b") == 2.0
    assert bench.paired_ratio(rounds[3:], "a", "b") is None
    # a drift that slows both in one round leaves the paired ratio alone, not the ratio of medians
    drift = [{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 6.0}, {"a": 3.0, "b": 6.0}, {"a": 1.0, "b": 2.0},
             {"a": 1.0, "b": 6.0}]
    assert bench.paired_ratio(drift, "a", "b") == 0.5


def test_the_page_states_the_rounds_it_timed():
    full = bench.render_markdown(bench.Report("full", [], {}), "cmd")
    assert "15 rounds" in full and "used 4 s and staying on until it has used 0.5 s" in full
    quick = bench.render_markdown(bench.Report("quick", [], {}, repeat=3), "cmd")
    assert "3 rounds" in quick and "staying on" not in quick
