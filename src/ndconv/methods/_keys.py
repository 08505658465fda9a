"""The key a problem is remembered by (plans, engine choices): :func:`plan_key`,
and :func:`remembered`, a decision kept under it.

Its own module so that the planner and the methods (``direct`` keeps its engine
choice under it) import it at load time; a function-level import cost a small call 1 µs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._memory import on_one_core
from . import _opencv
from ._costs import constants
from ._problem import Problem

#: kernels above this many bytes are not hashed into a plan key
_KEY_KERNEL_BYTES = 1 << 20

#: the constants in force and their version: a new dict from ``constants()`` (after
#: ``tune`` or a cleared cache) gets the next number.  The dict is kept, so its id is
#: never reused; an int keeps the key cheap to hash (the 17 values cost 1–2 µs per
#: look-up, and a look-up happens twice a call)
_constants_seen: tuple = (None, 0)


def _constants_token() -> int:
    global _constants_seen
    current = constants()
    seen = _constants_seen
    if seen[0] is not current:
        seen = _constants_seen = (current, seen[1] + 1)
    return seen[1]


def plan_key(problem: Problem):
    """The problem's key in the plan caches (None: not cached); computed once per call's problem.

    Built from cheap parts (a small call spent 8 µs here, as much as its sums): whether
    OpenCV and the other cores may be used follows from ``_opencv.ENABLED`` and
    ``one_core``, the rest of both being fixed for the process.  A spec from
    ``make_spec`` carries its layout (one object per combination of shapes, dtypes and
    options, hashed by identity), which stands for the shapes, dtypes, geometry,
    boundary and fill: the key's build took 0.71 of its old time (interleaved, paired).  The kernel's bytes
    are read in C order whatever its layout.
    """
    key = problem.__dict__.get("_plan_key", ())
    if key != ():
        return key
    spec = problem.spec
    kernel = spec.kernel
    if kernel.nbytes > _KEY_KERNEL_BYTES:
        key = None
    else:
        x = spec.x
        if spec.layout is not None:   # it stands for the shapes, dtypes, geometry, boundary and fill
            key = (spec.layout, x.strides, hash(kernel.tobytes()), _constants_token(), _opencv.ENABLED,
                   on_one_core())
        else:
            fill = spec.fill_value
            key = (x.shape, x.strides, x.dtype, kernel.shape, kernel.dtype, hash(kernel.tobytes()), spec.geometry,
                   spec.boundary, 0 if fill == 0 else repr(fill), _constants_token(),
                   _opencv.ENABLED, on_one_core())
    problem.__dict__["_plan_key"] = key
    return key


#: decisions kept per problem key and store (each store cleared when it reaches this size)
REMEMBERED_SIZE = 256


def remembered(store: dict, problem: Problem, decide: Callable[[Problem], Any]) -> Any:
    """``decide(problem)``, kept in ``store`` under :func:`plan_key` (decided afresh when the
    problem has no key).  Only for decisions that depend on nothing outside the key:
    the shapes, strides, dtypes, kernel values, geometry, boundary, cost constants, and
    whether OpenCV and the other cores may be used."""
    key = plan_key(problem)
    if key is None:
        return decide(problem)
    found = store.get(key, store)
    if found is store:
        if len(store) >= REMEMBERED_SIZE:
            store.clear()
        found = store[key] = decide(problem)
    return found
