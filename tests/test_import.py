"""``import ndconv`` pulls in no optional framework (array-api-compat's test)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

OPTIONAL = ("torch", "dask", "matplotlib", "cv2", "pandas", "jax", "tensorflow", "skimage")

PROBE = """
import json, sys
before = set(sys.modules)
{statements}
print(json.dumps(sorted(m.split(".")[0] for m in set(sys.modules) - before)))
"""


def imported_by(statements: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(statements=statements)], capture_output=True, check=False,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_import_ndconv_imports_no_optional_dependency():
    modules = imported_by("import ndconv")
    assert "ndconv" in modules and "numpy" in modules  # the probe sees imports
    assert not modules & set(OPTIONAL), sorted(modules & set(OPTIONAL))


def test_one_dimensional_work_imports_no_optional_dependency():
    """Convolving (every method), choosing, explaining: still no framework."""
    modules = imported_by(
        "import ndconv\n"
        "for m in ('auto', 'direct', 'fft', 'overlap_add', 'separable'):\n"
        "    ndconv.convolve([1.0, 2.0, 3.0], [1.0, 1.0], method=m)\n"
        "ndconv.choose_method([1.0] * 100, [1.0] * 10)\n"
        "ndconv.explain([3, 1, 2], [3, 2, 1])\n"
        "import ndconv.testing, ndconv.cli\n")
    assert not modules & {"torch", "dask", "matplotlib", "pandas", "jax", "tensorflow"}


def test_submodules_load_on_first_access():
    """``ndconv.datasets`` and the other on-demand submodules work without their own import
    statement (as SciPy's do), and only the one asked for is loaded."""
    modules = imported_by(
        "import ndconv\n"
        "(x, y), _ = ndconv.datasets.load_digits()\n"
        "assert x.shape[1:] == (1, 8, 8)\n"
        "assert ndconv.nn.lenet is not None and ndconv.boundary.fold is not None\n"
        "assert ndconv.testing.dottest is not None and ndconv.bench is not None\n"
        "assert {'nn', 'datasets', 'torch', 'dask', 'plot'} <= set(dir(ndconv))\n")
    assert not modules & set(OPTIONAL), sorted(modules & set(OPTIONAL))


def test_unknown_attribute_is_an_attribute_error():
    import ndconv

    with pytest.raises(AttributeError, match="no_such_thing"):
        ndconv.no_such_thing  # noqa: B018
    assert not hasattr(ndconv, "methodz")
