"""Saving a network with its architecture (.npz) and building it again.

The file holds every parameter array under its ``params`` key and, under
``__architecture__``, a JSON description: for each layer its class and the
arguments it was built with (dtypes by name, ``ndconv.param`` models by class,
shape and order, nested ``Sequential`` recursively).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import bad_value

_ARCHITECTURE = "__architecture__"
FORMAT = "ndconv.nn/1"


def _encode(value: Any) -> Any:
    from .. import param
    from ._layers_base import Layer

    if isinstance(value, Layer):
        return describe(value)
    if isinstance(value, param.ParamModel):
        return {"__model__": type(value).__name__, "shape": list(value.shape), "order": value.order}
    if isinstance(value, type) and issubclass(value, np.generic) or isinstance(value, np.dtype):
        return {"__dtype__": np.dtype(value).name}
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise bad_value("layer argument", value, "numbers, strings, tuples, dtypes or ndconv.param models "
                    "(so that save can describe the architecture)")


def describe(layer) -> dict:
    """The JSON-ready description of a layer (class and constructor arguments)."""
    args, kwargs = getattr(layer, "init_args", ((), {}))
    return {"class": type(layer).__name__, "args": [_encode(a) for a in args],
            "kwargs": {k: _encode(v) for k, v in kwargs.items()}}


def _decode(value: Any) -> Any:
    from .. import param

    if isinstance(value, dict):
        if "__dtype__" in value:
            return np.dtype(value["__dtype__"])
        if "__model__" in value:
            model = getattr(param, value["__model__"], None)
            if not isinstance(model, type) or not issubclass(model, param.ParamModel):
                raise ValueError(f"the saved architecture names an unknown kernel model {value['__model__']!r}")
            return model(tuple(value["shape"]), order=value["order"])
        if "class" in value:
            return build(value)
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


def build(description: dict):
    """A fresh layer from :func:`describe`'s output."""
    from . import layers

    cls = getattr(layers, description.get("class", ""), None)
    if not isinstance(cls, type) or not issubclass(cls, layers.Layer):
        raise ValueError(f"the saved architecture names an unknown layer {description.get('class')!r}")
    args = [_decode(a) for a in description["args"]]
    kwargs = {k: _decode(v) for k, v in description["kwargs"].items()}
    return cls(*args, **kwargs)


def save(model, path) -> Path:
    """Write ``model``'s architecture and parameters to ``path`` (.npz), whole or not at all."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    header = json.dumps({"format": FORMAT, "model": describe(model)})
    arrays = {name: np.asarray(value) for name, value in model.params.items()}
    if _ARCHITECTURE in arrays:  # pragma: no cover - no layer uses that name
        raise ValueError(f"a parameter is named {_ARCHITECTURE!r}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():   # else mkstemp's error names its temporary file, not the user's path
        raise FileNotFoundError(f"path's folder does not exist: {str(folder)!r} (for {str(path)!r})")
    fd, tmp = tempfile.mkstemp(prefix=".ndconv-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays, **{_ARCHITECTURE: np.array(header)})
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load(path):
    """Rebuild a model written by :func:`save` and set its parameters."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except FileNotFoundError:   # as open() and numpy.load say it, naming the path asked for
        raise FileNotFoundError(f"no model file at {str(path)!r}") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{str(path)!r} is not a model saved by ndconv.nn: {exc}") from exc
    if _ARCHITECTURE not in arrays:
        raise ValueError(f"{str(path)!r} holds no ndconv.nn architecture (was it written by model.save?)")
    header = json.loads(str(arrays.pop(_ARCHITECTURE)))
    if header.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} has format {header.get('format')!r}, expected {FORMAT!r}")
    model = build(header["model"])
    params = model.params
    if set(params) != set(arrays):
        raise ValueError(f"{str(path)!r} holds parameters {sorted(arrays)} but its architecture has {sorted(params)}")
    for name, value in arrays.items():
        if params[name].shape != value.shape:
            raise ValueError(f"{str(path)!r}: parameter {name!r} has shape {value.shape}, "
                             f"the architecture needs {params[name].shape}")
        params[name][...] = value
    return model
