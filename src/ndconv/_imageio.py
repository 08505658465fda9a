"""Arrays in and out of files for the command line: ``.npy`` and images (Pillow).

Reading gives the array with the layout NumPy users expect — ``(H, W)`` for a
grey image, ``(H, W, C)`` for colour (channels last, as Pillow, imageio and
scikit-image give them) — and a :class:`Source` that remembers what was read,
so that writing can return to the same pixel type.

Writing is whole or not at all: the data go to a temporary file in the target
folder, which is renamed onto the target only once it is complete.

Pixel types when an image is written (a computed result is floating point):

* the input was an 8- or 16-bit image: rounded and clipped to that type's range
  (JPEG holds 8 bits only: 16-bit values are scaled by 255/65535 first);
* the input was floating point (``.npy``, a float TIFF): a greyscale ``.tif``
  keeps float32; other formats take values in [0, 1] to 0…255, clipped;
* ``rescale=True`` maps the result's min…max onto the full range of the output
  type instead (edge maps have negative values that would otherwise clip to 0).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._errors import check_memory

IMAGE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
                  ".bmp": "BMP"}
SUFFIXES = (".npy", *IMAGE_SUFFIXES)


class FileFormatError(ValueError):
    """A file that cannot be read or written as asked (the command line's exit status 2)."""


@dataclass(frozen=True)
class Source:
    """What was read: ``kind`` 'npy' or 'image', the stored dtype and whether it had channels."""

    kind: str
    dtype: np.dtype
    channels: int        # 0: no channel axis


def _suffix(path: Path, name: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise FileFormatError(f"{name} must end in {', '.join(SUFFIXES)}, got {str(path)!r}")
    return suffix


def check_output(path, name: str = "OUT") -> Path:
    """Validate an output path before any work is done (suffix known, folder exists)."""
    path = Path(path)
    _suffix(path, name)
    if not path.parent.is_dir():
        raise FileFormatError(f"{name}'s folder does not exist: {str(path.parent)!r}")
    if path.is_dir():
        raise FileFormatError(f"{name} must be a file name, got the folder {str(path)!r}")
    return path


def read(path, name: str = "IN") -> tuple[np.ndarray, Source]:
    """Read ``path`` (``.npy`` or an image) → ``(array, Source)``."""
    path = Path(path)
    suffix = _suffix(path, name)
    if not path.is_file():
        raise FileFormatError(f"{name} does not exist: {str(path)!r}")
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise FileFormatError(f"{name} is not a readable .npy file: {str(path)!r} ({exc})") from None
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "biufc":
            raise FileFormatError(f"{name} must hold a numeric array, got dtype {array.dtype} in {str(path)!r}")
        return array, Source("npy", array.dtype, 0)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            samples = width * height * len(image.getbands())
            # the decoded pixels (up to 4 bytes a sample) and numpy's copy of them
            check_memory(f"{name} ({str(path)!r})", (height, width), 2 * 4 * samples, " decoded")
            image.load()
            if image.mode in ("P", "PA", "1", "CMYK", "YCbCr", "LAB", "HSV"):
                image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else
                                      ("L" if image.mode == "1" else "RGB"))
            if image.mode.startswith("I;16"):
                array = np.asarray(image).astype(np.uint16)
            else:
                array = np.array(image)
    except Image.DecompressionBombError as exc:   # raised by Image.open, before the size is known here
        raise FileFormatError(f"{name} is larger than Pillow decodes (its guard against decompression bombs, "
                              f"PIL.Image.MAX_IMAGE_PIXELS): {str(path)!r} ({exc}); save it as .npy to "
                              "filter it") from None
    except MemoryError:   # MemoryLimitError is a ValueError too, but not an unreadable image
        raise
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise FileFormatError(f"{name} is not a readable image: {str(path)!r} ({exc})") from None
    channels = array.shape[2] if array.ndim == 3 else 0
    return array, Source("image", array.dtype, channels)


def _to_pixels(result: np.ndarray, source: Source, fmt: str, rescale: bool) -> np.ndarray:
    """The result as the pixel type written to an image file of format ``fmt``."""
    result = np.asarray(result)
    if result.dtype.kind == "c":
        raise FileFormatError("a complex result can only be written to .npy")
    if result.dtype.kind == "b":
        result = result.astype(np.uint8) * 255
    grey = result.ndim == 2
    if source.dtype.kind in "ui" and np.dtype(source.dtype).itemsize <= 2:
        target = np.dtype(source.dtype) if source.dtype.kind == "u" else np.dtype(np.uint8)
        if fmt in ("JPEG", "BMP") or not grey:
            if target == np.uint16 and not rescale:
                result = result * (255.0 / 65535.0)
            target = np.dtype(np.uint8)
        scale = 1.0
    else:
        if fmt == "TIFF" and grey and not rescale:
            return result.astype(np.float32)
        target, scale = np.dtype(np.uint8), 255.0
    top = float(np.iinfo(target).max)
    values = result.astype(np.float64)
    if rescale:
        lo, hi = np.nanmin(values), np.nanmax(values)
        values = (values - lo) * (top / (hi - lo)) if hi > lo else np.zeros_like(values)
    else:
        values = values * scale
    return np.clip(np.rint(np.nan_to_num(values, nan=0.0)), 0, top).astype(target)


@contextmanager
def replacing(path: Path):
    """Yield a temporary file name beside ``path``; on success it becomes ``path``
    (with the permissions a new file gets), on any error it is removed."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield temporary
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write(path, result: np.ndarray, source: Source, *, rescale: bool = False, name: str = "OUT") -> Path:
    """Write ``result`` to ``path`` whole or not at all (temporary file, then rename)."""
    path = check_output(path, name)
    suffix = path.suffix.lower()
    if suffix != ".npy":
        pixels = _to_pixels(result, source, IMAGE_SUFFIXES[suffix], rescale)
        if pixels.ndim == 3 and pixels.shape[2] not in (3, 4):
            raise FileFormatError(f"an image file holds 1, 3 or 4 channels, got {pixels.shape[2]}; "
                                  f"write {name} as .npy")
        if pixels.ndim not in (2, 3):
            raise FileFormatError(f"an image file holds a 2-D array (or 2-D with channels), got shape "
                                  f"{pixels.shape}; write {name} as .npy")
    with replacing(path) as temporary, open(temporary, "wb") as handle:
        if suffix == ".npy":
            np.save(handle, np.asarray(result), allow_pickle=False)
        else:
            from PIL import Image

            fmt = IMAGE_SUFFIXES[suffix]
            if fmt == "JPEG" and pixels.ndim == 3 and pixels.shape[2] == 4:
                pixels = pixels[..., :3]
            Image.fromarray(pixels).save(handle, format=fmt)
    return path
