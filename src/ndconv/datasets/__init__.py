"""Data: the UCI handwritten digits and MNIST for the CNN examples, and a sample photograph.

Both loaders return ``(X_train, y_train), (X_test, y_test)`` with ``X``
float32 of shape ``(n, 1, H, W)`` scaled to [0, 1] and ``y`` int64.
"""

from ._digits import DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION, load_digits
from ._mnist import MNIST_FILES, load_mnist
from ._sample import sample_image, sample_image_path

__all__ = ["DIGITS_SPLIT_SEED", "DIGITS_TEST_FRACTION", "MNIST_FILES", "load_digits", "load_mnist", "sample_image",
           "sample_image_path"]
