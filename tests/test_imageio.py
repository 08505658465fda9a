"""Files in and out for the command line: pixel types kept, writes whole or not at all."""

from __future__ import annotations

import numpy as np
import pytest

from ndconv import _imageio as io
from ndconv.datasets import sample_image

PIL = pytest.importorskip("PIL")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp"])
def test_uint8_grey_round_trip(tmp_path, rng, suffix):
    pixels = rng.integers(0, 256, (7, 9), dtype=np.uint8)
    src = io.Source("image", np.dtype(np.uint8), 0)
    io.write(tmp_path / f"a{suffix}", pixels.astype(float), src)
    back, info = io.read(tmp_path / f"a{suffix}")
    np.testing.assert_array_equal(back, pixels)
    assert info == io.Source("image", np.dtype(np.uint8), 0)


def test_uint16_png_round_trip_keeps_16_bits(tmp_path, rng):
    pixels = rng.integers(0, 65536, (5, 6), dtype=np.uint16)
    io.write(tmp_path / "a.png", pixels.astype(float), io.Source("image", np.dtype(np.uint16), 0))
    back, info = io.read(tmp_path / "a.png")
    assert back.dtype == np.uint16 and info.dtype == np.uint16
    np.testing.assert_array_equal(back, pixels)


def test_colour_round_trip_channels_last(tmp_path, rng):
    pixels = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    io.write(tmp_path / "c.png", pixels, io.Source("image", np.dtype(np.uint8), 3))
    back, info = io.read(tmp_path / "c.png")
    np.testing.assert_array_equal(back, pixels)
    assert info.channels == 3


def test_float_results_clip_round_and_rescale(tmp_path):
    src = io.Source("image", np.dtype(np.uint8), 0)
    io.write(tmp_path / "a.png", np.array([[-5.0, 3.4, 3.6, 300.0]]), src)
    np.testing.assert_array_equal(io.read(tmp_path / "a.png")[0], [[0, 3, 4, 255]])
    io.write(tmp_path / "b.png", np.array([[-1.0, 0.0, 1.0]]), src, rescale=True)
    np.testing.assert_array_equal(io.read(tmp_path / "b.png")[0], [[0, 128, 255]])
    flat = io.Source("npy", np.dtype(np.float64), 0)
    io.write(tmp_path / "c.png", np.array([[0.0, 0.5, 1.0, 2.0]]), flat)        # [0, 1] → 0…255
    np.testing.assert_array_equal(io.read(tmp_path / "c.png")[0], [[0, 128, 255, 255]])
    io.write(tmp_path / "d.tif", np.array([[-0.25, 0.5]]), flat)                 # float TIFF keeps values
    back, info = io.read(tmp_path / "d.tif")
    assert back.dtype == np.float32 and info.dtype == np.float32
    np.testing.assert_array_equal(back, [[-0.25, 0.5]])


def test_npy_round_trip_keeps_everything(tmp_path, rng):
    x = rng.standard_normal((3, 4, 5)) + 1j
    io.write(tmp_path / "x.npy", x, io.Source("npy", x.dtype, 0))
    back, info = io.read(tmp_path / "x.npy")
    np.testing.assert_array_equal(back, x)
    assert info.kind == "npy"


def test_failed_write_leaves_nothing_behind(tmp_path):
    src = io.Source("image", np.dtype(np.uint8), 0)
    with pytest.raises(io.FileFormatError, match="complex"):
        io.write(tmp_path / "a.png", np.ones((2, 2), complex), src)
    with pytest.raises(io.FileFormatError, match="channels"):
        io.write(tmp_path / "a.png", np.ones((2, 2, 5)), src)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_removes_the_temporary_file(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        io.write(tmp_path / "x.npy", np.ones(3), io.Source("npy", np.dtype(float), 0))
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_is_replaced_only_when_complete(tmp_path):
    target = tmp_path / "x.npy"
    np.save(target, np.zeros(2))
    with pytest.raises(io.FileFormatError):
        io.write(target.with_suffix(".png"), np.ones((2, 2), complex), io.Source("npy", np.dtype(complex), 0))
    np.testing.assert_array_equal(np.load(target), np.zeros(2))


@pytest.mark.parametrize("name, message", [
    ("x.gif", "must end in"), ("missing.png", "does not exist"), ("bad.png", "not a readable image"),
    ("bad.npy", "not a readable .npy"), ("obj.npy", "not a readable .npy"),
])
def test_unreadable_inputs_are_named(tmp_path, name, message):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    np.save(tmp_path / "obj.npy", np.array([{}], dtype=object), allow_pickle=True)
    (tmp_path / "x.gif").write_bytes(b"")
    with pytest.raises(io.FileFormatError, match=message) as info:
        io.read(tmp_path / name)
    assert name in str(info.value)


def test_output_checks(tmp_path):
    with pytest.raises(io.FileFormatError, match="folder does not exist"):
        io.check_output(tmp_path / "no" / "x.png")
    with pytest.raises(io.FileFormatError, match="must end in"):
        io.check_output(tmp_path / "x.txt")


def test_sample_image_is_the_bundled_photograph():
    img = sample_image(np.uint8)
    assert img.shape == (300, 256) and img.dtype == np.uint8
    assert 60 < img.mean() < 200 and img.std() > 30           # a real photograph, not a blank
    np.testing.assert_allclose(sample_image(np.float32), img / 255.0, atol=1e-7)
    with pytest.raises(ValueError, match="dtype"):
        sample_image(np.int32)


def _png(width: int, height: int, rows: bytes) -> bytes:
    """A grey 8-bit PNG whose header claims ``width × height`` but carries only ``rows``."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def test_decompression_bomb_is_a_file_format_error(tmp_path):
    """A 2 KB file claiming 60000² pixels: Pillow refuses it with DecompressionBombError, which
    reached the command line as a traceback; it is now a one-line FileFormatError."""
    (tmp_path / "bomb.png").write_bytes(_png(60000, 60000, b"\x00" * 60001 * 4))
    with pytest.raises(io.FileFormatError, match=r"IN is larger than Pillow decodes .*'.*bomb\.png'.*3600000000 "
                                                 r"pixels.*save it as \.npy"):
        io.read(tmp_path / "bomb.png")


def test_images_beyond_memory_are_refused_before_decoding(tmp_path, monkeypatch):
    import ndconv._errors
    from ndconv._errors import MemoryLimitError

    io.write(tmp_path / "a.png", np.zeros((64, 64, 4), np.uint8), io.Source("image", np.dtype(np.uint8), 4))
    monkeypatch.setattr(ndconv._errors, "available_bytes", lambda need=0: 100 * 2**10)
    with pytest.raises(MemoryLimitError, match=r"IN \('.*a\.png'\) has shape \(64, 64\) and needs 128\.0 KiB "
                                               r"decoded, more than the 100\.0 KiB"):
        io.read(tmp_path / "a.png")
    monkeypatch.setattr(ndconv._errors, "available_bytes", lambda need=0: 200 * 2**10)
    assert io.read(tmp_path / "a.png")[0].shape == (64, 64, 4)
