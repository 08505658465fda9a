"""Collection rules for the doctests of optional-dependency modules.

``pytest`` collects the package's own modules for their doctests
(``--doctest-modules``); those that need an optional dependency (PyTorch for
``ndconv.torch``, matplotlib for ``ndconv.plot``) are skipped where it is not
installed instead of failing to import.  Their tests skip themselves.
"""

from __future__ import annotations

import importlib.util

collect_ignore_glob = []
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob += ["src/ndconv/torch/*", "docs/torch.md"]
if importlib.util.find_spec("matplotlib") is None:
    collect_ignore_glob += ["src/ndconv/plot.py", "docs/deblurring.md"]
