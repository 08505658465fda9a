"""What ``ndconv info`` prints: version, threads, engines."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def engines() -> dict[str, str | None]:
    """Installed engines and peers, by version (None when absent); imports none of them."""
    names = {"numpy": "numpy", "scipy": "scipy", "numba": "numba",
             "opencv": "opencv-python-headless", "torch": "torch", "dask": "dask",
             "matplotlib": "matplotlib"}
    found = {}
    for key, dist in names.items():
        version = _version(dist)
        if key == "opencv" and version is None:
            version = _version("opencv-python")
        found[key] = version
    return found


def report() -> str:
    from . import __version__
    from .methods import REGISTRY, _costs, _opencv

    lines = [f"ndconv {__version__}",
             f"python {platform.python_version()} on {platform.platform()}",
             f"cpus: {os.cpu_count()}"]
    try:
        import numba

        lines.append(f"numba threads: {numba.config.NUMBA_NUM_THREADS}")
    except ImportError:  # pragma: no cover - numba is a dependency
        pass
    lines.append("engines:")
    for key, version in engines().items():
        lines.append(f"  {key:<11} {version or 'not installed'}")
    lines.append(f"OpenCV dispatch: {'on' if _opencv.available() else 'off'}")
    lines.append("methods: " + ", ".join(REGISTRY))
    path = _costs.cost_file()
    lines.append(f"cost model: {'measured, ' + str(path) if path.exists() else 'built-in defaults'}")
    return "\n".join(lines)
