"""Convolutional networks in NumPy (§5 of the contract), channels first.

:mod:`ndconv.nn.functional` holds the multi-channel convolution ``conv`` and its
gradients, equal to ``torch.nn.functional.conv{1,2,3}d``; :mod:`~ndconv.nn.layers`
the layers (``Conv``, ``MaxPool``, ``AvgPool``, ``ReLU``, ``LeakyReLU``, ``Tanh``,
``Sigmoid``, ``Flatten``, ``Linear``, ``Sequential``), :mod:`~ndconv.nn.losses`
``CrossEntropyLoss`` and ``MSELoss``, :mod:`~ndconv.nn.optim` ``SGD`` and ``Adam``.
:mod:`~ndconv.nn.training` ``fit`` and ``evaluate``, :mod:`~ndconv.nn.models`
``lenet``; ``count_parameters`` and ``conv_vs_dense`` count what a model
learns.  The data sets are in :mod:`ndconv.datasets`.
"""

from . import functional
from ._counting import ParameterComparison, conv_vs_dense, count_parameters
from .layers import AvgPool, Conv, Flatten, Layer, LeakyReLU, Linear, MaxPool, ReLU, Sequential, Sigmoid, Tanh
from .losses import CrossEntropyLoss, MSELoss
from .models import lenet
from .optim import SGD, Adam
from .training import History, evaluate, fit

__all__ = ["functional", "Layer", "Conv", "MaxPool", "AvgPool", "ReLU", "LeakyReLU", "Tanh", "Sigmoid",
           "Flatten", "Linear", "Sequential", "CrossEntropyLoss", "MSELoss", "SGD", "Adam", "History", "evaluate",
           "fit", "lenet", "count_parameters", "conv_vs_dense", "ParameterComparison"]
