"""The CNN section of docs/benchmarks.md (issue 4's speed points).

* ``ndconv.nn.functional.conv`` forward, and forward + backward (input,
  weight and bias gradients), against ``torch.nn.functional.conv2d`` with
  autograd on the CPU, same float32 data (target: forward within 2×);
* one epoch of digits training: ``ndconv.nn.lenet`` + ``fit`` against the
  same LeNet written in plain PyTorch (same layers, Adam, batch 32).

Run alone (``python benchmarks/cnn.py``) it prints the section;
``run_benchmarks.py`` appends it to the page.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from ndconv import bench
from ndconv.nn import functional as F

ROUNDS = 7
CASES = [("B64 3→64 32² 3×3", (64, 3, 32, 32), (64, 3, 3, 3)),
         ("B8 64→64 56² 3×3", (8, 64, 56, 56), (64, 64, 3, 3))]


def _conv_rows(torch) -> list[str]:
    rng = np.random.default_rng(0)
    rows = ["| case | ndconv fwd ms | torch fwd ms | ratio | ndconv fwd+bwd ms | torch fwd+bwd ms | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|"]
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

        times = bench.time_interleaved({
            "ndconv": lambda: F.conv(x, w, b, padding=1), "torch": torch_forward,
            "ndconv_both": ndconv_both, "torch_both": torch_both,
        }, ROUNDS, budget=2.0, seed=0)
        rows.append(f"| {title} | {times['ndconv'] * 1e3:.2f} | {times['torch'] * 1e3:.2f} | "
                    f"{times['ndconv'] / times['torch']:.2f} | {times['ndconv_both'] * 1e3:.2f} | "
                    f"{times['torch_both'] * 1e3:.2f} | {times['ndconv_both'] / times['torch_both']:.2f} |")
    return rows


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


def render() -> str:
    try:
        import torch
    except ImportError:
        return "## CNN (`ndconv.nn`)\n\nPyTorch is not installed; nothing to compare against."
    bench.passive_openmp()
    threads = torch.get_num_threads()
    parts = ["## CNN (`ndconv.nn`)",
             f"`ndconv.nn.functional.conv` against `torch.nn.functional.conv2d` (CPU, float32, padding 1, "
             f"{threads} torch threads); forward+backward is the forward plus the input, weight and bias "
             "gradients (`conv_backward` against `torch.autograd.grad`). Interleaved medians:",
             "\n".join(_conv_rows(torch)),
             "Training time per epoch, the same network in both (`nn.lenet`: two 3×3 conv–ReLU–max-pool "
             "stages, 64 hidden units; Adam):",
             "\n".join(_epoch_rows(torch))]
    return "\n\n".join(parts)


if __name__ == "__main__":
    print(render())
    sys.exit(0)
