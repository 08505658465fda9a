"""One place that words every argument error.

Every message names the argument, quotes the value received and says what is
allowed, e.g. ``mode must be 'full', 'same' or 'valid', got 'sam'``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._memory import available_bytes, format_bytes


def _choices(allowed: Iterable[object]) -> str:
    items = [repr(a) for a in allowed]
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def bad_choice(name: str, value: object, allowed: Iterable[object]) -> ValueError:
    """``name must be 'a', 'b' or 'c', got 'x'``."""
    return ValueError(f"{name} must be {_choices(allowed)}, got {value!r}")


def bad_value(name: str, value: object, allowed: str) -> ValueError:
    """``name must be <allowed>, got <value>``."""
    return ValueError(f"{name} must be {allowed}, got {value!r}")


def bad_type(name: str, value: object, allowed: str) -> TypeError:
    """``name must be <allowed>, got <type name>``."""
    kind = type(value).__name__
    if hasattr(value, "dtype"):
        kind = f"{kind} of dtype {value.dtype}"
    return TypeError(f"{name} must be {allowed}, got {kind}")


class MemoryLimitError(ValueError, MemoryError):
    """A size refused before anything is allocated: it needs more memory than the
    machine has available.  A ValueError (a bad size, §9) and a MemoryError."""


def check_memory(what: str, shape: tuple[int, ...], need: int, detail: str = "") -> None:
    """Raise :class:`MemoryLimitError` when ``need`` bytes exceed the memory available:
    ``<what> has shape <shape> and needs <bytes><detail>, more than the <bytes> of memory available``."""
    available = available_bytes(need)
    if need > available:
        raise MemoryLimitError(f"{what} has shape {tuple(shape)} and needs {format_bytes(need)}{detail}, "
                               f"more than the {format_bytes(available)} of memory available")
