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
import math

import numpy as np
import scipy.fft
import scipy.ndimage as ndi

import ndconv
from ndconv import bench, filters

REPEAT = 15
BUDGET = 1.5
LEAST = bench.SCALES["full"].least   # seconds a fast contender is timed at least, as in the main table


def _optional(name: str):
    if importlib.util.find_spec(name.split(".")[0]) is None:
        return None
    return importlib.import_module(name)


def _timed(calls: dict) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Medians and the per-round seconds of ``calls`` timed interleaved, each round in a
    fresh (seeded) order: rotated, each contender ran after the same neighbour every round."""
    rounds: list[dict[str, float]] = []
    return bench.time_interleaved(calls, REPEAT, BUDGET, seed=len(calls), rounds=rounds, least=LEAST), rounds


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


def _match_problem() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    image = rng.random((1024, 1024), dtype=np.float32)
    return image, image[300:364, 500:564] + 0.05 * rng.random((64, 64), dtype=np.float32)


def _match_rows(seconds: dict[str, float] | None = None) -> list[str]:
    """The table rows; ndconv's times (kept template, new template) go into ``seconds``."""
    cv2 = _optional("cv2")
    skimage_feature = _optional("skimage.feature")
    image, template = _match_problem()
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
    if seconds is not None:
        seconds.update(kept=times["ndconv"], fresh=fresh)
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


def _match_limit_rows(seconds: dict[str, float]) -> list[str]:
    """Roofline bounds of ``match_template`` and where its time goes."""
    import limits

    machine = limits.machine_limits()
    image, template = _match_problem()
    outputs = math.prod(n - t + 1 for n, t in zip(image.shape, template.shape))
    memory = 4 * (image.size + template.size + outputs) / machine["bandwidth"]
    direct = 2 * outputs * template.size / machine["gemm_f4"]      # Σ x·t alone, for every window
    sizes = [scipy.fft.next_fast_len(n, real=(i == image.ndim - 1)) for i, n in enumerate(image.shape)]
    points = math.prod(sizes)
    transform = limits.FFT_FLOPS_PER_POINT * points * math.log2(points) / machine["fft_f4"]
    rows = ["| case | ndconv ms | memory ms | direct ms | FFT ms | distance | where the time goes |",
            "|---|---:|---:|---:|---:|---:|---|"]
    call = lambda: ndconv.match_template(image, template)  # noqa: E731
    # kept template: the image's transform and the inverse; new template: its transform too
    for label, ours, fft, timed in (("kept template", seconds["kept"], 2 * transform, call),
                                    ("new template", seconds["fresh"], 3 * transform, bench.new_kernels(call))):
        limit = max(memory, min(direct, fft))
        rows.append(f"| match_template zncc 1024², 64², {label} | {ours * 1e3:.1f} | {memory * 1e3:.2f} | "
                    f"{direct * 1e3:.1f} | {fft * 1e3:.2f} | {ours / limit:.1f} | "
                    f"{limits.where(limits.top_functions(timed))} |")
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
        "\n".join(header + _match_rows(seconds := {}) + _filter_rows()),
        "Bounds of `match_template` (measured in this process, as in *Limits and profiles*): memory = the "
        "image, the template and the scores once through memory; direct = 2 FLOPs per score × template "
        "pixel at the float32 GEMM rate (the cross-correlation alone); FFT = the transforms it needs at "
        "scipy.fft's rate, of the image's size (1024², where the valid scores never wrap round): the "
        "image's and the inverse, and the template's when it is new; distance = ndconv / max(memory, "
        "min(direct, FFT)). Profile: cProfile of the call.",
        "\n".join(_match_limit_rows(seconds)) if seconds else "(no peer installed: not timed)",
    ])


if __name__ == "__main__":
    print(render())
