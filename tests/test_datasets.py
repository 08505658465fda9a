"""ndconv.datasets: the bundled digits and the MNIST IDX reader."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

from ndconv.datasets import MNIST_FILES, load_digits, load_mnist


def test_digits_shapes_dtypes_and_range():
    (X_train, y_train), (X_test, y_test) = load_digits()
    assert X_train.shape == (1438, 1, 8, 8) and X_test.shape == (359, 1, 8, 8)
    assert X_train.dtype == X_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    for X in (X_train, X_test):
        assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y_train)) == set(np.unique(y_test)) == set(range(10))


def test_digits_are_the_uci_images_split_by_class():
    sklearn = pytest.importorskip("sklearn.datasets")
    data = sklearn.load_digits()
    (X_train, y_train), (X_test, y_test) = load_digits()
    images = np.concatenate([X_train, X_test])[:, 0] * 16
    labels = np.concatenate([y_train, y_test])
    # the same 1,797 images, each once (compare as sorted byte strings)
    ours = sorted(im.astype(np.uint8).tobytes() + bytes([lab]) for im, lab in zip(images, labels))
    theirs = sorted(im.astype(np.uint8).tobytes() + bytes([lab]) for im, lab in zip(data.images, data.target))
    assert ours == theirs
    # stratified: every class keeps about a fifth for testing
    for digit in range(10):
        share = (y_test == digit).sum() / ((y_test == digit).sum() + (y_train == digit).sum())
        assert abs(share - 0.2) < 0.01


def test_digits_split_is_fixed():
    (a, _), (b, _) = load_digits()
    (c, _), (d, _) = load_digits()
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(b, d)


def _idx(magic: int, shape: tuple[int, ...], data: np.ndarray) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in shape)
    return header + np.asarray(data, dtype=np.uint8).tobytes()


def _write_mnist(directory, n_train=5, n_test=3, gz=False, **overrides):
    rng = np.random.default_rng(0)
    content = {
        "train_images": _idx(2051, (n_train, 28, 28), rng.integers(0, 256, (n_train, 28, 28))),
        "train_labels": _idx(2049, (n_train,), rng.integers(0, 10, n_train)),
        "test_images": _idx(2051, (n_test, 28, 28), rng.integers(0, 256, (n_test, 28, 28))),
        "test_labels": _idx(2049, (n_test,), rng.integers(0, 10, n_test)),
    }
    content.update(overrides)
    for key, raw in content.items():
        if raw is None:
            continue
        name = MNIST_FILES[key]
        if gz:
            with gzip.open(directory / (name + ".gz"), "wb") as handle:
                handle.write(raw)
        else:
            (directory / name).write_bytes(raw)
    return content


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_plain_and_gzip(tmp_path, gz):
    content = _write_mnist(tmp_path, gz=gz)
    (X_train, y_train), (X_test, y_test) = load_mnist(tmp_path)
    assert X_train.shape == (5, 1, 28, 28) and X_test.shape == (3, 1, 28, 28)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    raw = np.frombuffer(content["train_images"], dtype=np.uint8, offset=16).reshape(5, 28, 28)
    np.testing.assert_array_equal(X_train[:, 0], raw.astype(np.float32) / 255)
    np.testing.assert_array_equal(y_test, np.frombuffer(content["test_labels"], np.uint8, offset=8))
    assert 0 <= X_test.min() and X_test.max() <= 1


def test_mnist_missing_directory_and_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="needs a directory holding the MNIST files"):
        load_mnist(tmp_path / "nowhere")
    _write_mnist(tmp_path, test_labels=None)
    expected = "needs t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz)"
    with pytest.raises(FileNotFoundError, match=re.escape(expected)):
        load_mnist(tmp_path)


@pytest.mark.parametrize("key, raw, message", [
    ("train_images", _idx(2049, (5, 28, 28), np.zeros((5, 28, 28))), "has magic number 2049, expected 2051"),
    ("train_labels", _idx(2051, (5,), np.zeros(5)), "has magic number 2051, expected 2049"),
    ("train_images", _idx(2051, (5, 28, 28), np.zeros((4, 28, 28))), r"declares shape \(5, 28, 28\)"),
    ("train_images", b"\x00\x00", "shorter than its 16-byte header"),
    ("train_labels", _idx(2049, (4,), np.zeros(4)), "holds 5 images but"),
    ("test_labels", _idx(2049, (3,), [1, 2, 12]), "holds label 12, expected digits 0-9"),
])
def test_mnist_bad_files_name_the_file(tmp_path, key, raw, message):
    _write_mnist(tmp_path, **{key: raw})
    with pytest.raises(ValueError, match=message) as info:
        load_mnist(tmp_path)
    assert MNIST_FILES[key] in str(info.value) or "images but" in message


def test_mnist_corrupt_gzip_is_a_value_error(tmp_path):
    _write_mnist(tmp_path, gz=True)
    (tmp_path / (MNIST_FILES["test_images"] + ".gz")).write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="could not be read as an IDX file"):
        load_mnist(tmp_path)
