"""Algorithms behind ``convolve``: a registry, a cost model and a planner."""

from ._problem import Problem, Sampled
from ._registry import REGISTRY, Method
from .planner import MethodChoice, choose, plan

__all__ = ["REGISTRY", "Method", "MethodChoice", "Problem", "Sampled", "choose", "plan"]
