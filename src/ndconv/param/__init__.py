"""Parametric models ``K(θ) = mat(Q θ)`` and the chain rule through them.

Dense n×n models: :class:`Diagonal`, :class:`Antisymmetric`, :class:`MMatrix`.
Kernel models: :class:`Stencil`, :class:`SymmetricStencil`,
:class:`AntisymmetricStencil`, :class:`MMatrixStencil`, :class:`SeparableStencil`
(the only non-linear one).  :func:`chain` composes a model with a kernel
Jacobian.  See ``docs/param.md``.

Every model has ``num_params``, ``shape``, ``order`` (``"C"``, or ``"F"`` for
MATLAB's column-major ``mat()``), ``is_linear``, ``model(θ)``, ``jvp(θ, v)`` and
``vjp(θ, w)``; linear models also ``Q`` (``scipy.sparse``, ``prod(shape) ×
num_params``) with ``model(θ).ravel(order=order) == Q @ θ``.
"""

from ._base import LinearModel, ParamModel
from .chain import ChainedJacobian, chain
from .dense import Antisymmetric, Diagonal, MMatrix
from .stencil import AntisymmetricStencil, MMatrixStencil, SeparableStencil, Stencil, SymmetricStencil

__all__ = ["ParamModel", "LinearModel", "Diagonal", "Antisymmetric", "MMatrix", "Stencil", "SymmetricStencil",
           "AntisymmetricStencil", "MMatrixStencil", "SeparableStencil", "chain", "ChainedJacobian"]
