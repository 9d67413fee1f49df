"""Small real datasets that ship inside the package, so demos and tests work offline.

`load_digits` returns the 8x8 handwritten digits of the UCI "Optical Recognition of Handwritten
Digits" data set (E. Alpaydin and C. Kaynak, 1998; UCI Machine Learning Repository,
https://doi.org/10.24432/C50P49; licensed CC BY 4.0). The copy here is the 1,797-sample
8x8 version, stored as a compressed NumPy file of about 46 KB.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DIGITS_TEST_SIZE", "DIGITS_TRAIN_SIZE", "load_digits"]

DIGITS_TRAIN_SIZE = 1437
"""Samples in the training split of `load_digits` (80%)."""

DIGITS_TEST_SIZE = 360
"""Samples in the test split of `load_digits` (20%)."""


def load_digits() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load the 8x8 handwritten digits, split into train and test like `keras.datasets`.

    The file stores the 1,797 samples in one fixed shuffled order (a permutation drawn once with
    NumPy's `default_rng(0)`); the first 1,437 are the training split and the last 360 the test
    split. Every call returns the same split.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` arrays are `uint8` of shape `(n, 8, 8)` with
        pixel values from 0 to 16 (divide by 16 to scale to [0, 1]); `y` arrays are `uint8`
        class labels 0-9.

    Example:

    >>> from kerasx.datasets import load_digits
    >>> (x_train, y_train), (x_test, y_test) = load_digits()
    >>> x_train.shape, x_test.shape
    ((1437, 8, 8), (360, 8, 8))
    """
    import numpy as np

    source = resources.files("kerasx.datasets") / "digits.npz"
    with resources.as_file(source) as path, np.load(path) as data:
        x, y = data["x"], data["y"]
    split = DIGITS_TRAIN_SIZE
    return (x[:split], y[:split]), (x[split:], y[split:])
