"""Whether a call on some tensors would be recorded by autograd."""

from __future__ import annotations

import torch


def wanted(*tensors: torch.Tensor) -> bool:
    """True when gradient mode is on and one of ``tensors`` requires a gradient: only then
    must a call build a graph (the routes that build none — ndconv's NumPy core on the CPU,
    the Triton stencil, a bare cuDNN call — are for the other calls)."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
