"""``ndconv filter``, ``ndconv match`` and ``ndconv explain --plot`` (§8): the files
they write equal the library's results; user errors leave no file behind."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi

import ndconv
from ndconv import cli, filters
from ndconv.datasets import sample_image

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


def read_png(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def main(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def grey_png(tmp_path):
    rng = np.random.default_rng(1)
    pixels = ndi.gaussian_filter(rng.integers(0, 256, (40, 50)).astype(float), 1.5)
    pixels = np.clip(np.rint((pixels - pixels.min()) * 255 / np.ptp(pixels)), 0, 255).astype(np.uint8)
    path = tmp_path / "grey.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


@pytest.mark.parametrize("spec, reference", [
    ("sobel-x", lambda a: ndi.sobel(a, axis=1, mode="mirror")),
    ("sobel-y", lambda a: ndi.sobel(a, axis=0, mode="mirror")),
    ("prewitt-x", lambda a: ndi.prewitt(a, axis=1, mode="mirror")),
    ("prewitt-y", lambda a: ndi.prewitt(a, axis=0, mode="mirror")),
    ("laplace", lambda a: ndi.laplace(a, mode="mirror")),
    ("box:4", lambda a: ndi.uniform_filter(a, 4, mode="mirror")),
    ("gaussian:1.5", lambda a: ndi.gaussian_filter(a, 1.5, mode="mirror")),
])
def test_named_filters_equal_scipy_ndimage(capsys, tmp_path, grey_png, spec, reference):
    path, pixels = grey_png
    code, out, err = main(capsys, "filter", path, tmp_path / "out.npy", "--kernel", spec)
    assert (code, err) == (0, "")
    assert out.startswith(f"wrote {tmp_path / 'out.npy'}: (40, 50) float64")
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), reference(pixels.astype(float)), atol=1e-9)


def test_named_filters_equal_ndconv_filters_on_npy_volumes(capsys, tmp_path):
    x = np.random.default_rng(2).standard_normal((6, 7, 8))
    np.save(tmp_path / "x.npy", x)
    for spec, expected in [("sobel-x", filters.sobel(x, axis=-1)), ("sobel-y", filters.sobel(x, axis=-2)),
                           ("gaussian:1", filters.gaussian(x, 1.0)), ("laplace", filters.laplace(x))]:
        assert main(capsys, "filter", tmp_path / "x.npy", tmp_path / "y.npy", "--kernel", spec)[0] == 0
        np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-12)


def test_named_filters_keep_float32_data_in_float32(capsys, tmp_path):
    """A named filter's weights take the data's precision, as in ndconv.filters (they were
    float64, so a float32 .npy came back as float64); a kernel file keeps its own dtype."""
    x = np.random.default_rng(3).standard_normal((30, 20)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    for spec, expected in [("gaussian:1.5", filters.gaussian(x, 1.5)), ("box:3", filters.box(x, 3)),
                           ("sobel-x", filters.sobel(x, axis=-1)), ("laplace", filters.laplace(x))]:
        code, out, _ = main(capsys, "filter", tmp_path / "x.npy", tmp_path / "y.npy", "--kernel", spec)
        assert code == 0 and "float32" in out
        y = np.load(tmp_path / "y.npy")
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    np.save(tmp_path / "k.npy", np.ones((3, 3)) / 9)
    assert main(capsys, "filter", tmp_path / "x.npy", tmp_path / "z.npy", "--kernel", tmp_path / "k.npy")[0] == 0
    assert np.load(tmp_path / "z.npy").dtype == np.float64


def test_image_output_keeps_the_pixel_type(capsys, tmp_path, grey_png):
    path, pixels = grey_png
    assert main(capsys, "filter", path, tmp_path / "g.png", "--kernel", "gaussian:2")[0] == 0
    written = read_png(tmp_path / "g.png")
    expected = np.clip(np.rint(ndi.gaussian_filter(pixels.astype(float), 2.0, mode="mirror")), 0, 255)
    assert written.dtype == np.uint8
    np.testing.assert_array_equal(written, expected)
    assert main(capsys, "filter", path, tmp_path / "e.png", "--kernel", "sobel-x", "--rescale")[0] == 0
    edges = read_png(tmp_path / "e.png")
    assert edges.min() == 0 and edges.max() == 255


def test_sixteen_bit_png_stays_sixteen_bit(capsys, tmp_path):
    pixels = (np.arange(30 * 20).reshape(30, 20) * 100).astype(np.uint16)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    assert main(capsys, "filter", tmp_path / "a.png", tmp_path / "b.png", "--kernel", "box:3")[0] == 0
    back = read_png(tmp_path / "b.png")
    assert back.dtype in (np.uint16, np.int32)            # Pillow reads 16-bit PNGs as I;16 or I
    np.testing.assert_array_equal(back, np.clip(np.rint(ndi.uniform_filter(pixels.astype(float), 3,
                                                                            mode="mirror")), 0, 65535))


def test_colour_images_are_filtered_per_channel(capsys, tmp_path):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "c.png")
    assert main(capsys, "filter", tmp_path / "c.png", tmp_path / "c.npy", "--kernel", "gaussian:1")[0] == 0
    result = np.load(tmp_path / "c.npy")
    assert result.shape == (20, 24, 3)
    for c in range(3):
        np.testing.assert_allclose(result[..., c], filters.gaussian(pixels[..., c].astype(float), 1.0), atol=1e-9)


def test_npy_kernel_is_convolved_with_mode_boundary_and_method(capsys, tmp_path):
    rng = np.random.default_rng(4)
    x, k = rng.standard_normal((30, 31)), rng.standard_normal((4, 5))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "k.npy", k)
    for mode, boundary, method in [("full", "constant", "fft"), ("valid", "wrap", "direct"),
                                   ("same", "symmetric", "auto")]:
        code, _, err = main(capsys, "filter", tmp_path / "x.npy", tmp_path / "y.npy", "--kernel", tmp_path / "k.npy",
                            "--mode", mode, "--boundary", boundary, "--method", method)
        assert (code, err) == (0, "")
        np.testing.assert_allclose(np.load(tmp_path / "y.npy"), ndconv.convolve(x, k, mode, boundary), atol=1e-10)


def test_sample_photograph(capsys, tmp_path):
    code, out, _ = main(capsys, "filter", "--sample", tmp_path / "s.npy", "--kernel", "sobel-y")
    assert code == 0
    np.testing.assert_allclose(np.load(tmp_path / "s.npy"),
                               filters.sobel(sample_image(np.uint8).astype(float), axis=0), atol=1e-9)


@pytest.mark.parametrize("args, message", [
    (["IN", "OUT.png", "--kernel", "sobel"], "--kernel must be gaussian:SIGMA, sobel-x"),
    (["IN", "OUT.png", "--kernel", "gaussian:-1"], "gaussian:SIGMA needs a positive SIGMA"),
    (["IN", "OUT.png", "--kernel", "box:0"], "box:SIZE needs a positive integer SIZE"),
    (["IN", "OUT.png", "--kernel", "box:1000000000000"], "the box kernel has shape (1000000000000, 1000000000000)"),
    (["IN", "OUT.png", "--kernel", "gaussian:1e12"], "the Gaussian kernel has shape (8000000000001,)"),
    (["IN", "OUT.png", "--kernel", "gaussian:1", "--boundary", "mirror2"], "boundary must be"),
    (["IN", "OUT.png", "--kernel", "gaussian:1", "--method", "magic"], "method must be"),
    (["IN", "OUT.gif", "--kernel", "gaussian:1"], "OUT must end in .npy, .png"),
    (["missing.png", "OUT.png", "--kernel", "gaussian:1"], "IN does not exist"),
    (["IN", "nofolder/OUT.png", "--kernel", "gaussian:1"], "OUT's folder does not exist"),
    (["IN", "OUT.png", "--kernel", "k3d.npy"], "has 3 axes; the input is filtered over 2"),
    (["IN", "OUT.png", "--kernel", "notakernel.npy"], "--kernel does not exist"),
    (["--sample", "IN", "OUT.png", "--kernel", "laplace"], "with --sample give only OUT"),
    (["OUT.png", "--kernel", "laplace"], "give IN and OUT"),
])
def test_filter_user_errors_leave_no_file(capsys, tmp_path, grey_png, monkeypatch, args, message):
    path, _ = grey_png
    np.save(tmp_path / "k3d.npy", np.ones((2, 2, 2)))
    monkeypatch.chdir(tmp_path)
    args = [str(path) if a == "IN" else a for a in args]
    before = set(tmp_path.iterdir())
    code, out, err = main(capsys, "filter", *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert set(tmp_path.iterdir()) == before


def test_explain_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    code, out, _ = main(capsys, "explain", "3,1,2", "3,2,1", "--plot", tmp_path / "e.png")
    assert code == 0 and out.endswith(f"wrote {tmp_path / 'e.png'}\n")
    assert read_png(tmp_path / "e.png").shape[1] > 100
    code, _, err = main(capsys, "explain", "3,1,2", "3,2,1", "--plot", tmp_path / "e.npy")
    assert code == 2 and "--plot must end in .png" in err
    assert not (tmp_path / "e.npy").exists()


def test_filter_subprocess(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ndconv", "filter", "--sample", str(tmp_path / "g.jpg"),
                           "--kernel", "gaussian:2"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert read_png(tmp_path / "g.jpg").shape == (300, 256)
    proc = subprocess.run([sys.executable, "-m", "ndconv", "filter", "--sample", str(tmp_path / "h.png"),
                           "--kernel", "blur"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "h.png").exists()


@pytest.fixture
def planted(tmp_path):
    rng = np.random.default_rng(5)
    image = rng.standard_normal((60, 70))
    template = image[22:34, 41:50].copy()
    np.save(tmp_path / "image.npy", image)
    np.save(tmp_path / "template.npy", template)
    return tmp_path / "image.npy", tmp_path / "template.npy", image, template


@pytest.mark.parametrize("method", ["zncc", "ncc", "sqdiff"])
def test_match_finds_the_planted_template(capsys, planted, method):
    image_path, template_path, image, template = planted
    code, out, err = main(capsys, "match", image_path, template_path, "--method", method)
    assert (code, err) == (0, "")
    header, best = out.splitlines()
    assert header.split() == ["row", "column", "score"]
    row, col, score = best.split()
    assert (int(row), int(col)) == (22, 41)
    expected = filters.match_template(image, template, method=method)[22, 41]
    assert float(score) == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_match_top_k_and_plot(capsys, planted, tmp_path):
    pytest.importorskip("matplotlib")
    image_path, template_path, image, template = planted
    code, out, _ = main(capsys, "match", image_path, template_path, "--top", "3", "--plot", tmp_path / "m.png")
    assert code == 0
    rows = [line.split() for line in out.splitlines()[1:4]]
    assert [(int(r), int(c)) for r, c, _ in rows][0] == (22, 41)
    scores = [float(s) for _, _, s in rows]
    assert scores == sorted(scores, reverse=True)
    assert out.splitlines()[-1] == f"wrote {tmp_path / 'm.png'}"
    assert read_png(tmp_path / "m.png").shape[1] > 300


def test_match_reads_colour_images_as_grey(capsys, tmp_path):
    rng = np.random.default_rng(6)
    colour = rng.integers(0, 256, (40, 45, 3), dtype=np.uint8)
    Image.fromarray(colour).save(tmp_path / "c.png")
    Image.fromarray(colour[10:20, 5:17]).save(tmp_path / "t.png")
    code, out, _ = main(capsys, "match", tmp_path / "c.png", tmp_path / "t.png")
    assert code == 0 and out.splitlines()[1].split()[:2] == ["10", "5"]


@pytest.mark.parametrize("args, message", [
    (["big.npy", "image.npy"], "TEMPLATE (60, 70) must fit inside IMAGE (12, 9)"),
    (["image.npy", "vol.npy"], "TEMPLATE must be a 2-D array or image"),
    (["image.npy", "missing.npy"], "TEMPLATE does not exist"),
    (["image.npy", "template.npy", "--plot", "m.txt"], "--plot must end in"),
    (["image.npy", "template.npy", "--method", "pearson"], "invalid choice"),
    (["image.npy", "template.npy", "--top", "0"], "must be a positive integer"),
])
def test_match_user_errors(capsys, planted, tmp_path, monkeypatch, args, message):
    image_path, template_path, image, template = planted
    np.save(tmp_path / "big.npy", template)
    np.save(tmp_path / "vol.npy", np.ones((2, 2, 2)))
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.iterdir())
    code, out, err = main(capsys, "match", *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert set(tmp_path.iterdir()) == before


def test_decompression_bomb_is_one_line_and_status_2(capsys, tmp_path):
    from test_imageio import _png

    (tmp_path / "bomb.png").write_bytes(_png(60000, 60000, b"\x00" * 60001 * 4))
    for args in (("filter", tmp_path / "bomb.png", tmp_path / "out.npy", "--kernel", "box:3"),
                 ("match", tmp_path / "bomb.png", tmp_path / "bomb.png")):
        code, out, err = main(capsys, *args)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
        assert "larger than Pillow decodes" in err
    assert not (tmp_path / "out.npy").exists()
