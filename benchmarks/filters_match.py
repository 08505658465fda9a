"""The filters and template-matching section of docs/benchmarks.md (issue 5).

* ``ndconv.match_template`` (zncc) on a 1024² float32 image with a 64²
  template against OpenCV's ``matchTemplate(TM_CCOEFF_NORMED)`` (target within
  1.5×) and ``skimage.feature.match_template`` (target: faster);
* ``ndconv.filters.gaussian`` (σ = 3.75, a 31×31 kernel, and σ = 2) and
  ``sobel`` on a 2048² float32 image against the faster of OpenCV
  (``GaussianBlur``/``Sobel``, ``BORDER_REFLECT_101``) and ``scipy.ndimage``
  (``mode="mirror"``), all computing the same result (target within 1.25×).

Every contender is checked to agree with ndconv before it is timed; times are
interleaved medians (``ndconv.bench.time_interleaved``).  Run alone
(``python benchmarks/filters_match.py``) it prints the section.
"""

from __future__ import annotations

import importlib
import importlib.util

import numpy as np
import scipy.ndimage as ndi

import ndconv
from ndconv import bench, filters

REPEAT = 15
BUDGET = 1.5


def _optional(name: str):
    if importlib.util.find_spec(name.split(".")[0]) is None:
        return None
    return importlib.import_module(name)


def _timed(calls: dict) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Medians and the per-round seconds of ``calls`` timed interleaved, each round in a
    fresh (seeded) order: rotated, each contender ran after the same neighbour every round."""
    rounds: list[dict[str, float]] = []
    return bench.time_interleaved(calls, REPEAT, BUDGET, seed=len(calls), rounds=rounds), rounds


def _row(case: str, times: dict[str, float], rounds: list[dict[str, float]], ours: str = "ndconv") -> str:
    """Ours, the peers, the best, the ratio of medians and the paired ratio (median of per-round ratios)."""
    peers = {name: t for name, t in times.items() if name != ours}
    best = min(peers, key=peers.__getitem__)
    shown = ", ".join(f"{name} {t * 1e3:.1f}" for name, t in sorted(peers.items(), key=lambda item: item[1]))
    paired = bench.paired_ratio(rounds, ours, best)
    return (f"| {case} | {times[ours] * 1e3:.1f} | {shown} | {best} | {times[ours] / peers[best]:.2f} | "
            f"{paired:.2f} |")


def _agree(ours: np.ndarray, theirs: np.ndarray, atol: float) -> bool:
    return ours.shape == theirs.shape and bool(np.allclose(ours, theirs, rtol=0, atol=atol))


def _match_rows() -> list[str]:
    cv2 = _optional("cv2")
    skimage_feature = _optional("skimage.feature")
    rng = np.random.default_rng(0)
    image = rng.random((1024, 1024), dtype=np.float32)
    template = image[300:364, 500:564] + 0.05 * rng.random((64, 64), dtype=np.float32)
    reference = ndconv.match_template(image, template)
    ours = lambda: ndconv.match_template(image, template)  # noqa: E731
    calls = {"ndconv": ours, "new template": bench.new_kernels(ours)}
    if cv2 is not None and _agree(reference, cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED), 1e-4):
        calls["OpenCV"] = lambda: cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED)
    if skimage_feature is not None and _agree(reference, skimage_feature.match_template(image, template), 1e-4):
        calls["skimage"] = lambda: skimage_feature.match_template(image, template)
    if len(calls) == 1:
        return ["| match_template zncc 1024², 64² | — | no peer installed | | |"]
    times, rounds = _timed(calls)
    fresh = times.pop("new template")
    rows = [_row("match_template zncc, 1024² float32, 64² template", times, rounds)]
    best_name = min((name for name in times if name != "ndconv"), key=times.get)
    rows.append(f"| (a new template each call: its spectrum computed afresh) | {fresh * 1e3:.1f} | | {best_name} | "
                f"{fresh / times[best_name]:.2f} | {bench.paired_ratio(rounds, 'new template', best_name):.2f} |")
    if "skimage" in times:
        rows.append(f"| (ratio ndconv / skimage) | | | skimage | {times['ndconv'] / times['skimage']:.2f} | "
                    f"{bench.paired_ratio(rounds, 'ndconv', 'skimage'):.2f} |")
    return rows


def _filter_rows() -> list[str]:
    cv2 = _optional("cv2")
    rng = np.random.default_rng(1)
    image = rng.random((2048, 2048), dtype=np.float32)
    cases = []
    for sigma in (3.75, 2.0):
        side = filters.gaussian_kernel(sigma, ndim=1).size
        peers = {"ndimage": lambda s=sigma: ndi.gaussian_filter(image, s, mode="mirror")}
        if cv2 is not None:
            peers["OpenCV"] = lambda s=sigma, k=side: cv2.GaussianBlur(image, (k, k), s,
                                                                       borderType=cv2.BORDER_REFLECT_101)
        cases.append((f"gaussian σ={sigma:g} ({side}×{side}), 2048² float32",
                      lambda s=sigma: filters.gaussian(image, s), peers))
    peers = {"ndimage": lambda: ndi.sobel(image, -1, mode="mirror")}
    if cv2 is not None:
        peers["OpenCV"] = lambda: cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101)
    cases.append(("sobel axis=-1, 2048² float32", lambda: filters.sobel(image, -1), peers))
    rows = []
    for case, ours, peer_calls in cases:
        reference = ours()
        calls = {"ndconv": ours}
        for name, call in peer_calls.items():
            if _agree(reference, call(), 1e-4):
                calls[name] = call
        rows.append(_row(case, *_timed(calls)))
    return rows


def render() -> str:
    header = ["| case | ndconv ms | peers ms | best peer | ratio ndconv / best | paired |",
              "|---|---:|---|---|---:|---:|"]
    return "\n\n".join([
        "## Filters and template matching (`ndconv.filters`)",
        "`match_template` (zncc: two FFTs, the template's spectrum and running window sums; targets: "
        "within 1.5× of OpenCV, faster than scikit-image) and the Gaussian/Sobel filters (through "
        "`ndconv.correlate`, which runs them as separable passes; target: within 1.25× of the faster "
        "peer). Boundary: ndconv "
        "`reflect` = OpenCV `BORDER_REFLECT_101` = ndimage `mirror`. Interleaved medians, "
        f"{bench.__name__}.time_interleaved; paired = the median over rounds of that round's ndconv / best peer:",
        "\n".join(header + _match_rows() + _filter_rows()),
    ])


if __name__ == "__main__":
    print(render())
