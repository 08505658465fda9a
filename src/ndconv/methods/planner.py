"""What ``method="auto"`` runs: guards first, then the cheapest predicted cost.

:func:`choose` prices every method; :func:`plan` is what ``convolve`` calls: it
remembers the choice for a problem it has seen (same shapes, dtypes, layout,
arguments, kernel values, cost constants and engines), as FFT libraries keep
their plans.  The input's values do not enter the key: every method keeps
NaN/Inf local and integers exact by itself, so a remembered plan can only be
slower on such data, never wrong.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from .._memory import on_one_core
from . import _opencv
from ._costs import constants
from ._finite import all_finite
from ._guards import EXACT_FLOAT_BOUND
from ._problem import Problem
from ._registry import REGISTRY
from .direct import spec_integer_bound

#: an approximate method must redo this many convolutions when non-finite values need fixing
NONFINITE_PENALTY = 4.0


class MethodChoice(str):
    """The chosen method's name, with the predicted cost of every method.

    It *is* the string (``choose_method(...) == "fft"``); ``costs`` maps each
    method to predicted seconds (``inf`` where it does not apply), ``reasons``
    says why, and ``report()`` prints the comparison.
    """

    costs: dict[str, float]
    reasons: dict[str, str]
    guard: str

    def __new__(cls, name: str, costs: dict[str, float], reasons: dict[str, str], guard: str = ""):
        obj = super().__new__(cls, name)
        obj.costs = costs
        obj.reasons = reasons
        obj.guard = guard
        return obj

    def report(self) -> str:
        lines = [f"chosen: {str(self)}" + (f"  ({self.guard})" if self.guard else "")]
        for name, cost in sorted(self.costs.items(), key=lambda item: item[1]):
            shown = "n/a" if math.isinf(cost) else f"{cost * 1e3:10.3f} ms"
            lines.append(f"  {name:<12} {shown:>13}  {self.reasons.get(name, '')}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"MethodChoice({str(self)!r})"


def choose(problem: Problem) -> MethodChoice:
    spec = problem.spec
    costs: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for name, method in REGISTRY.items():
        costs[name], reasons[name] = method.cost(problem)
    if spec.is_integer:
        return _choose_exact(problem, costs, reasons)
    best = min(costs, key=costs.__getitem__)
    guard = ""
    if best != "direct" and not REGISTRY[best].exact and not (
            all_finite(spec.x) and all_finite(spec.kernel)):
        for name in costs:
            if name != "direct" and not math.isinf(costs[name]):
                costs[name] *= NONFINITE_PENALTY
                reasons[name] += "; non-finite values need extra passes to stay local"
        best = min(costs, key=costs.__getitem__)
        guard = "non-finite values present"
    return MethodChoice(best, costs, reasons, guard)


def _choose_exact(problem: Problem, costs: dict[str, float], reasons: dict[str, str]) -> MethodChoice:
    """Bool/integer inputs: the direct sum, or a float method whose rounded result
    is provably exact (``Σ|h| · max|x| ≤ 2**40``, see ``_guards``)."""
    best = min(costs, key=costs.__getitem__)
    if best == "direct":
        return MethodChoice(best, costs, reasons, "bool/integer inputs take only exact paths")
    if spec_integer_bound(problem.spec) <= EXACT_FLOAT_BOUND:
        return MethodChoice(best, costs, reasons, "integers: rounded float result exact (Σ|h|·max|x| ≤ 2**40)")
    for name in costs:
        if name != "direct":
            costs[name] = math.inf
            reasons[name] = "integers: |result| may exceed 2**40, only the direct sum is exact"
    return MethodChoice("direct", costs, reasons, "bool/integer inputs take only exact paths")


#: plans remembered (the oldest dropped first: a hit does not move its plan, which
#: would hash the key a second time on every call; a plan dropped while still in
#: use costs one more planning)
PLAN_CACHE_SIZE = 256
#: kernels above this many bytes are not hashed into a plan key
_KEY_KERNEL_BYTES = 1 << 20
_plans: OrderedDict = OrderedDict()


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
    ``one_core``, the rest of both being fixed for the process.
    """
    key = problem.__dict__.get("_plan_key", ())
    if key != ():
        return key
    spec = problem.spec
    kernel = spec.kernel
    if kernel.nbytes > _KEY_KERNEL_BYTES:
        key = None
    else:
        if not kernel.flags.c_contiguous:
            kernel = np.ascontiguousarray(kernel)
        x = spec.x
        fill = spec.fill_value
        key = (x.shape, x.strides, x.dtype, kernel.shape, kernel.dtype, hash(kernel.tobytes()), spec.geometry,
               spec.boundary, 0 if fill == 0 else repr(fill), _constants_token(),
               _opencv.ENABLED, on_one_core())
    problem.__dict__["_plan_key"] = key
    return key


def plan(problem: Problem) -> str:
    """The method ``auto`` runs for ``problem`` (:func:`choose`, remembered)."""
    key = plan_key(problem)
    name = _plans.get(key) if key is not None else None
    if name is None:
        choice = choose(problem)
        if key is not None and not choice.guard.startswith("non-finite"):
            _plans[key] = str(choice)
            if len(_plans) > PLAN_CACHE_SIZE:
                _plans.popitem(last=False)
        return str(choice)
    return name
