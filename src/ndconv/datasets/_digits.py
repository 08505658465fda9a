"""The 1,797 real 8×8 handwritten digits of the UCI repository, offline.

The images come from scikit-learn, which ships them with the package
(``sklearn.datasets.load_digits``: the test part of the UCI "Optical
Recognition of Handwritten Digits" data set, E. Alpaydin and C. Kaynak, 1998,
CC BY 4.0; 8×8 blocks of 4×4 pixel counts, values 0…16).
"""

from __future__ import annotations

import numpy as np

#: the split is the same on every machine and every call
DIGITS_SPLIT_SEED = 0
#: share of each class kept for testing
DIGITS_TEST_FRACTION = 0.2


def load_digits():
    """The UCI handwritten digits, split into a fixed training and test set.

    Returns
    -------
    (X_train, y_train), (X_test, y_test)
        ``X`` float32 of shape ``(n, 1, 8, 8)`` scaled to [0, 1] (pixel counts
        divided by 16), ``y`` int64 labels 0–9.  1,438 training and 359 test
        images.

    Notes
    -----
    The split is stratified: within each class the images are permuted by
    ``numpy.random.default_rng(DIGITS_SPLIT_SEED)`` and the last
    ``round(DIGITS_TEST_FRACTION · count)`` go to the test set; both sets keep
    the original order of the data set.  The data are read from
    scikit-learn's copy, so no network is needed.

    Examples
    --------
    >>> from ndconv.datasets import load_digits
    >>> (X_train, y_train), (X_test, y_test) = load_digits()
    >>> X_train.shape, X_test.shape, X_train.dtype, y_train.dtype
    ((1438, 1, 8, 8), (359, 1, 8, 8), dtype('float32'), dtype('int64'))
    >>> float(X_train.min()), float(X_train.max())
    (0.0, 1.0)
    """
    try:
        from sklearn.datasets import load_digits as _sklearn_digits
    except ImportError as exc:  # pragma: no cover - scikit-learn is a dependency
        raise ImportError("load_digits reads the digits shipped with scikit-learn: pip install scikit-learn") from exc
    data = _sklearn_digits()
    images = (np.asarray(data.images, dtype=np.float32) / 16.0)[:, None, :, :]
    labels = np.asarray(data.target, dtype=np.int64)
    rng = np.random.default_rng(DIGITS_SPLIT_SEED)
    test = np.zeros(labels.size, dtype=bool)
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        count = int(round(DIGITS_TEST_FRACTION * members.size))
        test[rng.permutation(members)[members.size - count:]] = True
    return (images[~test], labels[~test]), (images[test], labels[test])
