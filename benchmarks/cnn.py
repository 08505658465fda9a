"""The CNN section of docs/benchmarks.md (issue 4's speed points, issue 7's targets).

* ``ndconv.nn.functional.conv`` forward, and forward + backward (input,
  weight and bias gradients), against ``torch.nn.functional.conv2d`` with
  autograd on the CPU, same float32 data, contenders in a fresh random order
  each round (issue 7's target: at most 1.0×);
* the roofline bounds of each forward case (memory, the direct GEMM, the GEMMs
  of the algorithm ndconv runs) and a profile of where its time goes;
* one epoch of digits training: ``ndconv.nn.lenet`` + ``fit`` against the
  same LeNet written in plain PyTorch (same layers, Adam, batch 32).

Run alone (``python benchmarks/cnn.py``) it prints the section;
``run_benchmarks.py`` appends it to the page.  Either way the section is made in
a process of its own, started with glibc's malloc keeping freed memory
(``KEEP_FREED_MEMORY``), so that neither contender pays page faults for the other.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

from ndconv import bench
from ndconv.nn import functional as F

#: interleaved rounds per case (each contender also stops once it has used 2 s): with 7,
#: one run's B8 forward read 0.82 and the next 1.04 (the paired ratio 0.81 and 1.07); the
#: whole table takes about 10 s with 31
ROUNDS = 31
#: seconds a fast contender is timed at least (rounds past ROUNDS), as in the main table: with 31
#: rounds alone (0.1 s of samples) three runs of the B64 forward read 0.93, 0.85 and 1.02
LEAST = bench.SCALES["full"].least
CASES = [("B64 3→64 32² 3×3", (64, 3, 32, 32), (64, 3, 3, 3)),
         ("B8 64→64 56² 3×3", (8, 64, 56, 56), (64, 64, 3, 3))]


def _conv_rows(torch, forward_times: dict[str, tuple[float, float]] | None = None) -> list[str]:
    """The table rows; each case's ndconv times (forward, forward+backward) go into ``forward_times``."""
    rng = np.random.default_rng(0)
    rows = ["| case | ndconv fwd ms | torch fwd ms | ratio | paired | ndconv fwd+bwd ms | torch fwd+bwd ms | ratio | "
            "paired |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for title, xshape, wshape in CASES:
        x = rng.standard_normal(xshape).astype(np.float32)
        w = (rng.standard_normal(wshape) / 10).astype(np.float32)
        b = rng.standard_normal(wshape[0]).astype(np.float32)
        dy = rng.standard_normal(F.conv(x, w, b, padding=1).shape).astype(np.float32)
        tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
        tdy = torch.from_numpy(dy)

        def torch_forward():
            with torch.no_grad():
                torch.nn.functional.conv2d(tx, tw, tb, padding=1)

        def torch_both():
            out = torch.nn.functional.conv2d(tx, tw, tb, padding=1)
            torch.autograd.grad(out, (tx, tw, tb), tdy)

        def ndconv_both():
            F.conv(x, w, b, padding=1)
            F.conv_backward(dy, x, w, padding=1)

        # the forward pair and the forward+backward pair are timed apart: interleaved with
        # torch's backward passes, both forwards ran 2-5x slower and erratic (B64: 3-4 ms alone,
        # 7-22 ms there)
        rounds: list[dict[str, float]] = []
        times = bench.time_interleaved({"ndconv": lambda: F.conv(x, w, b, padding=1), "torch": torch_forward},
                                       ROUNDS, budget=2.0, seed=0, rounds=rounds, least=LEAST)
        paired = bench.paired_ratio(rounds, "ndconv", "torch")
        rounds = []
        times.update(bench.time_interleaved({"ndconv_both": ndconv_both, "torch_both": torch_both},
                                            ROUNDS, budget=2.0, seed=0, rounds=rounds, least=LEAST))
        paired_both = bench.paired_ratio(rounds, "ndconv_both", "torch_both")
        if forward_times is not None:
            forward_times[title] = times["ndconv"], times["ndconv_both"]
        rows.append(f"| {title} | {times['ndconv'] * 1e3:.2f} | {times['torch'] * 1e3:.2f} | "
                    f"{times['ndconv'] / times['torch']:.2f} | {paired:.2f} | {times['ndconv_both'] * 1e3:.2f} | "
                    f"{times['torch_both'] * 1e3:.2f} | {times['ndconv_both'] / times['torch_both']:.2f} | "
                    f"{paired_both:.2f} |")
    return rows


def _limit_rows(forward_times: dict[str, tuple[float, float]]) -> list[str]:
    """Roofline bounds of each case, forward and forward+backward, and where ndconv's time goes."""
    import limits

    from ndconv.nn import _direct, _winograd

    machine = limits.machine_limits()
    rows = ["| case | ndconv ms | memory ms | direct GEMM ms | ndconv's algorithm | its GEMM ms | distance "
            "| where the time goes (main thread) |",
            "|---|---:|---:|---:|---|---:|---:|---|"]
    rng = np.random.default_rng(0)
    for title, xshape, wshape in CASES:
        batch, cin, h, w = xshape
        cout = wshape[0]
        x = rng.standard_normal(xshape).astype(np.float32)
        k = (rng.standard_normal(wshape) / 10).astype(np.float32)
        dy = rng.standard_normal((batch, cout, h, w)).astype(np.float32)
        nbytes = 4 * (x.size + k.size + dy.size)
        direct = 2 * batch * cout * cin * 9 * h * w / machine["gemm_f4"]
        winograd = _winograd.applies((3, 3), (1, 1), (1, 1), 1, cin, cout, (h, w))
        if winograd:
            m = _winograd.TILE
            tiles = batch * -(-h // m) * (-(-w // m) + 1)
            algorithm, gemm = f"Winograd F({m}×{m}, 3×3)", 2 * (m + 2) ** 2 * cin * cout * tiles / machine["gemm_f4"]
        elif _direct.applies((3, 3), (1, 1), (1, 1), 1, cin, np.float32):
            algorithm, gemm = "direct sum (no GEMM: the FLOPs at the GEMM rate)", direct
        else:
            algorithm, gemm = "im2col + GEMM", direct
        # the gradients (conv_backward) run Winograd where the forward's shape allows it, else
        # im2col GEMMs: each as many FLOPs as the forward's algorithm, or as the direct GEMM
        backward = ("Winograd (both gradients)", 2 * gemm) if winograd else ("im2col + GEMMs", 2 * direct)
        ours, ours_both = forward_times[title]
        for label, seconds, moved, direct_s, algo, algo_s, call in (
                ("forward", ours, nbytes, direct, algorithm, gemm, lambda: F.conv(x, k, padding=1)),
                ("forward+backward", ours_both, 2 * nbytes, 3 * direct, f"{algorithm}; gradients: {backward[0]}",
                 gemm + backward[1], lambda: (F.conv(x, k, padding=1), F.conv_backward(dy, x, k, padding=1)))):
            limit = max(moved / machine["bandwidth"], min(direct_s, algo_s))
            where = limits.where(limits.top_functions(call, names=_BLAS_CALLERS))
            rows.append(f"| {title}, {label} | {seconds * 1e3:.2f} | {moved / machine['bandwidth'] * 1e3:.2f} | "
                        f"{direct_s * 1e3:.2f} | {algo} | {algo_s * 1e3:.2f} | {seconds / limit:.1f} | {where} |")
    return rows


#: functions whose own time is BLAS's (a compiled loop, or BLAS inside the function that calls
#: it, counts as one function in a profile)
_BLAS_CALLERS = {name: f"GEMMs (BLAS, in {name})" for name in (
    "_winograd.correlate", "_conv_gemm.share", "_winograd.weight_products")}


def _torch_lenet(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10))


def _epoch_rows(torch) -> list[str]:
    from ndconv.datasets import load_digits
    from ndconv.nn import evaluate, fit, lenet

    (X, y), (Xt, yt) = load_digits()
    epochs, batch = 3, 32

    model = lenet(seed=0)
    start = time.perf_counter()
    fit(model, X, y, epochs=epochs, batch_size=batch, progress=False, seed=0)
    ours = (time.perf_counter() - start) / epochs
    ours_acc = evaluate(model, Xt, yt)

    torch.manual_seed(0)
    net = _torch_lenet(torch)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(tX), generator=gen)
        for i in range(0, len(tX), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(tX[idx]), ty[idx])
            loss.backward()
            opt.step()
    theirs = (time.perf_counter() - start) / epochs
    with torch.no_grad():
        theirs_acc = float((net(torch.from_numpy(Xt)).argmax(1).numpy() == yt).mean())
    return ["| LeNet on the digits (1,438 training images, batch 32) | s per epoch | test accuracy after 3 epochs |",
            "|---|---:|---:|",
            f"| ndconv.nn (NumPy) | {ours:.3f} | {ours_acc:.3f} |",
            f"| plain PyTorch | {theirs:.3f} | {theirs_acc:.3f} |",
            f"| ratio ndconv / torch | {ours / theirs:.2f} | |"]


#: glibc's malloc keeps freed blocks up to 32 MiB in the process's heap, and the heap's free
#: top up to 1 GiB (its environment variables, read once when a process starts).  Page faults
#: cost about 3–25 µs on this VM, and torch's conv2d handed its output's pages back to the
#: system on every call (3,879 faults per B64 forward), so whichever call came next faulted
#: too: ndconv's B64 forward took 4.6–20 ms right after torch against 2.8–3 ms right after
#: itself (705 page faults against none), and a plain run read ndconv at 1.96× torch.  With
#: freed memory kept, neither contender pays for the other's frees (B64: 0.86–0.88, the same
#: with or without an untimed call of each contender before its sample)
KEEP_FREED_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def render() -> str:
    """The section, made in a process of its own under ``KEEP_FREED_MEMORY``."""
    if all(os.environ.get(name) == value for name, value in KEEP_FREED_MEMORY.items()):
        return _render()
    env = {**os.environ, **KEEP_FREED_MEMORY}
    done = subprocess.run([sys.executable, __file__], env=env, stdout=subprocess.PIPE, text=True, check=True)
    return done.stdout.rstrip("\n")


def _render() -> str:
    bench.passive_openmp()   # before torch loads its OpenMP runtime, which reads the setting once
    try:
        import torch
    except ImportError:
        return "## CNN (`ndconv.nn`)\n\nPyTorch is not installed; nothing to compare against."
    threads = torch.get_num_threads()
    parts = ["## CNN (`ndconv.nn`)",
             f"`ndconv.nn.functional.conv` against `torch.nn.functional.conv2d` (CPU, float32, padding 1, "
             f"{threads} torch threads); forward+backward is the forward plus the input, weight and bias "
             "gradients (`conv_backward` against `torch.autograd.grad`). Interleaved medians; paired = the "
             "median over rounds of that round's ratio. Made in a process of its own, with glibc's malloc "
             "keeping freed memory (`MALLOC_MMAP_THRESHOLD_` 32 MiB, `MALLOC_TRIM_THRESHOLD_` 1 GiB): page "
             "faults cost 3–25 µs on this VM and torch's conv2d handed its output's pages back to the system "
             "on every call, so whichever call came next paid for them (ndconv's B64 forward 4.6–20 ms right "
             "after torch against 2.8–3 ms after itself):",
             "\n".join(_conv_rows(torch, forward_times := {})),
             "Bounds (measured in this process, as in *Limits and profiles*): memory = x, w and y once "
             "through memory (forward+backward: x, w, dy in and y, dx, dw out); direct GEMM = "
             "2·B·Cout·Cin·9·H·W FLOPs at the float32 GEMM rate (forward+backward: three times that, the "
             "forward and both gradients); ndconv's algorithm = the FLOPs of the GEMMs it runs (Winograd: "
             "2·36·Cin·Cout per tile of 4×4 outputs, counting the one padding tile per row of tiles, for each "
             "of the forward and the two gradients); distance = ndconv / max(memory, min(direct, algorithm)). "
             "Profile: cProfile of the main thread, which runs half of the batch (the other core's half "
             "shows as waiting).",
             "\n".join(_limit_rows(forward_times)),
             "Training time per epoch, the same network in both (`nn.lenet`: two 3×3 conv–ReLU–max-pool "
             "stages, 64 hidden units; Adam):",
             "\n".join(_epoch_rows(torch))]
    return "\n\n".join(parts)


if __name__ == "__main__":
    print(render())
    sys.exit(0)
