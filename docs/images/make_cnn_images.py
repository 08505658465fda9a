"""Make the pictures and the comparison table of docs/cnn.md.

Run from anywhere: ``python docs/images/make_cnn_images.py`` (needs matplotlib;
about three minutes on one core, most of it the separable model).  Every network is trained exactly as
``ndconv train --kernel-model NAME --seed S`` trains it at its defaults (LeNet
on the bundled digits, Adam with lr 2e-3, 15 epochs of mini-batches of 32, the
shuffle seeded ``S + epoch``), for seeds 0, 1 and 2; the table is the mean test
accuracy over the seeds.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ndconv import nn, param  # noqa: E402
from ndconv.datasets import load_digits  # noqa: E402

HERE = Path(__file__).resolve().parent
EPOCHS, BATCH_SIZE, LR, SEEDS = 15, 32, 2e-3, (0, 1, 2)  # ndconv train's defaults
KERNEL_MODELS = {"free": None, "symmetric": param.SymmetricStencil, "antisymmetric": param.AntisymmetricStencil,
                 "mmatrix": param.MMatrixStencil, "separable": param.SeparableStencil}  # as in cli._cmd_train


def save(fig, name: str, dpi: int = 80) -> None:
    fig.savefig(HERE / name, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {HERE / name} ({(HERE / name).stat().st_size // 1024} KB)")


def train(name: str, seed: int, data) -> tuple[nn.Sequential, nn.History]:
    """One run of ``ndconv train --kernel-model name --seed seed``, its per-epoch history kept."""
    (X_train, y_train), (X_test, y_test) = data
    model = nn.lenet(X_train.shape[1], 10, X_train.shape[2:], seed=seed, kernel_model=KERNEL_MODELS[name])
    optimizer = nn.Adam(model, lr=LR)
    history = nn.History()
    for epoch in range(EPOCHS):
        step = nn.fit(model, X_train, y_train, epochs=1, batch_size=BATCH_SIZE, optimizer=optimizer,
                      validation=(X_test, y_test), progress=False, seed=seed + epoch)
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            history[key].extend(step[key])
    return model, history


def first_layer_kernels(model: nn.Sequential) -> np.ndarray:
    """The 16 effective 3×3 kernels of the first convolution (built from θ for a kernel model)."""
    conv = model.layers[0]
    if conv.kernel_model is None:
        return np.asarray(conv.params["weight"])[:, 0]
    theta = np.asarray(conv.params["theta"])[:, 0]
    return np.stack([np.asarray(conv.kernel_model.model(t)) for t in theta])


def kernels_picture(models: dict[str, nn.Sequential]) -> None:
    names = list(models)
    fig = plt.figure(figsize=(3.1 * len(names), 3.6), layout="constrained")
    panels = fig.subfigures(1, len(names), wspace=0.04)
    for panel, name in zip(np.atleast_1d(panels), names):
        kernels = first_layer_kernels(models[name])
        limit = np.abs(kernels).max()
        axes = panel.subplots(4, 4)
        for ax, kernel in zip(axes.flat, kernels):
            ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
        panel.suptitle(f"{name}\n(±{limit:.2f}, red > 0 > blue)", fontsize=11)
    save(fig, "cnn_kernels.png")


def training_picture(histories: dict[str, list[nn.History]]) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    epochs = np.arange(1, EPOCHS + 1)
    for (name, runs), colour in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        loss = np.mean([h.loss for h in runs], axis=0)
        accuracy = np.mean([h.val_accuracy for h in runs], axis=0)
        left.plot(epochs, loss, marker="o", ms=3, color=colour, label=name)
        right.plot(epochs, accuracy, marker="o", ms=3, color=colour, label=name)
    left.set(xlabel="epoch", ylabel="training loss (cross-entropy)", yscale="log",
             title=f"training loss, mean of seeds {', '.join(map(str, SEEDS))}")
    right.set(xlabel="epoch", ylabel="test accuracy", ylim=(0.5, 1.0),
              title="accuracy on the 359 test digits after each epoch")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(title="kernels", fontsize=9)
    save(fig, "cnn_training.png")


def main() -> None:
    data = load_digits()
    models, histories, rows = {}, {}, []
    for name in KERNEL_MODELS:
        runs = [train(name, seed, data) for seed in SEEDS]
        models[name] = runs[0][0]
        histories[name] = [history for _, history in runs]
        final = [history.val_accuracy[-1] for _, history in runs]
        conv_count = sum(nn.count_parameters(runs[0][0].layers[i]) for i in (0, 3))
        rows.append((name, nn.count_parameters(runs[0][0]), conv_count, final))
    print("| kernels | parameters | of which conv | test accuracy, seeds 0, 1, 2 | mean |")
    print("|---|---:|---:|---|---:|")
    for name, total, conv_count, final in rows:
        print(f"| {name} | {total:,} | {conv_count:,} | {', '.join(f'{a:.4f}' for a in final)} "
              f"| {np.mean(final):.4f} |")
    kernels_picture({name: models[name] for name in ("free", "symmetric", "antisymmetric")})
    training_picture(histories)


if __name__ == "__main__":
    main()
