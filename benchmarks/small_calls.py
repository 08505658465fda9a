"""The small-calls section of docs/benchmarks.md: what one call costs when the sums are cheap.

On inputs of a few thousand samples the sums take microseconds and the rest of a
call — validating the arguments, building the spec, the plan look-up, the hand-off
to an engine — is most of it.  Each case times ndconv and the peers a user would
call for it (checked to give ndconv's answer first), every sample a loop of
``LOOP`` calls, interleaved rounds (``ndconv.bench.time_interleaved``); µs per
call, ratio = ndconv / the fastest peer, paired = the median of the rounds' ratios.
Run alone (``python benchmarks/small_calls.py``) it prints the section.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi
import scipy.signal as ss
from filters_match import _optional

import ndconv
from ndconv import bench

LOOP = 200      # calls per sample: single calls of a few µs are timer noise
REPEAT = 15
BUDGET = 1.0


def _cases() -> list[tuple[str, np.ndarray, np.ndarray, object, dict]]:
    """(title, x, k, ndconv's call, {peer: call})."""
    cv2 = _optional("cv2")
    rng = np.random.default_rng(0)
    cases = []
    x1, k1 = rng.standard_normal(1000), rng.standard_normal(8)
    cases.append(("1-D float64 1000 'full' K=8", x1, k1, lambda: ndconv.convolve(x1, k1),
                  {"numpy.convolve": lambda: np.convolve(x1, k1), "signal.convolve": lambda: ss.convolve(x1, k1)}))
    x, k = rng.standard_normal((32, 32)).astype(np.float32), rng.standard_normal((3, 3)).astype(np.float32)
    peers = {"ndimage.convolve": lambda: ndi.convolve(x, k, mode="constant"),
             "signal.convolve2d": lambda: ss.convolve2d(x, k, "same")}
    if cv2 is not None:
        flipped = np.ascontiguousarray(k[::-1, ::-1])
        peers["cv2.filter2D"] = lambda: cv2.filter2D(x, -1, flipped, borderType=cv2.BORDER_CONSTANT)
    cases.append(("2-D float32 32² 'same' 3×3", x, k, lambda: ndconv.convolve(x, k, "same"), peers))
    y, h = rng.standard_normal((64, 64)).astype(np.float32), rng.standard_normal((5, 5)).astype(np.float32)
    cases.append(("2-D float32 64² 'full' 5×5", y, h, lambda: ndconv.convolve(y, h),
                  {"signal.convolve2d": lambda: ss.convolve2d(y, h), "signal.convolve": lambda: ss.convolve(y, h)}))
    z = rng.standard_normal((128, 128)).astype(np.float32)
    peers = {"ndimage.convolve": lambda: ndi.convolve(z, h, mode="mirror")}
    if cv2 is not None:
        flipped5 = np.ascontiguousarray(h[::-1, ::-1])
        peers["cv2.filter2D"] = lambda: cv2.filter2D(z, -1, flipped5, borderType=cv2.BORDER_REFLECT_101)
    cases.append(("2-D float32 128² 'same' 5×5, reflect", z, h, lambda: ndconv.convolve(z, h, "same", "reflect"),
                  peers))
    return cases


def _rows() -> list[str]:
    rows = []
    for title, x, k, ours, peer_calls in _cases():
        reference = ours()   # the main table's agreement check: tol · Σ|h| · max|x|
        calls = {"ndconv": ours}
        calls.update({name: call for name, call in peer_calls.items()
                      if bench.disagreement(reference, call(), x, k) is None})
        looped = {name: (lambda call=call: [call() for _ in range(LOOP)]) for name, call in calls.items()}
        rounds: list[dict[str, float]] = []
        times = bench.time_interleaved(looped, REPEAT, BUDGET, seed=len(rows), rounds=rounds)
        us = {name: t / LOOP * 1e6 for name, t in times.items()}
        peers = {name: t for name, t in us.items() if name != "ndconv"}
        best = min(peers, key=peers.__getitem__)
        shown = " · ".join(f"{name} {t:.1f}" for name, t in sorted(peers.items(), key=lambda item: item[1]))
        rows.append(f"| {title} | {us['ndconv']:.1f} | {shown} | {best} | {us['ndconv'] / peers[best]:.2f} | "
                    f"{bench.paired_ratio(rounds, 'ndconv', best):.2f} |")
    return rows


def render() -> str:
    header = ["| case | ndconv µs | peers µs | best peer | ratio | paired |", "|---|---:|---|---|---:|---:|"]
    return "\n\n".join([
        "## Small calls (the fixed cost of a call)",
        "Inputs of a few thousand samples, where the sums take microseconds and the rest of a call "
        "(validation, the spec, the plan look-up, the hand-off to an engine) is most of it; not a case "
        "of issue 7's suite. µs per call, each sample a loop of "
        f"{LOOP} calls, interleaved; ratio = ndconv / the fastest peer giving the same answer. "
        "NumPy's and OpenCV's C entry points cost 1–2 µs; ndconv's Python front end about 10 µs warm.",
        "\n".join(header + _rows()),
    ])


if __name__ == "__main__":
    print(render())
