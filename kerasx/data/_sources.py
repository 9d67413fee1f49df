"""The `DataGenerator` subclasses behind `from_arrays`, `from_generator` and `split`.

They are named to `DataGenerator` by the `register_constructors` call at the end of this
module, so `kerasx.data` loads `DataGenerator` through this module. `take_rows` and
`has_random_access` are shared with `kerasx.training`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from kerasx.data import _pipeline
from kerasx.data._checks import (
    check_fraction,
    check_positive_int,
    check_random_access,
    check_seed,
    check_split_sizes,
    preview,
)
from kerasx.data._generator import DataGenerator
from kerasx.data._registry import register_constructors
from kerasx.errors import DataError

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = [
    "ArrayGenerator",
    "DataGenerator",
    "GeneratorWrapper",
    "SubsetGenerator",
    "has_random_access",
    "split_views",
    "take_rows",
]


def _leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    """`(path, array)` for every array in `value`, in insertion order, paths as messages
    name them (`x['a']`, `y[1]`). `keras.tree.flatten_with_path` sorts dict keys instead."""
    if isinstance(value, dict):
        out: list[tuple[str, Any]] = []
        for key, item in value.items():
            out.extend(_leaves(item, f"{path}[{key!r}]"))
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for i, item in enumerate(value):
            out.extend(_leaves(item, f"{path}[{i}]"))
        return out
    return [(path, value)]


def _as_arrays(value: Any) -> Any:
    """Arrays stay as they are (no copy); lists of numbers and other sequences become arrays."""
    if isinstance(value, dict):
        return {key: _as_arrays(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and value and all(
        hasattr(item, "shape") for item in value
    ):
        return [_as_arrays(item) for item in value]
    if hasattr(value, "shape") and hasattr(value, "__getitem__"):
        return value
    return np.asarray(value)


def take_rows(value: Any, rows: Any) -> Any:
    """The rows `rows` of every array in `value` (an array, or a dict, list or tuple of them).

    Lists and tuples come back as lists (where `keras.tree.map_structure` would keep a
    tuple); dicts keep their keys.

    Args:
        value: an array, or a nested dict, list or tuple of arrays.
        rows: what selects rows of each array: a slice or an array of indices.

    Returns:
        `value` with `array[rows]` in place of each array.

    Example:

    ```python
    take_rows({"a": np.arange(5), "b": (np.ones(5), np.zeros(5))}, slice(0, 2))
    # {"a": array([0, 1]), "b": [array([1., 1.]), array([0., 0.])]}
    ```
    """
    if isinstance(value, dict):
        return {key: take_rows(item, rows) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [take_rows(item, rows) for item in value]
    return value[rows]


def has_random_access(generator: DataGenerator) -> bool:
    """Whether `generator` can load any batch by its index, in any order.

    True for `DataGenerator` subclasses, `from_arrays` and `split` generators; False for those
    that `from_generator` builds, which follow a Python generator's order. `kerasx.fit` can
    start a generator with random access part-way into an epoch (to resume a mid-epoch
    state), and `split()` needs it.

    Args:
        generator: a `DataGenerator`.

    Returns:
        Whether it has random access.
    """
    return bool(generator._random_access)


class ArrayGenerator(DataGenerator):
    """Batches of in-memory arrays (see `DataGenerator.from_arrays`)."""

    def __init__(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        transform: Callable[[Any, Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if x is None:
            raise DataError("`x` must be an array or a dict/list of arrays. Received: x=None.")
        x = _as_arrays(x)
        y = None if y is None else _as_arrays(y)
        sample_weight = None if sample_weight is None else _as_arrays(sample_weight)
        lengths: dict[str, int] = {}
        for name, value in (("x", x), ("y", y), ("sample_weight", sample_weight)):
            if value is None:
                continue
            for path, leaf in _leaves(value, name):
                shape: tuple[int, ...] = tuple(getattr(leaf, "shape", ()))
                if len(shape) == 0:
                    raise DataError(
                        f"Every array given to from_arrays needs a first (sample) dimension. "
                        f"Received: {path} with shape {shape}."
                    )
                lengths[path] = int(shape[0])
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{path}: {n}" for path, n in lengths.items())
            raise DataError(
                "x, y and sample_weight must have the same number of samples (first "
                f"dimension). Received: {listed}. Pass arrays of equal length."
            )
        if transform is not None and not callable(transform):
            raise DataError(
                f"`transform` must be callable as transform(x_batch, y_batch). "
                f"Received: transform={transform!r}."
            )
        num_samples = next(iter(lengths.values()))
        if num_samples < 1:
            raise DataError(
                f"from_arrays needs at least one sample. Received: arrays of length 0 "
                f"({', '.join(lengths)})."
            )
        self.x = x
        self.y = y
        self.sample_weight = sample_weight
        self.transform = transform
        super().__init__(num_samples, **kwargs)

    def load_batch(self, indices: np.ndarray) -> Any:
        rows: Any = indices
        if len(indices) > 1 and indices[-1] - indices[0] == len(indices) - 1 and bool(
            np.all(np.diff(indices) == 1)
        ):
            rows = slice(int(indices[0]), int(indices[-1]) + 1)  # a view, no copy
        x = take_rows(self.x, rows)
        y = None if self.y is None else take_rows(self.y, rows)
        if self.transform is not None:
            result = self.transform(x, y)
            if not isinstance(result, tuple | list) or len(result) != 2:
                name = getattr(self.transform, "__name__", repr(self.transform))
                got = f"a {type(result).__name__}" + (
                    f" of length {len(result)}" if isinstance(result, tuple | list) else ""
                )
                raise DataError(
                    f"transform {name} must return (x_batch, y_batch). Received: {got} for "
                    f"the batch of indices {preview(indices)}. Return both, e.g. "
                    "`return x_batch, y_batch` (y_batch may be None)."
                )
            x, y = result
        if y is None and self.sample_weight is None:
            return (x,)
        if self.sample_weight is None:
            return (x, y)
        return (x, y, take_rows(self.sample_weight, rows))

    def tensor_dataset(self, *, skip_batches: int = 0) -> tf.data.Dataset:
        """The same batches as `self[i]`, gathered by TensorFlow instead of Python.

        Each pass over the dataset is one epoch, in the order `order()` gives for the
        generator's `epoch` while the pass runs (each chunk of batches reads it as it is
        gathered, so change `epoch` only between passes). Nothing here advances `epoch`: the
        caller does, as `kerasx.fit` does with a callback. Only for generators without
        `transform`.

        The arrays are copied into TensorFlow the first time (and again only if `x`, `y` or
        `sample_weight` is replaced by another array): like `from_tensor_slices`, the dataset
        does not see later in-place changes to them.

        Args:
            skip_batches: leave out the first batches of each pass (`kerasx.fit` uses it to
                finish an epoch that SIGTERM cut short). Defaults to `0`.

        Returns:
            A `tf.data.Dataset` of `(x,)`, `(x, y)` or `(x, y, sample_weight)` batches.

        Raises:
            DataError: if the generator has a `transform`.
        """
        return _pipeline.tensor_dataset(self, skip_batches=skip_batches)


class GeneratorWrapper(DataGenerator):
    """Batches yielded by a Python generator function (see `DataGenerator.from_generator`)."""

    _random_access = False

    def __init__(
        self,
        fn: Callable[[], Iterable[Any]],
        *,
        steps: int,
        workers: int = 1,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
    ) -> None:
        if not callable(fn):
            raise DataError(
                "`fn` must be a function returning an iterator of batches (a generator "
                f"function). Received: fn={fn!r}."
            )
        steps = check_positive_int("steps", steps)
        self.fn = fn
        self._iterator: Iterator[Any] | None = None
        self._position = 0
        self._lock = threading.Lock()
        super().__init__(
            steps, 1, shuffle=False, seed=0, workers=workers,
            use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
        )

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_iterator"] = None  # a live generator cannot cross processes; each re-creates it
        state["_position"] = 0
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def load_batch(self, indices: np.ndarray) -> Any:
        with self._lock:
            return self._batch_at(int(indices[0]))

    def _batch_at(self, target: int) -> Any:
        if self._iterator is None or target < self._position:
            self._iterator = iter(self.fn())
            self._position = 0
        while True:
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._iterator = None
                produced = self._position
                raise DataError(
                    f"The generator function {getattr(self.fn, '__name__', self.fn)!r} yielded "
                    f"only {produced} batches, fewer than steps={self._kx_num_samples}, so "
                    f"batch {target} does not exist. Make it yield at least `steps` batches "
                    f"(e.g. loop with `while True:`) or pass steps={produced}."
                ) from None
            self._position += 1
            if self._position - 1 == target:
                return batch

    def on_epoch_end(self) -> None:
        super().on_epoch_end()
        self._iterator = None  # the next epoch re-creates the generator

    def _spec_rows(self) -> int:
        return self._kx_checker.rows  # the first batch's, as yielded

    def _summary_line(self) -> str:
        name = getattr(self.fn, "__name__", repr(self.fn))
        return (
            f"{type(self).__name__} over {name}(): {self._kx_num_samples:,} batches per epoch, "
            f"in the order the generator yields them (re-created each epoch); "
            f"epoch={self.epoch}"
        )


class SubsetGenerator(DataGenerator):
    """A view of some samples of another generator (see `DataGenerator.split`)."""

    def __init__(self, parent: DataGenerator, subset: np.ndarray, **kwargs: Any) -> None:
        self.parent = parent
        self.subset = np.asarray(subset, dtype=np.int64)
        super().__init__(len(self.subset), **kwargs)

    def load_batch(self, indices: np.ndarray) -> Any:
        return self.parent.load_batch(self.subset[indices])

    def _origin(self, indices: np.ndarray) -> tuple[str, np.ndarray, bool]:
        cls, source, _ = self.parent._origin(self.subset[indices])
        return cls, source, True


def split_views(
    generator: DataGenerator, validation_fraction: float, *, seed: int | None = None
) -> tuple[SubsetGenerator, SubsetGenerator]:
    """The training and validation views `DataGenerator.split` returns.

    Args:
        generator: the generator to split.
        validation_fraction: share of the samples for validation, strictly between 0 and 1.
        seed: seed of the split. Defaults to `None`, the generator's seed.

    Returns:
        `(train, val)`: views of sorted, disjoint subsets of the samples. `train` shuffles
        like `generator` and keeps its `drop_remainder`; `val` does not shuffle.

    Raises:
        DataError: if the generator has no random access, or the fraction is not in (0, 1)
            or leaves one side empty, or `seed` is not a non-negative integer.
    """
    check_random_access(generator)
    validation_fraction = check_fraction(validation_fraction)
    split_seed = generator.seed if seed is None else check_seed(seed)
    num_samples = generator.num_samples
    n_val = round(num_samples * validation_fraction)
    n_train = num_samples - n_val
    check_split_sizes(validation_fraction, num_samples, n_train, n_val)
    order = np.random.default_rng([split_seed, 2**31]).permutation(num_samples)
    options = {
        "batch_size": generator.batch_size,
        "seed": generator.seed,
        "workers": generator.workers,
        "use_multiprocessing": generator._kx_use_multiprocessing,
        "max_queue_size": generator.max_queue_size,
    }
    train = SubsetGenerator(
        generator, np.sort(order[n_val:]), shuffle=generator.shuffle,
        drop_remainder=generator.drop_remainder, **options,
    )
    val = SubsetGenerator(
        generator, np.sort(order[:n_val]), shuffle=False, drop_remainder=False, **options
    )
    return train, val


register_constructors(
    from_arrays=ArrayGenerator, from_generator=GeneratorWrapper, split=split_views
)
