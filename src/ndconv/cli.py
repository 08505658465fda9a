"""The ``ndconv`` command line.

Every user error prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence


class UsageError(Exception):
    """A mistake in what the user typed (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # "-1,2" and "-.5,3" are lists of numbers, not options
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message: str):  # one line, exit 2
        raise UsageError(f"{self.prog}: {message}")


def _numbers(text: str, name: str):
    import numpy as np

    items = text.replace(" ", "").split(",")
    if len(items) > 1 and items[-1] == "":   # one trailing comma, as Python lists are often pasted
        items.pop()
    if len(items) > 1 and "" in items:       # "1,,2" is not read as [1, 2]
        raise UsageError(f"{name} must be comma-separated numbers without empty items, got {text!r}")
    try:
        values = [float(v) for v in items if v != ""]
    except ValueError:
        raise UsageError(f"{name} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise UsageError(f"{name} must be comma-separated numbers, got {text!r}")
    arr = np.asarray(values)
    return arr.astype(np.int64) if np.all(arr == np.round(arr)) and np.all(np.abs(arr) < 2**53) else arr


def _cmd_info(args) -> int:
    from . import _info

    print(_info.report())
    return 0


def _cmd_explain(args) -> int:
    from .explain import explain

    x = _numbers(args.x, "X")
    h = _numbers(args.h, "H")
    if args.plot is not None:
        from ._cli_images import check_plot_path

        check_plot_path(args.plot)
    table = explain(x, h, mode=args.mode, correlate=args.correlate)
    print(table)
    if args.plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        from . import plot
        from ._cli_images import save_figure

        ax = plot.explain_table(x, h, mode=args.mode, correlate=args.correlate)
        lines = table.splitlines()
        rows, columns = len(lines), len(lines[0].split())
        ax.figure.set_size_inches(1.2 + 0.45 * columns, 0.6 + 0.3 * rows)
        save_figure(args.plot, ax.figure)
    return 0


def _cmd_filter(args) -> int:
    from ._cli_images import run_filter

    return run_filter(args)


def _cmd_match(args) -> int:
    from ._cli_images import run_match

    return run_match(args)


def _cmd_bench(args) -> int:
    from . import bench

    return bench.main(quick=args.quick, calibrate=args.calibrate)


_KERNEL_MODELS = ("free", "symmetric", "antisymmetric", "mmatrix", "separable")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _cmd_train(args) -> int:
    from . import nn, param
    from .datasets import load_digits, load_mnist

    if args.mnist is not None:
        (X_train, y_train), (X_test, y_test) = load_mnist(args.mnist)
        source = f"MNIST from {args.mnist}"
    else:
        (X_train, y_train), (X_test, y_test) = load_digits()
        source = "the UCI handwritten digits (bundled)"
    models = {"free": None, "symmetric": param.SymmetricStencil, "antisymmetric": param.AntisymmetricStencil,
              "mmatrix": param.MMatrixStencil, "separable": param.SeparableStencil}
    model = nn.lenet(X_train.shape[1], 10, X_train.shape[2:], seed=args.seed,
                     kernel_model=models[args.kernel_model])
    count = nn.count_parameters(model)
    print(f"data: {source}: {len(y_train)} training and {len(y_test)} test images of {X_train.shape[2:]}")
    print(f"model: LeNet-style CNN, {args.kernel_model} kernels, {count:,} parameters")
    optimizer = nn.Adam(model, lr=args.lr)
    for epoch in range(args.epochs):
        history = nn.fit(model, X_train, y_train, epochs=1, batch_size=args.batch_size, optimizer=optimizer,
                         validation=(X_test, y_test), progress=sys.stderr.isatty(), seed=args.seed + epoch)
        print(f"epoch {epoch + 1:>3}/{args.epochs}: loss {history.loss[0]:.4f}  "
              f"train accuracy {history.accuracy[0]:.4f}  test accuracy {history.val_accuracy[0]:.4f}")
    if args.save is not None:
        print(f"saved: {model.save(args.save)}")
    print(f"test accuracy: {nn.evaluate(model, X_test, y_test):.4f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ndconv", description="Discrete convolution: exact, fast, differentiable.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    info = sub.add_parser("info", help="version, threads and available engines")
    info.set_defaults(func=_cmd_info)

    explain = sub.add_parser("explain", help="step-by-step table of a 1-D convolution",
                             description="Print the step-by-step table of y = x * h "
                                         "(X and H are comma-separated numbers, e.g. 3,1,2).")
    explain.add_argument("x", metavar="X", help="input samples, e.g. 3,1,2")
    explain.add_argument("h", metavar="H", help="kernel taps, e.g. 3,2,1")
    explain.add_argument("--mode", choices=("full", "same", "valid"), default="full")
    explain.add_argument("--correlate", action="store_true", help="cross-correlation instead")
    explain.add_argument("--plot", metavar="PATH", help="also draw the table as a figure (.png, .pdf, .svg)")
    explain.set_defaults(func=_cmd_explain)

    filt = sub.add_parser(
        "filter", help="filter an image or .npy array with a named or .npy kernel",
        usage="ndconv filter [-h] IN OUT --kernel SPEC [options]\n       ndconv filter --sample OUT --kernel SPEC "
              "[options]",
        description="Convolve IN (.npy, PNG, JPEG, TIFF, BMP) with a kernel and write OUT, whole or not at all. "
                    "SPEC: gaussian:SIGMA, sobel-x, sobel-y, prewitt-x, prewitt-y, laplace, box:SIZE (the filters "
                    "of ndconv.filters, equal to scipy.ndimage's) or a .npy kernel file (convolved, i.e. flipped). "
                    "Colour images are filtered per channel. An image OUT keeps an 8/16-bit input's pixel type "
                    "(rounded, clipped; --rescale stretches min..max instead); .npy keeps the float result.")
    filt.add_argument("paths", nargs="+", metavar="IN OUT", help="input and output files")
    filt.add_argument("--kernel", required=True, metavar="SPEC", help="the filter (see above)")
    filt.add_argument("--boundary", default="reflect", metavar="B",
                      help="constant, reflect (default, as ndconv.filters), symmetric, wrap, edge")
    filt.add_argument("--mode", choices=("full", "same", "valid"), default="same")
    filt.add_argument("--method", default="auto", metavar="M",
                      help="auto (default), direct, fft, overlap_add, separable")
    filt.add_argument("--rescale", action="store_true",
                      help="map the result's min..max onto the output image's full range")
    filt.add_argument("--sample", action="store_true",
                      help="use the bundled photograph (Grace Hopper, public domain) as IN")
    filt.set_defaults(func=_cmd_filter)

    match = sub.add_parser(
        "match", help="find a template in an image (normalised cross-correlation)",
        description="Slide TEMPLATE over IMAGE (.npy or image files; colour is averaged to grey) and print the "
                    "best positions (row, column of the template's top-left corner) and scores.")
    match.add_argument("image", metavar="IMAGE")
    match.add_argument("template", metavar="TEMPLATE")
    match.add_argument("--method", choices=("zncc", "ncc", "ccorr", "sqdiff"), default="zncc",
                       help="zncc = Pearson (default), ncc = cosine, ccorr = plain, sqdiff = squared differences")
    match.add_argument("--top", type=_positive_int, default=1, metavar="K",
                       help="the K best non-overlapping matches (default 1)")
    match.add_argument("--plot", metavar="PATH", help="heat-map of the scores with the best box drawn")
    match.set_defaults(func=_cmd_match)

    train = sub.add_parser("train", help="train a LeNet-style CNN on the bundled digits (or MNIST)",
                           description="Train a LeNet-style CNN with ndconv's NumPy layers on the bundled UCI "
                                       "handwritten digits (or on MNIST with --mnist DIR); prints the parameter "
                                       "count, per-epoch loss and accuracy, and last 'test accuracy: 0.xxxx'.")
    train.add_argument("--mnist", metavar="DIR", help="directory with the four MNIST IDX files (plain or .gz)")
    train.add_argument("--epochs", type=_positive_int, default=15)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--lr", type=_positive_float, default=2e-3, help="Adam's learning rate")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--kernel-model", choices=_KERNEL_MODELS, default="free",
                       help="parametric convolution kernels (ndconv.param)")
    train.add_argument("--save", metavar="PATH", help="write the trained model (.npz with its architecture; "
                                                      "ndconv.nn.Sequential.load reads it)")
    train.set_defaults(func=_cmd_train)

    bench = sub.add_parser("bench", help="time the methods against installed peers",
                           description="Time ndconv's methods against the installed peers (NumPy, "
                                       "SciPy, OpenCV, PyTorch) in this process and print ratios.")
    bench.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    bench.add_argument("--calibrate", action="store_true",
                       help="measure the cost model's constants and store them (as ndconv.tune())")
    bench.set_defaults(func=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (ValueError, TypeError, ArithmeticError, FileNotFoundError, MemoryError) as exc:
        print(f"ndconv: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
