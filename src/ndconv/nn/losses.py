"""Losses of :mod:`ndconv.nn`: ``forward(...) -> float`` (the batch mean, like
torch's defaults) and ``backward() -> gradient`` of that mean."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import bad_value
from ._layers_base import float_input

__all__ = ["CrossEntropyLoss", "MSELoss"]


class CrossEntropyLoss:
    """Mean of ``-log softmax(logits)[label]`` over the batch — ``torch.nn.CrossEntropyLoss``.

    ``logits`` of shape ``(batch, classes)``, ``labels`` integers in
    ``[0, classes)`` of shape ``(batch,)``.  The log-softmax subtracts the row
    maximum first, so large logits do not overflow.  ``backward()`` returns
    ``(softmax(logits) - onehot(labels)) / batch``.

    Examples
    --------
    >>> loss = CrossEntropyLoss()
    >>> round(loss.forward(np.zeros((2, 4)), [0, 3]), 6) == round(float(np.log(4)), 6)
    True
    >>> loss.backward().shape
    (2, 4)
    """

    def forward(self, logits: Any, labels: Any) -> float:
        logits = float_input(logits)
        labels = np.asarray(labels)
        if logits.ndim != 2:
            raise bad_value("logits", logits.shape, "an array of shape (batch, classes)")
        if labels.shape != (logits.shape[0],) or labels.dtype.kind not in "iu":
            raise bad_value("labels", labels if labels.size <= 10 else labels.shape,
                            f"integers of shape ({logits.shape[0]},)")
        classes = logits.shape[1]
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise bad_value("labels", labels if labels.size <= 10 else labels.shape,
                            f"integers in [0, {classes})")
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        rows = np.arange(labels.size)
        self._saved = (log_softmax, rows, labels)
        return float(-log_softmax[rows, labels].mean())

    def backward(self) -> np.ndarray:
        """``d loss / d logits``."""
        if getattr(self, "_saved", None) is None:
            raise RuntimeError("CrossEntropyLoss.backward needs a forward pass first")
        log_softmax, rows, labels = self._saved
        grad = np.exp(log_softmax)
        grad[rows, labels] -= 1
        return grad / max(labels.size, 1)

    def __call__(self, logits: Any, labels: Any) -> float:
        return self.forward(logits, labels)


class MSELoss:
    """Mean of ``(pred - target)²`` over all elements — ``torch.nn.MSELoss``.

    Examples
    --------
    >>> loss = MSELoss()
    >>> loss.forward([1.0, 3.0], [0.0, 0.0])
    5.0
    >>> loss.backward()
    array([1., 3.])
    """

    def forward(self, pred: Any, target: Any) -> float:
        pred = float_input(pred)
        target = np.asarray(target, dtype=pred.dtype)
        if target.shape != pred.shape:
            raise bad_value("target", target.shape, f"an array of the shape of pred, {pred.shape}")
        self._diff = pred - target
        return float(np.mean(self._diff ** 2))

    def backward(self) -> np.ndarray:
        """``d loss / d pred = 2 (pred - target) / size``."""
        if getattr(self, "_diff", None) is None:
            raise RuntimeError("MSELoss.backward needs a forward pass first")
        return 2 * self._diff / max(self._diff.size, 1)

    def __call__(self, pred: Any, target: Any) -> float:
        return self.forward(pred, target)
