"""Convolutional networks in NumPy (§5 of the contract), channels first.

For now this holds :mod:`ndconv.nn.functional` — the multi-channel convolution
``conv`` and its gradients, equal to ``torch.nn.functional.conv{1,2,3}d``.
The layers, losses, optimizers and training loop of §5 come with issue 4.
"""

from . import functional

__all__ = ["functional"]
