"""Pure-integer shape arithmetic of the one definition (api.md §1).

Along one axis: input length ``n``, kernel length ``k``, dilation ``d``.
The dilated kernel has ``kd = d*(k-1) + 1`` taps; the full output has
``n + kd - 1`` samples.  A mode picks a window of the full output starting at
``start`` and a stride ``s`` keeps every ``s``-th sample of it.  Nothing here
touches an array.
"""

from __future__ import annotations

from typing import NamedTuple


def dilated_length(k: int, dilation: int) -> int:
    """Length ``d*(k-1)+1`` of a kernel of ``k`` taps dilated by ``d``."""
    return dilation * (k - 1) + 1


def mode_start(mode: str, kd: int, origin: int = 0) -> int:
    """Index of the full output where the mode's window starts."""
    if mode == "full":
        return 0
    if mode == "same":
        return (kd - 1) // 2 + origin
    return kd - 1  # valid


def mode_length(mode: str, n: int, kd: int) -> int:
    """Number of samples the mode keeps before striding."""
    if mode == "full":
        return n + kd - 1
    if mode == "same":
        return n
    return n - kd + 1  # valid


def strided_length(length: int, stride: int) -> int:
    """``len(range(0, length, stride))``."""
    return (length + stride - 1) // stride if length > 0 else 0


class AxisGeometry(NamedTuple):
    """Where the outputs of one convolved axis sit in the full convolution.

    Output ``i`` of this axis is ``y_full[start + i*stride]`` for
    ``i = 0 … count-1``, and ``y_full[n] = Σ_j h[j] · x̃[n − dilation·j]``.
    A named tuple (immutable, compared and hashed in C): the planner keys every
    call's plan on the geometry, and a frozen dataclass cost it 2–3 µs there.
    """

    n: int
    k: int
    dilation: int
    stride: int
    start: int
    count: int

    @property
    def kd(self) -> int:
        return dilated_length(self.k, self.dilation)

    @property
    def first_needed(self) -> int:
        """Smallest index of the extended input x̃ some output reads."""
        return self.start - (self.kd - 1)

    @property
    def last_needed(self) -> int:
        """Largest index of the extended input x̃ some output reads."""
        return self.start + (self.count - 1) * self.stride

    @property
    def pad_before(self) -> int:
        """Samples of x̃ needed before index 0."""
        return max(0, -self.first_needed)

    @property
    def pad_after(self) -> int:
        """Samples of x̃ needed after index n-1."""
        return max(0, self.last_needed - (self.n - 1))

    @property
    def is_same_window(self) -> bool:
        """True when this axis is a stride-1 'same'-sized window (n outputs)."""
        return self.stride == 1 and self.count == self.n and 0 <= self.start <= self.kd - 1


def axis_geometry(mode: str, n: int, k: int, *, origin: int = 0, stride: int = 1,
                  dilation: int = 1) -> AxisGeometry:
    """Geometry of one axis; arguments are assumed validated.

    A stride longer than the mode's window keeps its first sample only, as a
    stride of the window's length does: it is stored as that length, so that no
    index arithmetic (nor a compiled loop's int64 argument) sees a stride of 2**63
    or more.
    """
    kd = dilated_length(k, dilation)
    length = mode_length(mode, n, kd)
    stride = min(stride, max(length, 1))
    return AxisGeometry(n=n, k=k, dilation=dilation, stride=stride,
                        start=mode_start(mode, kd, origin),
                        count=strided_length(length, stride))


def output_length(mode: str, n: int, k: int, *, stride: int = 1, dilation: int = 1) -> int:
    """Length of one axis of the output."""
    return strided_length(mode_length(mode, n, dilated_length(k, dilation)), stride)


def broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of two shapes (ValueError when they do not broadcast)."""
    if a == b:
        return tuple(a)
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + tuple(a)
    b = (1,) * (n - len(b)) + tuple(b)
    out = []
    for i, j in zip(a, b):
        if i != j and i != 1 and j != 1:
            raise ValueError(f"shapes {a} and {b} do not broadcast")
        out.append(j if i == 1 else i)
    return tuple(out)
