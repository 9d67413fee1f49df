"""The batches `lr_find` trains on, cycled until the run has its steps.

- In-memory NumPy arrays (or a list or dict of them): shuffled batches of `batch_size`
  samples, a new permutation each pass, drawn from `seed`; the last partial batch of a pass is
  dropped, so every step sees a full batch (all the samples when there are fewer than
  `batch_size`).
- A `DataGenerator` (any `keras.utils.PyDataset`): its batches in index order, read with
  `data[i]`, so its epoch and order are left as they were.
- A `tf.data.Dataset` of batches: iterated again from its start whenever it runs out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

from kerasx.data._sources import take_rows
from kerasx.errors import ConfigurationError, DataError

__all__ = ["DEFAULT_BATCH_SIZE", "lr_find_batches"]

DEFAULT_BATCH_SIZE = 32
"""Samples per batch `lr_find` draws from arrays when no `batch_size` is given (Keras's)."""

_SEED_BOUND = 2**31 - 1

_ACCEPTED = (
    "`x` must be NumPy arrays (an array, or a list or dict of arrays, with `y` as the "
    "targets), a kerasx `DataGenerator` (or any `keras.utils.PyDataset`) or a "
    "`tf.data.Dataset` of `(x, y)` batches"
)


def _is_dataset(x: Any) -> bool:
    import tensorflow as tf

    return isinstance(x, tf.data.Dataset)


def _array_leaves(value: Any) -> list[Any] | None:
    """The leaves of `value` if every one is a NumPy array, else None."""
    leaves = keras.tree.flatten(value)
    if leaves and all(isinstance(leaf, np.ndarray) for leaf in leaves):
        return leaves
    return None


def _sample_count(x: Any, y: Any) -> int:
    """The number of samples every array of `x` and `y` holds (DataError if they differ)."""
    leaves = keras.tree.flatten(x) + (keras.tree.flatten(y) if y is not None else [])
    sizes = {leaf.shape[0] if leaf.ndim else 0 for leaf in leaves}
    if len(sizes) != 1 or 0 in sizes:
        shapes = [tuple(leaf.shape) for leaf in leaves]
        raise DataError(
            "The arrays of `x` and `y` must hold the same number of samples, at least one. "
            f"Received: arrays of shapes {shapes}. Pass matching arrays."
        )
    return sizes.pop()


def _array_batches(x: Any, y: Any, count: int, batch_size: int, seed: int) -> Iterator[Any]:
    """Shuffled full batches of the `count` samples of `x` (and `y`), a new permutation each
    pass."""
    size = min(batch_size, count)
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(count)
        for start in range(0, count - size + 1, size):
            rows = order[start : start + size]
            if y is None:  # a 1-tuple: Keras reads a list of two inputs as (x, y)
                yield (take_rows(x, rows),)
            else:
                yield take_rows(x, rows), take_rows(y, rows)


def _pydataset_batches(data: Any, count: int | None) -> Iterator[Any]:
    """A PyDataset's `count` batches in index order, again and again (None: an endless
    one, read on)."""
    indices = itertools.cycle(range(count)) if count is not None else itertools.count()
    for index in indices:
        yield data[index]


def _dataset_batches(dataset: Any) -> Iterator[Any]:
    """A dataset's elements, iterated again from the start whenever it runs out."""
    while True:
        empty = True
        for element in dataset:
            empty = False
            yield element
        if empty:
            raise DataError(
                "The tf.data.Dataset yields no batches. Received: an empty dataset. Check its "
                "`take`, `filter` or `batch(..., drop_remainder=True)` steps."
            )


def lr_find_batches(
    x: Any, y: Any, *, batch_size: int | None, seed: int | None
) -> Iterator[Any]:
    """An endless iterator over the training batches `lr_find` draws from `x` (and `y`).

    Args:
        x: NumPy arrays (an array, a list or a dict), a `keras.utils.PyDataset` (a kerasx
            `DataGenerator`) or a `tf.data.Dataset` of batches.
        y: the targets of array inputs, else None.
        batch_size: samples per batch from arrays (None for `DEFAULT_BATCH_SIZE`); must be
            None for a generator or a dataset, which batch their data themselves.
        seed: the seed of the permutations of array inputs; None draws one from NumPy's
            global generator (so `keras.utils.set_random_seed` fixes it).

    Returns:
        An iterator that never ends: the batches, cycled.

    Raises:
        ConfigurationError: for an input of another kind, `y` or `batch_size` with a
            generator or a dataset, or a `batch_size` that is not a positive integer.
        DataError: for arrays of different lengths, or a generator or dataset without batches.
    """
    batched = _is_dataset(x) or isinstance(x, keras.utils.PyDataset)
    if batched:
        kind = "tf.data.Dataset" if _is_dataset(x) else type(x).__name__
        for name, value in (("y", y), ("batch_size", batch_size)):
            if value is not None:
                raise ConfigurationError(
                    f"With a {kind} as `x`, `{name}` must be None: the {kind} yields whole "
                    f"batches of inputs and targets. Received: {name}={value!r}."
                )
        if _is_dataset(x):
            return _dataset_batches(x)
        count = x.num_batches
        if count is not None and count < 1:
            raise DataError(
                f"The {kind} has no batches. Received: len(x) == {count}. Give lr_find a "
                "generator with at least one batch."
            )
        return _pydataset_batches(x, count)
    if _array_leaves(x) is None:
        raise ConfigurationError(f"{_ACCEPTED}. Received: x of type {type(x).__name__}.")
    if y is not None and _array_leaves(y) is None:
        raise ConfigurationError(
            "With array inputs, `y` must be NumPy arrays (an array, or a list or dict of "
            f"arrays) or None. Received: y of type {type(y).__name__}."
        )
    if batch_size is None:
        batch_size = DEFAULT_BATCH_SIZE
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(
            f"`batch_size` must be a positive integer or None. Received: "
            f"batch_size={batch_size!r}."
        )
    count = _sample_count(x, y)
    if seed is None:
        seed = int(np.random.randint(0, _SEED_BOUND))
    return _array_batches(x, y, count, batch_size, int(seed))
