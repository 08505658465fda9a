"""The image commands of the command line: ``ndconv filter`` and ``ndconv match``.

A named filter SPEC becomes its kernel — the filter's response to a unit
impulse, i.e. the kernel whose *convolution* with the image is the filter of
:mod:`ndconv.filters` — so every SPEC, named or a ``.npy`` file, runs through
one :func:`ndconv.convolve` call that honours ``--mode``, ``--boundary`` and
``--method``.  With ``--mode same`` (the default) the named filters equal
their :mod:`ndconv.filters` (and ``scipy.ndimage``) namesakes.

Images are ``(H, W)`` or ``(H, W, C)``: the kernel is 2-D and runs over the
rows and columns of each colour channel separately (the channel axis is a
batch axis).  A ``.npy`` array is filtered over all of its axes; ``-x``
filters differentiate along the last axis (columns), ``-y`` along the one
before (rows).
"""

from __future__ import annotations

import re

import numpy as np

from ._errors import check_memory

NAMED = ("gaussian:SIGMA", "sobel-x", "sobel-y", "prewitt-x", "prewitt-y", "laplace", "box:SIZE")


class SpecError(ValueError):
    """A --kernel SPEC that names no filter (the command line's exit status 2)."""


def _spec_error(spec: str) -> SpecError:
    return SpecError(f"--kernel must be {', '.join(NAMED)} or a .npy kernel file, got {spec!r}")


def kernel_for(spec: str, ndim: int, dtype: type = np.float64) -> np.ndarray:
    """The convolution kernel of SPEC over ``ndim`` axes (named filters, in ``dtype``) or the
    .npy file's array (in its own dtype, §2's result type)."""
    from . import _imageio

    spec = spec.strip()
    if spec.lower().endswith(".npy"):
        kernel, _ = _imageio.read(spec, "--kernel")
        if kernel.ndim != ndim:
            raise SpecError(f"--kernel {spec!r} has {kernel.ndim} axes; the input is filtered over {ndim}")
        return kernel
    return _named_kernel(spec, ndim).astype(dtype, copy=False)


def _named_kernel(spec: str, ndim: int) -> np.ndarray:
    from . import filters

    match = re.fullmatch(r"(gaussian|box):(.+)|(sobel|prewitt)-([xy])|(laplace)", spec.lower())
    if match is None:
        raise _spec_error(spec)
    name, value = match.group(1), match.group(2)
    if name == "gaussian":
        try:
            sigma = float(value)
        except ValueError:
            raise _spec_error(spec) from None
        if not np.isfinite(sigma) or sigma <= 0:
            raise SpecError(f"gaussian:SIGMA needs a positive SIGMA, got {value!r}")
        return filters.gaussian_kernel(sigma, ndim=ndim)           # symmetric: its own flip
    if name == "box":
        if not value.isdigit() or int(value) < 1:
            raise SpecError(f"box:SIZE needs a positive integer SIZE, got {value!r}")
        size = int(value)
        check_memory("the box kernel", (size,) * ndim, 8 * size**ndim, f" for {spec}")
        return np.full((size,) * ndim, 1.0 / size**ndim)
    impulse = np.zeros((3,) * ndim)
    impulse[(1,) * ndim] = 1.0
    if match.group(5):
        return filters.laplace(impulse, boundary="constant")
    derivative = filters.sobel if match.group(3) == "sobel" else filters.prewitt
    axis = -1 if match.group(4) == "x" else -2
    if ndim < 2 and axis == -2:
        raise SpecError(f"--kernel {spec} differentiates along rows; the input has one axis (use the -x form)")
    return derivative(impulse, axis=axis, boundary="constant")


def _spatial_axes(array: np.ndarray, source) -> tuple[int, ...]:
    if source.kind == "image":
        return (0, 1)
    return tuple(range(array.ndim))


def run_filter(args) -> int:
    from . import _imageio, convolve
    from .datasets import sample_image_path
    from .filters import _weight_dtype

    if args.sample:
        if len(args.paths) != 1:
            raise SpecError("with --sample give only OUT (the bundled photograph is the input)")
        source_path, out = sample_image_path(), args.paths[0]
    else:
        if len(args.paths) != 2:
            raise SpecError("give IN and OUT (or --sample and OUT)")
        source_path, out = args.paths
    _imageio.check_output(out)
    image, source = _imageio.read(str(source_path))
    if image.size == 0 or image.ndim == 0:
        raise SpecError(f"IN holds an empty array of shape {image.shape}")
    axes = _spatial_axes(image, source)
    data = image.astype(np.float64) if image.dtype.kind in "biu" else image
    # a named filter's weights take the data's precision, as in ndconv.filters
    kernel = kernel_for(args.kernel, len(axes), _weight_dtype(data, False))
    result = convolve(data, kernel, mode=args.mode, boundary=args.boundary, method=args.method,
                      axes=axes if source.kind == "image" else None)
    _imageio.write(out, result, source, rescale=args.rescale)
    print(f"wrote {out}: {result.shape} {result.dtype} ({args.kernel}, mode={args.mode}, "
          f"boundary={args.boundary})")
    return 0


def _grey(image: np.ndarray, source, name: str) -> np.ndarray:
    if source.kind == "image" and image.ndim == 3:
        channels = image[..., :3] if image.shape[2] == 4 else image    # alpha is not brightness
        return channels.astype(np.float64).mean(axis=2)
    if image.ndim != 2:
        raise SpecError(f"{name} must be a 2-D array or image, got shape {image.shape}")
    return image.astype(np.float64)


def run_match(args) -> int:
    from . import _imageio
    from .filters import find_matches, match_template

    if args.plot is not None:
        check_plot_path(args.plot)
    image, image_source = _imageio.read(args.image, "IMAGE")
    template, template_source = _imageio.read(args.template, "TEMPLATE")
    image, template = _grey(image, image_source, "IMAGE"), _grey(template, template_source, "TEMPLATE")
    if any(t > i for t, i in zip(template.shape, image.shape)):
        raise SpecError(f"TEMPLATE {template.shape} must fit inside IMAGE {image.shape}")
    scores = match_template(image, template, method=args.method)
    matches = find_matches(scores, template.shape, args.top, method=args.method)
    print("row  column  score")
    for (row, col), score in zip(matches.positions, matches.scores):
        print(f"{row:>3}  {col:>6}  {score:.6g}")
    if args.plot is not None:
        _save_match_plot(args.plot, image, scores, template.shape, tuple(matches.positions[0]))
    return 0


def _save_match_plot(path, image, scores, template_shape, best) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from . import plot

    left, _ = plot.match_map(image, scores, template_shape=template_shape, top_left=best)
    save_figure(path, left.figure)


PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def check_plot_path(path) -> None:
    """Refuse a --plot PATH that cannot be written, before any work is done."""
    from pathlib import Path

    from ._imageio import FileFormatError

    path = Path(path)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise FileFormatError(f"--plot must end in {', '.join(PLOT_SUFFIXES)}, got {str(path)!r}")
    if not path.parent.is_dir():
        raise FileFormatError(f"--plot's folder does not exist: {str(path.parent)!r}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise FileFormatError('--plot needs matplotlib: pip install "ndconv[plot]"') from None


def save_figure(path, figure) -> None:
    """Save a matplotlib figure whole or not at all (temporary file, then rename)."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    from ._imageio import replacing

    path = Path(path)
    try:
        with replacing(path) as temporary:
            figure.savefig(temporary, dpi=90, bbox_inches="tight", format=path.suffix.lower()[1:])
    finally:
        plt.close(figure)
    print(f"wrote {path}")
