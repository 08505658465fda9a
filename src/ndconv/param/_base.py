"""What every parametric model shares: θ validation, ``mat()`` order, linear models.

A linear model is stored as the triplets of its sparse ``Q`` — entry ``rows[t]``
of ``vec(K)`` receives ``values[t] · θ[cols[t]]`` — so evaluating ``K(θ)``,
``J v = mat(Q v)`` and ``Jᵀ w = Qᵀ vec(w)`` needs only NumPy; ``scipy.sparse`` is
imported when ``Q`` itself is asked for.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._errors import bad_choice, bad_value, check_memory

ORDERS = ("C", "F")


def as_shape(shape, name: str = "shape") -> tuple[int, ...]:
    """A tuple of positive ints from an int or a sequence of ints."""
    value = shape
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise bad_value(name, value, "a positive int or a tuple of positive ints") from None
    if not shape or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in shape):
        raise bad_value(name, value, "a positive int or a tuple of positive ints")
    return tuple(int(s) for s in shape)


#: bytes per nonzero of Q while a linear model is built: its row, column and value arrays and
#: the index arrays they are computed from
ENTRY_BYTES = 64


def check_entries(shape: tuple[int, ...], entries: int) -> None:
    """Refuse (MemoryLimitError) a model whose ``entries`` nonzeros of Q would not fit in memory
    (``MMatrix(10**6)`` reached NumPy's own MemoryError for a 931 GiB mask)."""
    check_memory("the kernel model", shape, ENTRY_BYTES * entries, f" for the {entries:,} nonzeros of Q")


def as_order(order) -> str:
    if order not in ORDERS:
        raise bad_choice("order", order, ORDERS)
    return order


def _vector(name: str, value, size: int) -> np.ndarray:
    """``value`` as a 1-D float/complex vector of ``size`` entries, else ValueError."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufc":
        raise ValueError(f"{name} must be a numeric vector of {size} entries, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.size != size:
        raise ValueError(f"{name} must have shape ({size},) (num_params = {size}), got shape {arr.shape}")
    return arr.astype(np.result_type(arr.dtype, np.float64), copy=False)


class ParamModel:
    """Base class: ``K(θ)`` of shape ``shape`` from ``num_params`` numbers.

    Subclasses set ``shape``, ``num_params``, ``order`` and implement
    ``_model(theta)``, ``_jvp(theta, v)`` and ``_vjp(theta, w)`` on validated
    arguments (θ, v 1-D; w of ``shape``).
    """

    shape: tuple[int, ...]
    num_params: int
    order: str = "C"
    is_linear: bool = False

    # -- public calls: validate once, then compute --------------------------------------
    def __call__(self, theta) -> np.ndarray:
        """Same as :meth:`model`."""
        return self.model(theta)

    def model(self, theta) -> np.ndarray:
        """``K(θ)``, an array of :attr:`shape`."""
        return self._model(self._theta(theta))

    def jvp(self, theta, v) -> np.ndarray:
        """``J(θ) v = d/dε K(θ + εv)``, an array of :attr:`shape`."""
        return self._jvp(self._theta(theta), _vector("v", v, self.num_params))

    def vjp(self, theta, w) -> np.ndarray:
        """``J(θ)ᴴ w``, shape ``(num_params,)``: the adjoint of :meth:`jvp`
        (``Jᵀ w`` for real θ).  ``w`` has :attr:`shape`, or is flat ``vec(w)`` in
        :attr:`order`."""
        return self._vjp(self._theta(theta), self._output("w", w))

    @property
    def size(self) -> int:
        """``prod(shape)``: the number of entries of ``K(θ)``."""
        return math.prod(self.shape)

    def _theta(self, theta) -> np.ndarray:
        return _vector("theta", theta, self.num_params)

    def _output(self, name: str, w) -> np.ndarray:
        arr = np.asarray(w)
        if arr.dtype.kind not in "biufc":
            raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
        if arr.shape == self.shape:
            return arr
        if arr.shape == (self.size,):
            return arr.reshape(self.shape, order=self.order)
        raise ValueError(f"{name} must have shape {self.shape} (or ({self.size},) flat in order "
                         f"{self.order!r}), got shape {arr.shape}")

    def __repr__(self) -> str:
        args = ", ".join(repr(a) for a in self._repr_args())
        order = "" if self.order == "C" else f", order={self.order!r}"
        return f"{type(self).__name__}({args}{order})"

    def _repr_args(self) -> tuple:
        return (self.shape,)


class LinearModel(ParamModel):
    """``K(θ) = mat(Q θ)`` with ``Q`` given by triplets ``(rows, cols, values)``.

    ``rows`` index ``vec(K)`` in C order; :attr:`Q` re-indexes them for ``order``.
    """

    is_linear = True

    def __init__(self, shape, num_params: int, rows, cols, values, order: str = "C"):
        self.shape = shape
        self.num_params = int(num_params)
        self.order = as_order(order)
        self._rows = np.asarray(rows, dtype=np.intp)
        self._cols = np.asarray(cols, dtype=np.intp)
        self._values = np.asarray(values, dtype=np.float64)

    def _model(self, theta: np.ndarray) -> np.ndarray:
        out = np.zeros(self.size, dtype=theta.dtype)
        np.add.at(out, self._rows, self._values * theta[self._cols])
        return out.reshape(self.shape)

    def _jvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self._model(v)

    def _vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        flat = w.reshape(-1)
        out = np.zeros(self.num_params, dtype=np.result_type(flat.dtype, np.float64))
        np.add.at(out, self._cols, self._values * flat[self._rows])
        return out

    @property
    def Q(self):
        """``Q`` as a ``scipy.sparse.csr_array`` of shape ``(prod(shape), num_params)``:
        ``model(θ).ravel(order=order) == Q @ θ``."""
        import scipy.sparse

        rows = self._rows
        if self.order == "F":  # C-order flat index → the same entry's F-order flat index
            rows = np.ravel_multi_index(np.unravel_index(rows, self.shape), self.shape, order="F")
        return scipy.sparse.csr_array((self._values, (rows, self._cols)), shape=(self.size, self.num_params))
