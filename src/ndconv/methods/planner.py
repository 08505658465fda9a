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

from ._finite import all_finite
from ._guards import EXACT_FLOAT_BOUND
from ._keys import plan_key
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
_plans: OrderedDict = OrderedDict()


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
