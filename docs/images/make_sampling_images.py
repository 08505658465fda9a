"""Make the pictures of docs/sampling.md (needs matplotlib).

Run from anywhere: ``python docs/images/make_sampling_images.py``.  Every curve
is computed with ndconv.fourier and NumPy.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ndconv.fourier import aliased_frequency, cfft, freqs, sinc_interpolate  # noqa: E402

HERE = Path(__file__).resolve().parent
B = 1.0  # bandwidth of the example signal (Hz): its spectrum lies in |f| ≤ B


def save(fig, name: str, dpi: int = 80) -> None:
    fig.savefig(HERE / name, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {HERE / name} ({(HERE / name).stat().st_size // 1024} KB)")


def signal(t):
    """Band-limited to B: a product of sinc² envelopes (triangle spectra) and tones."""
    return (np.sinc(0.5 * B * (t - 2.0)) ** 2 + 0.6 * np.sinc(0.25 * B * (t + 3.0)) ** 2
            * np.cos(2 * np.pi * 0.7 * B * t))


def reconstruction() -> None:
    X = 1 / (2 * B)  # Nyquist sampling, X = 1/(2B)
    n = np.arange(-200, 201)
    t = np.linspace(-10, 10, 2001)
    y = sinc_interpolate(signal(n * X), t, spacing=X, t0=n[0] * X)
    fig, ax = plt.subplots(figsize=(9, 3.4), layout="constrained")
    ax.plot(t, signal(t), color="0.6", lw=4, label="U(x), bandwidth B = 1")
    ax.plot(t, y, color="C0", lw=1.2, label="sinc_interpolate of the samples")
    shown = np.abs(n * X) <= 10
    ax.plot(n[shown] * X, signal(n[shown] * X), "o", color="C3", ms=4, label="samples U(nX), X = 1/(2B)")
    for k in (-4, 0, 4):  # a few of the sinc terms of the sum
        ax.plot(t, signal(k * X) * np.sinc((t - k * X) / X), color="C2", lw=0.7, alpha=0.8,
                label="terms U(nX) sinc[2B(x − nX)]" if k == -4 else None)
    ax.set_xlabel("x")
    err = np.abs(y - signal(t)).max()
    ax.set_title(f"Nyquist-rate samples reconstruct U (max error {err:.0e}: the sum stops at 401 samples)")
    ax.legend(loc="upper left", fontsize=8)
    save(fig, "sampling_reconstruction.png")


def aliasing() -> None:
    f, fs = 7.0, 5.0  # a 7 Hz tone sampled at 5 Hz (Nyquist would need fs > 14 Hz)
    apparent = float(aliased_frequency(f, fs))
    t = np.linspace(0, 2, 2001)
    n = np.arange(11)
    ts = n / fs
    y = sinc_interpolate(np.cos(2 * np.pi * f * ts), t, spacing=1 / fs)
    fig, ax = plt.subplots(figsize=(9, 3.4), layout="constrained")
    ax.plot(t, np.cos(2 * np.pi * f * t), color="0.6", lw=2, label=f"tone f = {f:g} Hz")
    ax.plot(t, np.cos(2 * np.pi * apparent * t), "--", color="C1", lw=1.5,
            label=f"alias: aliased_frequency({f:g}, fs={fs:g}) = {apparent:g} Hz")
    ax.plot(t, y, color="C0", lw=1, label="sinc_interpolate of the samples")
    ax.plot(ts, np.cos(2 * np.pi * f * ts), "o", color="C3", ms=5, label=f"samples at fs = {fs:g} Hz")
    ax.set_xlabel("t (s)")
    ax.set_ylim(-1.5, 1.9)
    ax.set_title("Undersampled: the samples fit a slower tone, and reconstruction returns it")
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    save(fig, "sampling_aliasing.png")


def replicas() -> None:
    """|Û_s| = |Σ_n Û(f − n/X)|, computed by cfft of the comb-sampled signal on a fine grid."""
    dt, length = 1 / 64, 512.0  # fine grid standing in for the continuous line
    t = (np.arange(int(length / dt)) - int(length / dt) // 2) * dt
    f = freqs(t.size, dt, centered=True)
    spectrum = np.abs(cfft(signal(t))) * dt
    fig, axes = plt.subplots(2, 1, figsize=(9, 4.6), sharex=True, layout="constrained")
    for ax, fs in zip(axes, (2.5 * B, 1.5 * B)):
        step = round(1 / (fs * dt))
        comb = np.where(np.arange(t.size) % step == t.size // 2 % step, step, 0.0)  # X·comb(x/X) on the grid
        sampled = np.abs(cfft(signal(t) * comb)) * dt
        ax.fill_between(f, sampled, color="C0", alpha=0.35, lw=0, label="|Û_s|: spectrum of the samples")
        for k in range(-3, 4):
            ax.plot(f, np.interp(f - k * fs, f, spectrum), color="C3" if k == 0 else "C1", lw=1,
                    label=("Û(f)" if k == 0 else "copies Û(f − n·fs)") if k in (0, 1) else None)
        ax.axvspan(-fs / 2, fs / 2, color="0.9", zorder=0)
        state = "copies apart: rect(f/2B) recovers Û" if fs > 2 * B else "copies overlap: aliasing"
        ax.set_title(f"fs = {fs / B:g}B ({'>' if fs > 2 * B else '<'} 2B): {state}", fontsize=10)
        ax.set_xlim(-5, 5)
        ax.legend(loc="upper right", fontsize=7)
    axes[-1].set_xlabel("f (Hz); grey band: |f| ≤ fs/2")
    save(fig, "sampling_spectrum.png")


if __name__ == "__main__":
    reconstruction()
    aliasing()
    replicas()
