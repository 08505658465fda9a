#!/usr/bin/env python3
"""Run ndconv's benchmark against the installed peers and write docs/benchmarks.md.

The harness lives in ``ndconv.bench`` (so that ``ndconv bench`` works from an
installed package); this script runs its full case list, measures the
first-call latencies and writes the page.  See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ndconv import bench

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "benchmarks.md"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small sizes of `ndconv bench --quick`")
    parser.add_argument("--cases", help="comma-separated parts of case ids or titles, e.g. 2d-3x3,1d")
    parser.add_argument("--repeat", type=int, help="timed rounds (default: 7, quick 5)")
    parser.add_argument("--no-latency", action="store_true", help="skip the first-call latencies")
    parser.add_argument("--output", help=f"file to write, '-' for stdout (default: {PAGE.relative_to(ROOT)} "
                                         "for a full run of every case, stdout otherwise)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    return args


def _gpu_section() -> str:
    """ndconv.torch on CUDA: measured now when this machine has a GPU, else the section last
    measured on one (benchmarks/gpu_results.md, written by ``benchmarks/gpu.py --output``)."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and torch.cuda.is_available():
        import gpu

        text = gpu.render()
        gpu.RESULTS.write_text(text, encoding="utf-8")
        return text.rstrip()
    saved = Path(__file__).with_name("gpu_results.md")
    if not saved.exists():
        return "## GPU: ndconv.torch on CUDA\n\nNot measured: no GPU here and no saved results."
    return (saved.read_text(encoding="utf-8").rstrip() + "\n\n(Copied from benchmarks/gpu_results.md: this page "
            "was made on a machine without a GPU; the machine section below is the CPU one.)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    scale = "quick" if args.quick else "full"
    if args.list:
        for case in bench.select(bench.cases(scale), args.cases):
            print(f"{case.id:<16} {case.title}")
        return 0
    bench.passive_openmp()
    report = bench.run(scale, args.cases, args.repeat, latency=not args.no_latency,
                       progress=lambda message: print(message, file=sys.stderr, flush=True))
    command = " ".join(["python benchmarks/run_benchmarks.py", *argv])
    output = args.output or ("-" if args.quick or args.cases else str(PAGE))
    if output == "-":
        print(bench.render_summary(report))
    else:
        page = bench.render_markdown(report, command)
        if not (args.quick or args.cases):  # the full page also carries the sections of the other scripts
            import cnn
            import filters_match
            import limits
            import operators
            import regret
            import small_calls

            sections = [limits.render(report.results), regret.render(), operators.render(),
                        filters_match.render(), cnn.render(), small_calls.render()]
            try:
                import torch_fft
            except ImportError:  # no PyTorch: nothing to compare the torch engine with
                pass
            else:
                sections.append(torch_fft.render())
            sections.append(_gpu_section())
            page = page.replace("\n## Machine", "\n" + "\n\n".join(sections) + "\n\n## Machine", 1)
        Path(output).write_text(page, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
