"""A reader of the four standard MNIST files (IDX format, plain or gzip)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

#: the files load_mnist reads (each may also end in .gz)
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IMAGES_MAGIC = 2051  # unsigned bytes, 3 dimensions
_LABELS_MAGIC = 2049  # unsigned bytes, 1 dimension


def _find(directory: Path, name: str) -> Path:
    for candidate in (directory / name, directory / (name + ".gz")):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"load_mnist needs {name} (or {name}.gz) in {str(directory)!r}; "
                            f"expected files: {', '.join(MNIST_FILES.values())}")


def _read(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            return handle.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"{str(path)!r} could not be read as an IDX file: {exc}") from exc


def _idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    raw = _read(path)
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{str(path)!r} is not an IDX file: {len(raw)} bytes, shorter than its {header}-byte header")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise ValueError(f"{str(path)!r} has magic number {found}, expected {magic} "
                         f"(IDX unsigned bytes with {ndim} dimension{'s' if ndim > 1 else ''})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != size:
        raise ValueError(f"{str(path)!r} declares shape {shape} ({size} values) but holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _pair(directory: Path, images_name: str, labels_name: str):
    images_path, labels_path = _find(directory, images_name), _find(directory, labels_name)
    images = _idx(images_path, _IMAGES_MAGIC, 3)
    labels = _idx(labels_path, _LABELS_MAGIC, 1)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{str(images_path)!r} holds {images.shape[0]} images but {str(labels_path)!r} "
                         f"holds {labels.shape[0]} labels")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{str(labels_path)!r} holds label {int(labels.max())}, expected digits 0-9")
    return (images.astype(np.float32) / 255.0)[:, None, :, :], labels.astype(np.int64)


def load_mnist(directory):
    """MNIST from its four standard IDX files in ``directory`` (plain or ``.gz``).

    Returns
    -------
    (X_train, y_train), (X_test, y_test)
        ``X`` float32 ``(n, 1, 28, 28)`` scaled to [0, 1], ``y`` int64.

    Raises
    ------
    FileNotFoundError
        A file is missing (the message lists the expected names).
    ValueError
        A file is not IDX data of the right kind: wrong magic number, a size
        that does not match its header, image and label counts that differ,
        or labels outside 0–9 (the message names the file).

    Examples
    --------
    >>> import tempfile
    >>> from ndconv.datasets import load_mnist
    >>> load_mnist(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: load_mnist needs train-images-idx3-ubyte (or train-images-idx3-ubyte.gz) in ...
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"load_mnist needs a directory holding the MNIST files, got {str(directory)!r}")
    train = _pair(directory, MNIST_FILES["train_images"], MNIST_FILES["train_labels"])
    test = _pair(directory, MNIST_FILES["test_images"], MNIST_FILES["test_labels"])
    return train, test
