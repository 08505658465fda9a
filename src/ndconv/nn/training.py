"""``fit`` and ``evaluate``: mini-batch training of a NumPy network (§5)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .._errors import bad_value


@dataclass
class History:
    """Per-epoch training record returned by :func:`fit`."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)

    def __getitem__(self, key: str) -> list[float]:
        return getattr(self, key)


def _check_data(X, y, name: str):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 2 or y.ndim != 1 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise bad_value(name, (X.shape, y.shape), "(X, y) with X of shape (n, …) and y of shape (n,), n ≥ 1")
    if y.dtype.kind not in "iu":
        raise bad_value(name, y.dtype, "integer class labels in y")
    return X, y.astype(np.int64)


def _positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise bad_value(name, value, "a positive int")
    return int(value)


def _batches(n: int, batch_size: int, order: np.ndarray):
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def evaluate(model, X, y, *, batch_size: int = 256) -> float:
    """Accuracy of ``model`` (argmax of its outputs) on ``X`` with labels ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv.nn import Linear, evaluate
    >>> layer = Linear(2, 2, seed=0)
    >>> layer.params["weight"][...] = [[1, 0], [0, 1]]
    >>> evaluate(layer, np.array([[2., 0.], [0., 3.]]), np.array([0, 1]))
    1.0
    """
    X, y = _check_data(X, y, "(X, y)")
    batch_size = _positive("batch_size", batch_size)
    correct = 0
    for index in _batches(len(y), batch_size, np.arange(len(y))):
        correct += int((model.forward(X[index]).argmax(axis=1) == y[index]).sum())
    return correct / len(y)


def fit(model, X, y, *, epochs: int = 10, batch_size: int = 64, optimizer=None, validation=None,
        progress: bool = True, seed: int = 0, loss=None) -> History:
    """Train ``model`` by mini-batch gradient descent on a cross-entropy loss.

    Parameters
    ----------
    model : layer or Sequential
        Anything with ``forward``, ``backward``, ``params`` and ``grads``.
    X, y : ndarray
        Inputs ``(n, …)`` and integer labels ``(n,)``.
    epochs, batch_size : int
    optimizer : optional
        An optimizer of :mod:`ndconv.nn` already bound to ``model``; default
        ``Adam(model, lr=1e-3)``.
    validation : (X_val, y_val), optional
        Evaluated after every epoch (loss and accuracy).
    progress : bool
        A tqdm progress bar over the mini-batches of each epoch.
    seed : int
        Seeds the shuffling (a new permutation every epoch).
    loss : optional
        The loss object (default :class:`CrossEntropyLoss`).

    Returns
    -------
    History
        ``loss`` and ``accuracy`` (training, averaged over the epoch's batches)
        and ``val_loss`` / ``val_accuracy`` per epoch.
    """
    from . import Adam, CrossEntropyLoss

    X, y = _check_data(X, y, "(X, y)")
    epochs = _positive("epochs", epochs)
    batch_size = _positive("batch_size", batch_size)
    if validation is not None:
        if not isinstance(validation, Sequence) or len(validation) != 2:
            raise bad_value("validation", type(validation).__name__, "None or a pair (X_val, y_val)")
        X_val, y_val = _check_data(*validation, "validation")
    optimizer = optimizer if optimizer is not None else Adam(model, lr=1e-3)
    criterion = loss if loss is not None else CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    history = History()
    batches_per_epoch = math.ceil(len(y) / batch_size)
    for epoch in range(epochs):
        order = rng.permutation(len(y))
        total, correct = 0.0, 0
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=batches_per_epoch, desc=f"epoch {epoch + 1}/{epochs}", leave=False)
        for batch, index in enumerate(_batches(len(y), batch_size, order)):
            logits = model.forward(X[index])
            value = criterion.forward(logits, y[index])
            if not np.isfinite(value):   # stop: every later step would train on garbage
                if bar is not None:
                    bar.close()
                lr = getattr(optimizer, "lr", None)
                raise FloatingPointError(
                    f"training diverged: the loss became {value} in epoch {epoch + 1}, batch {batch + 1} "
                    f"of {batches_per_epoch}" + (f"; try a smaller learning rate than lr={lr:g}" if lr else ""))
            model.backward(criterion.backward())
            optimizer.step()
            total += value * len(index)
            correct += int((logits.argmax(axis=1) == y[index]).sum())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4f}")
        if bar is not None:
            bar.close()
        history.loss.append(total / len(y))
        history.accuracy.append(correct / len(y))
        if validation is not None:
            logits = np.concatenate([model.forward(X_val[i]) for i in _batches(len(y_val), 256,
                                                                                   np.arange(len(y_val)))])
            history.val_loss.append(float(criterion.forward(logits, y_val)))
            history.val_accuracy.append(float((logits.argmax(axis=1) == y_val).mean()))
    return history
