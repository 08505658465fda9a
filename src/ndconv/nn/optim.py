"""Optimizers: update ``model.params`` in place from ``model.grads``, like
``torch.optim.SGD`` and ``torch.optim.Adam`` with their default options.

State (momentum buffers, moments) is kept per parameter name, so ``model`` is
any layer or :class:`~ndconv.nn.Sequential`; call ``step()`` after ``backward``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import bad_type, bad_value, check_memory

__all__ = ["SGD", "Adam"]


def _number(name: str, value: Any, allowed: str, ok) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or not ok(value):
        raise bad_value(name, value, allowed)
    return float(value)


class _Optimizer:
    def __init__(self, model: Any) -> None:
        if not hasattr(model, "params") or not hasattr(model, "grads"):
            raise bad_type("model", model, "a layer or Sequential with params and grads")
        self.model = model
        self.state: dict[str, dict[str, Any]] = {}

    def _pairs(self):
        grads = self.model.grads
        for name, param in self.model.params.items():
            if name in grads:
                yield name, param, np.asarray(grads[name], dtype=param.dtype)

    def _new_state(self, name: str, param: np.ndarray, copies: int, detail: str) -> dict[str, Any]:
        """The state of one parameter, created at its first step: refused (MemoryLimitError)
        when ``copies`` arrays of the parameter's size would not fit in memory."""
        check_memory(f"the {type(self).__name__} state of {name!r}", param.shape, copies * param.nbytes, detail)
        return self.state.setdefault(name, {})

    def zero_grad(self) -> None:
        """Set every stored gradient to zero (in place)."""
        for grad in self.model.grads.values():
            grad[...] = 0


class SGD(_Optimizer):
    """Stochastic gradient descent ``p ← p − lr·buf`` with ``g = grad + weight_decay·p``
    and ``buf = momentum·buf + g`` (``buf = g`` at the first step) — ``torch.optim.SGD``.

    Examples
    --------
    >>> from ndconv.nn import Linear
    >>> layer = Linear(2, 1, seed=0)
    >>> layer.grads = {"weight": np.ones((1, 2), np.float32), "bias": np.ones(1, np.float32)}
    >>> SGD(layer, lr=0.5).step()
    >>> layer.params["bias"]
    array([-0.5], dtype=float32)
    """

    def __init__(self, model: Any, lr: float, momentum: float = 0, weight_decay: float = 0) -> None:
        super().__init__(model)
        self.lr = _number("lr", lr, "a number > 0", lambda v: v > 0)
        self.momentum = _number("momentum", momentum, "a number in [0, 1)", lambda v: 0 <= v < 1)
        self.weight_decay = _number("weight_decay", weight_decay, "a number >= 0", lambda v: v >= 0)

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for name, param, grad in self._pairs():
            if self.weight_decay:
                grad = grad + param.dtype.type(self.weight_decay) * param
            if self.momentum:
                state = self.state.get(name) or self._new_state(
                    name, param, 3, " for its momentum buffer and the update's temporaries")
                if "buffer" not in state:
                    state["buffer"] = grad.copy()
                else:
                    state["buffer"] = param.dtype.type(self.momentum) * state["buffer"] + grad
                grad = state["buffer"]
            param -= param.dtype.type(self.lr) * grad


class Adam(_Optimizer):
    """Adam with torch's defaults (``betas=(0.9, 0.999)``, ``eps=1e-8``):
    ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
    ``p ← p − lr/(1−β₁ᵗ) · m / (sqrt(v)/sqrt(1−β₂ᵗ) + eps)``.
    """

    betas = (0.9, 0.999)
    eps = 1e-8

    def __init__(self, model: Any, lr: float = 1e-3) -> None:
        super().__init__(model)
        self.lr = _number("lr", lr, "a number > 0", lambda v: v > 0)

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        beta1, beta2 = self.betas
        for name, param, grad in self._pairs():
            state = self.state.get(name)
            if state is None:
                state = self._new_state(name, param, 6, " for its two moments and the update's temporaries")
                state.update(t=0, m=np.zeros_like(param), v=np.zeros_like(param))
            state["t"] += 1
            t = state["t"]
            state["m"] = beta1 * state["m"] + (1 - beta1) * grad
            state["v"] = beta2 * state["v"] + (1 - beta2) * grad * grad
            m, v = state["m"].astype(param.dtype), state["v"].astype(param.dtype)
            state["m"], state["v"] = m, v
            denom = np.sqrt(v) / np.sqrt(1 - beta2 ** t) + self.eps
            param -= (self.lr / (1 - beta1 ** t) * m / denom).astype(param.dtype)
