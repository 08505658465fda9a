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

    try:
        values = [float(v) for v in text.replace(" ", "").split(",") if v != ""]
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
    print(explain(x, h, mode=args.mode, correlate=args.correlate))
    return 0


def _cmd_bench(args) -> int:
    from . import bench

    return bench.main(quick=args.quick, calibrate=args.calibrate)


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
    explain.set_defaults(func=_cmd_explain)

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
    except (ValueError, TypeError, OverflowError) as exc:
        print(f"ndconv: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
