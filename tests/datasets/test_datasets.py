"""The embedded digits data set."""

from __future__ import annotations

import numpy as np

from kerasx.datasets import DIGITS_TEST_SIZE, DIGITS_TRAIN_SIZE, load_digits


def test_digits_shapes_dtypes_and_ranges():
    (x_train, y_train), (x_test, y_test) = load_digits()
    assert x_train.shape == (DIGITS_TRAIN_SIZE, 8, 8) == (1437, 8, 8)
    assert x_test.shape == (DIGITS_TEST_SIZE, 8, 8) == (360, 8, 8)
    assert y_train.shape == (1437,) and y_test.shape == (360,)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert x_train.min() == 0 and x_train.max() == 16
    assert set(np.unique(y_train)) == set(range(10))
    assert set(np.unique(y_test)) == set(range(10))


def test_digits_split_is_fixed_and_classes_are_balanced():
    (x1, y1), (t1, u1) = load_digits()
    (x2, y2), (t2, u2) = load_digits()
    for first, second in ((x1, x2), (y1, y2), (t1, t2), (u1, u2)):
        np.testing.assert_array_equal(first, second)
    counts = np.bincount(np.concatenate([y1, u1]), minlength=10)
    assert counts.sum() == 1797
    assert counts.min() >= 170 and counts.max() <= 190


def test_digits_train_and_test_do_not_share_samples():
    (x_train, _), (x_test, _) = load_digits()
    train_rows = {row.tobytes() for row in x_train.reshape(len(x_train), -1)}
    shared = sum(row.tobytes() in train_rows for row in x_test.reshape(len(x_test), -1))
    assert shared == 0
