"""The bundled sample photograph (public domain), for examples that need a real image."""

from __future__ import annotations

from importlib import resources

import numpy as np

SAMPLE_IMAGE = "hopper.png"


def sample_image_path():
    """Path of the bundled sample image (a ``Traversable``; ``str()`` it for a file name)."""
    return resources.files(__package__).joinpath("data", SAMPLE_IMAGE)


def sample_image(dtype=np.float64) -> np.ndarray:
    """The bundled photograph: Grace Hopper's 1984 U.S. Navy portrait, 300×256 greyscale.

    A public-domain work of the U.S. Navy (attribution in
    ``ndconv/datasets/data/ATTRIBUTION.txt``), shipped so that examples and
    ``ndconv filter --sample`` work offline.  Needs Pillow.

    Parameters
    ----------
    dtype : dtype, optional
        ``uint8`` gives the stored 8-bit values; a float dtype (default
        float64) scales them to [0, 1].

    Examples
    --------
    >>> from ndconv.datasets import sample_image
    >>> img = sample_image()
    >>> img.shape, img.dtype, float(img.min()) >= 0.0, float(img.max()) <= 1.0
    ((300, 256), dtype('float64'), True, True)
    >>> sample_image(np.uint8).dtype
    dtype('uint8')
    """
    from PIL import Image

    from .._errors import bad_value

    dtype = np.dtype(dtype)
    if dtype != np.uint8 and dtype.kind != "f":
        raise bad_value("dtype", dtype, "uint8 or a floating dtype")
    with resources.as_file(sample_image_path()) as path, Image.open(path) as image:
        pixels = np.asarray(image.convert("L"))
    return pixels.copy() if dtype == np.uint8 else (pixels / 255.0).astype(dtype)
