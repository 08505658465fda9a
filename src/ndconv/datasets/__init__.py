"""Data sets for the CNN examples: the UCI handwritten digits and MNIST.

Both loaders return ``(X_train, y_train), (X_test, y_test)`` with ``X``
float32 of shape ``(n, 1, H, W)`` scaled to [0, 1] and ``y`` int64.
"""

from ._digits import DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION, load_digits
from ._mnist import MNIST_FILES, load_mnist

__all__ = ["DIGITS_SPLIT_SEED", "DIGITS_TEST_FRACTION", "MNIST_FILES", "load_digits", "load_mnist"]
