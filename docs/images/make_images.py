"""Make the pictures of docs/param.md and docs/deblurring.md.

Run from anywhere: ``python docs/images/make_images.py`` (needs matplotlib).
Every picture is computed from ndconv and NumPy; the photograph is the
public-domain portrait of Grace Hopper (U.S. Navy) that matplotlib ships as
sample data.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.cbook  # noqa: E402
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ndconv  # noqa: E402
from ndconv import plot  # noqa: E402
from ndconv.param import AntisymmetricStencil, MMatrixStencil, SymmetricStencil  # noqa: E402

HERE = Path(__file__).resolve().parent


def save(fig, name: str, dpi: int = 80) -> None:
    fig.savefig(HERE / name, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {HERE / name} ({(HERE / name).stat().st_size // 1024} KB)")


def periodic_eigvals(k: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """λ = F(K u₁): the FFT of the first column of the periodic 'same' operator,
    i.e. of the kernel placed circularly, tap j at offset j − (K−1)//2."""
    column = np.zeros(input_shape, dtype=np.result_type(k, float))
    for j in np.ndindex(*k.shape):
        column[tuple((jj - (kk - 1) // 2) % n for jj, kk, n in zip(j, k.shape, input_shape))] += k[j]
    return np.fft.fftn(column)


def structure() -> None:
    """Toeplitz (zero boundary), circulant (periodic) and BCCB (periodic, 2-D)."""
    k1 = np.array([1.0, 2.0, -1.0])
    k2 = np.arange(9.0).reshape(3, 3) - 4
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), layout="constrained")
    plot.operator_matrix(ndconv.ConvOperator(k1, (8,)), ax=axes[0], colorbar=False,
                         title="1-D, zero boundary: Toeplitz")
    plot.operator_matrix(ndconv.ConvOperator(k1, (8,), boundary="wrap"), ax=axes[1], colorbar=False,
                         title="1-D, periodic: circulant")
    plot.operator_matrix(ndconv.ConvOperator(k2, (4, 4), boundary="wrap"), ax=axes[2], colorbar=False,
                         title="2-D 4×4, periodic: BCCB")  # block lines every 4, from the operator's shapes
    save(fig, "operator_structure.png")


def eigenvalues() -> None:
    """The spectra the notes promise, for random 3×3 stencils on a periodic 24×24 grid."""
    rng = np.random.default_rng(0)
    models = [(AntisymmetricStencil((3, 3)), "antisymmetric: on the imaginary axis", rng.standard_normal),
              (MMatrixStencil((3, 3)), "M-matrix, θ ≥ 0: Re λ ≥ 0", lambda p: rng.uniform(0, 1, p)),
              (SymmetricStencil((3, 3)), "symmetric: on the real axis", rng.standard_normal)]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained")
    for ax, (model, title, draw) in zip(axes, models):
        lam = periodic_eigvals(model.model(draw(model.num_params)), (24, 24))
        plot.spectrum(lam, ax=ax, title=title, s=8)
    save(fig, "param_eigenvalues.png")


def explain_picture() -> None:
    fig, ax = plt.subplots(figsize=(6, 3))
    plot.explain_table([3, 1, 2], [3, 2, 1], ax=ax)
    save(fig, "explain_table.png")


# -- deblurring -------------------------------------------------------------------------

def photograph() -> np.ndarray:
    """Grace Hopper, grey, 256×256, values in [0, 1]."""
    rgb = matplotlib.image.imread(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    grey = rgb[40:552, :, :3].astype(float).mean(axis=2) / 255.0  # 512×512
    return grey.reshape(256, 2, 256, 2).mean(axis=(1, 3))


def gaussian(sigma: float, radius: int) -> np.ndarray:
    t = np.arange(-radius, radius + 1)
    g = np.exp(-0.5 * (t / sigma) ** 2)
    g = np.outer(g, g)
    return g / g.sum()


def tikhonov(y: np.ndarray, k: np.ndarray, reg: float) -> np.ndarray:
    """argmin ‖k * x − y‖² + reg ‖x‖², periodic boundary, exactly by FFT
    (ConvOperator.solve computes x = F*( conj(λ) / (|λ|² + reg) · F y ), λ = F(K u₁))."""
    return ndconv.ConvOperator(k, y.shape, boundary="wrap").solve(y, reg=reg)


def psnr(x: np.ndarray, reference: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((x - reference) ** 2)))


def deblurring() -> None:
    x = photograph()
    k = gaussian(2.0, 8)
    rng = np.random.default_rng(0)
    y = ndconv.convolve(x, k, "same", "wrap") + 0.01 * rng.standard_normal(x.shape)
    naive = tikhonov(y, k, 1e-10)
    regs = [10.0 ** e for e in np.arange(-5, -0.9, 0.25)]
    scores = [psnr(tikhonov(y, k, r), x) for r in regs]
    best = regs[int(np.argmax(scores))]
    recovered = tikhonov(y, k, best)
    panels = [(x, "original"), (y, f"blurred (σ = 2 px) + 1 % noise\nPSNR {psnr(y, x):.1f} dB"),
              (naive, f"reg = 1e-10: noise amplified\nPSNR {psnr(naive, x):.1f} dB"),
              (recovered, f"Tikhonov, reg = {best:.1e}\nPSNR {psnr(recovered, x):.1f} dB")]
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4), layout="constrained")
    for ax, (image, title) in zip(axes, panels):
        ax.imshow(np.clip(image, 0, 1), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    save(fig, "deblurring.png", dpi=64)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    plot.frequency_response(k, ax=axes[0], size=(64, 64), title="|λ|: the Gaussian's frequency response")
    axes[1].semilogx(regs, scores, "o-")
    axes[1].axvline(best, color="C3", linewidth=0.8)
    axes[1].set_xlabel("reg")
    axes[1].set_ylabel("PSNR of the recovery (dB)")
    axes[1].set_title("choosing reg")
    save(fig, "deblurring_spectrum.png")


if __name__ == "__main__":
    structure()
    eigenvalues()
    explain_picture()
    deblurring()
