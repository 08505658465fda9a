"""The one problem every method solves.

After the boundary rule has been applied, every convolution of ndconv is a
*sampled linear convolution*: with ``z`` extended by zeros,

    y[i] = Σ_j h[j] · z[start + i·stride − j·dilation],   i = 0 … count−1

on each convolved axis (a product over axes in nD).  For the zero boundary ``z``
is the input itself; for the other rules (and a non-zero fill) ``z`` is the input
extended just as far as the outputs read it.

The direct loops need not extend the whole input: :attr:`Problem.unextended` keeps
``z = x`` and names the rule, and only the thin border boxes of the output read
their samples of x̃ through :meth:`Sampled.window` (or, in 2-D and nD, one frame per
axis gathered by ``direct._border_frames``; for a 5×5 reflect filter on 2048²
float32 the whole extension cost more than the sums).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .._shapes import broadcast
from .._spec import ConvSpec
from ..boundary import extend, extension_index


@dataclass(frozen=True)
class Sampled:
    """A sampled linear convolution in canonical layout (batch axes first)."""

    z: np.ndarray
    h: np.ndarray
    starts: tuple[int, ...]
    counts: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    boundary: str = "constant"   # how z extends beyond its edges (constant: fill_value)
    fill_value: Any = 0

    @property
    def ndim(self) -> int:
        return len(self.counts)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        nb = self.z.ndim - self.ndim
        return broadcast(self.z.shape[:nb], self.h.shape[:nb])

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.batch_shape + self.counts

    @property
    def kernel_shape(self) -> tuple[int, ...]:
        return self.h.shape[self.h.ndim - self.ndim:]

    @property
    def dilated_shape(self) -> tuple[int, ...]:
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_shape, self.dilations))

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.z.shape[self.z.ndim - self.ndim:]

    def padded(self, dtype: Any = None) -> tuple[np.ndarray, tuple[int, ...]]:
        """``z`` zero-padded so that every read is in range, and the offsets of
        output 0 in correlation form: ``y[i] = Σ_m g[m] · zp[first + i·s + m·d]``
        with ``g`` the kernel flipped on the convolved axes.  With ``dtype``, ``z`` is
        cast on its way into the pad (always a new array)."""
        pads, firsts = [], []
        for n, kd, start, count, s in zip(self.input_shape, self.dilated_shape, self.starts,
                                          self.counts, self.strides):
            first = start - (kd - 1)
            last = start + (count - 1) * s
            before, after = max(0, -first), max(0, last - (n - 1))
            pads.append((before, after))
            firsts.append(first + before)
        if not any(before or after for before, after in pads):
            return (self.z if dtype is None else self.z.astype(dtype)), tuple(firsts)
        nb = self.z.ndim - self.ndim
        shape = self.z.shape[:nb] + tuple(n + b + a for n, (b, a) in zip(self.input_shape, pads))
        # a plain zero pad: numpy.pad costs 50 µs a call
        out = np.zeros(shape, dtype=self.z.dtype if dtype is None else dtype)
        out[(Ellipsis,) + tuple(slice(b, b + n) for n, (b, _) in zip(self.input_shape, pads))] = self.z
        return out, tuple(firsts)

    def window(self) -> tuple[np.ndarray, tuple[int, ...]]:
        """The samples of x̃ the outputs read, gathered by the boundary rule, and the
        offsets of output 0 in them (0 on every axis): :meth:`padded` for any rule."""
        if self.boundary == "constant" and self.fill_value == 0:
            return self.cropped().padded()
        return apply_gather(self.z, self.window_plan(), self.fill_value), (0,) * self.ndim

    def window_plan(self) -> Gather:
        """How :meth:`window` gathers x̃ by the boundary rule (:func:`gather_plan`): it
        depends on the geometry only."""
        rules = [extension_index(n, start - (kd - 1), start + (count - 1) * s, self.boundary)
                 for n, kd, start, count, s in zip(self.input_shape, self.dilated_shape, self.starts, self.counts,
                                                   self.strides)]
        return gather_plan([index for index, _ in rules], [inside for _, inside in rules], self.z.ndim - self.ndim)

    def cropped(self) -> "Sampled":
        """The same problem with ``z`` sliced (a view) to the samples the outputs read."""
        nb = self.z.ndim - self.ndim
        index, starts = [slice(None)] * nb, []
        for n, kd, start, count, s in zip(self.input_shape, self.dilated_shape, self.starts, self.counts,
                                          self.strides):
            lo = min(max(0, start - (kd - 1)), n)
            hi = min(n, max(lo, start + (count - 1) * s + 1))
            index.append(slice(lo, hi))
            starts.append(start - lo)
        # the constructor, not dataclasses.replace: a small call spent 5 µs there
        return Sampled(self.z[tuple(index)], self.h, tuple(starts), self.counts, self.strides, self.dilations,
                       self.boundary, self.fill_value)


#: how to read a box of x̃ out of z: the slices that cut z to the box's span, then per
#: gathered axis (axis, indices into the slice, positions that take the fill or None)
Gather = tuple[tuple[slice, ...], tuple[tuple[int, np.ndarray, np.ndarray | None], ...]]


def gather_plan(indices: list, insides: list, first_axis: int) -> Gather:
    """How :func:`apply_gather` reads ``indices`` (source indices in x, as
    :func:`~ndconv.boundary.extension_index` gives them, on axis ``first_axis + a``).

    Every axis is sliced first to the range its indices span, so a border strip never
    copies the bulk; an axis read as a plain run of x (the inner axes of a border box)
    stays a view — gathering it too copied the whole volume for the far border slabs
    of a 3-D wrap (96³: 5 of the call's 11 ms).  The plan depends on the geometry
    only: the direct method keeps it between calls (see ``direct._layout``).
    """
    view, takes = [slice(None)] * first_axis, []
    for axis, (index, inside) in enumerate(zip(indices, insides), start=first_axis):
        lo, hi = int(index.min()), int(index.max())
        view.append(slice(lo, hi + 1))
        if not (inside.all() and bool((np.diff(index) == 1).all())):
            takes.append((axis, index - lo, None if inside.all() else ~inside))
    return tuple(view), tuple(takes)


def apply_gather(z: np.ndarray, plan: Gather, fill: Any) -> np.ndarray:
    """The box of x̃ that ``plan`` (:func:`gather_plan`) names, contiguous, ``fill`` outside x."""
    view, takes = plan
    piece = z[view]
    for axis, index, outside in takes:   # a taken axis is a copy: the fill never reaches x
        piece = np.take(piece, index, axis=axis)
        if outside is not None:
            piece[(slice(None),) * axis + (outside,)] = fill
    return np.ascontiguousarray(piece)


class Problem:
    """A validated spec plus its sampled form, built lazily and once."""

    def __init__(self, spec: ConvSpec):
        self.spec = spec

    def _build(self, materialize: bool) -> Sampled:
        spec = self.spec
        geometry = spec.geometry
        strides = tuple(g.stride for g in geometry)
        dilations = tuple(g.dilation for g in geometry)
        counts = tuple(g.count for g in geometry)
        if spec.boundary == "constant" and spec.fill_value == 0:
            starts = tuple(g.start for g in geometry)
            return Sampled(spec.x, spec.kernel, starts, counts, strides, dilations)
        nb = spec.x.ndim - spec.ndim
        starts = tuple(g.kd - 1 for g in geometry)
        # only the samples read, up to the last one (valid mode with a stride stops early)
        lengths = tuple(g.last_needed - g.first_needed + 1 for g in geometry)
        if not materialize:
            z = np.broadcast_to(np.zeros((), spec.x.dtype), spec.x.shape[:nb] + lengths)
            return Sampled(z, spec.kernel, starts, counts, strides, dilations)
        pads = tuple((g.pad_before, g.pad_after) for g in geometry)
        z = extend(spec.x, pads, spec.boundary, spec.fill_value)
        crop = (slice(None),) * nb + tuple(slice(0, n) for n in lengths)
        return Sampled(z[crop], spec.kernel, starts, counts, strides, dilations)

    @cached_property
    def unextended(self) -> Sampled:
        """The sampled problem on the input itself, the boundary rule kept aside (see :meth:`Sampled.window`)."""
        spec = self.spec
        geometry = spec.geometry
        return Sampled(spec.x, spec.kernel, tuple(g.start for g in geometry), tuple(g.count for g in geometry),
                       tuple(g.stride for g in geometry), tuple(g.dilation for g in geometry),
                       spec.boundary, spec.fill_value)

    @cached_property
    def sampled(self) -> Sampled:
        """The sampled problem, with the boundary extension materialised."""
        return self._build(materialize=True)

    @cached_property
    def layout(self) -> Sampled:
        """The sampled problem's shapes and dtypes only: ``z`` is a zero-stride
        stand-in, so cost predictions never copy the input."""
        return self._build(materialize=False)
