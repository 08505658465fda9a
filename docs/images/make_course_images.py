"""Make the pictures of docs/course_examples.md (needs matplotlib and Pillow).

Run from anywhere: ``python docs/images/make_course_images.py``.  Every image
is computed with ndconv (filters, plot) on the bundled photograph and on the
course notes' 1-D example x = [3, 1, 2], h = [3, 2, 1].
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ndconv import filters, plot  # noqa: E402
from ndconv.datasets import sample_image  # noqa: E402

HERE = Path(__file__).resolve().parent
X, H = [3, 1, 2], [3, 2, 1]  # the notes' step-by-step example (000, "Discrete convolution")


def save(fig, name: str, dpi: int = 80, *, colours: int | None = None) -> None:
    fig.savefig(HERE / name, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    if colours:  # a palette PNG: a third of the size of RGBA for these pictures
        from PIL import Image

        with Image.open(HERE / name) as im:
            pal = im.convert("RGB").quantize(colours)
        pal.save(HERE / name, optimize=True)
    print(f"wrote {HERE / name} ({(HERE / name).stat().st_size // 1024} KB)")


def photo_filters() -> None:
    """Sobel-x, Sobel-y, gradient magnitude, Prewitt-x and a Gaussian blur of the photograph."""
    img = sample_image()
    gx = filters.sobel(img, axis=1)  # d/dx (along columns): responds to vertical edges
    gy = filters.sobel(img, axis=0)  # d/dy (along rows): responds to horizontal edges
    panels = [
        (img, "photograph", "gray", None),
        (gx, "Sobel-x  sobel(img, axis=1)", "RdBu_r", "sym"),
        (gy, "Sobel-y  sobel(img, axis=0)", "RdBu_r", "sym"),
        (filters.gradient_magnitude(img), "gradient magnitude", "magma", None),
        (filters.prewitt(img, axis=1), "Prewitt-x  prewitt(img, axis=1)", "RdBu_r", "sym"),
        (filters.gaussian(img, 3.0), "Gaussian blur  gaussian(img, 3.0)", "gray", None),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(9.6, 7.4), layout="constrained")
    for ax, (data, title, cmap, scale) in zip(axes.ravel(), panels, strict=True):
        if scale == "sym":
            lim = float(np.percentile(np.abs(data), 99.5))
            ax.imshow(data, cmap=cmap, vmin=-lim, vmax=lim)
        else:
            ax.imshow(data, cmap=cmap)
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.suptitle("ndconv.filters on ndconv.datasets.sample_image() (boundary='reflect')", fontsize=10)
    save(fig, "course_photo_filters.png", dpi=72, colours=128)


def convolution_step() -> None:
    """One output sample, y[2] = 3·1 + 1·2 + 2·3 = 11, of the notes' example."""
    fig, ax = plt.subplots(figsize=(6.4, 3.0), layout="constrained")
    plot.convolution_step(X, H, 2, ax=ax)
    save(fig, "course_convolution_step.png")


def explain_table() -> None:
    """The step-by-step table of the same example, as a figure."""
    fig, ax = plt.subplots(figsize=(6.4, 3.2), layout="constrained")
    plot.explain_table(X, H, ax=ax)
    save(fig, "course_explain_table.png")


if __name__ == "__main__":
    photo_filters()
    convolution_step()
    explain_table()
