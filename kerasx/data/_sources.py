"""Private `DataGenerator` subclasses behind `from_arrays`, `from_generator` and `split`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from kerasx.data._generator import DataGenerator, _check_positive_int, _preview
from kerasx.errors import DataError

__all__ = ["ArrayGenerator", "GeneratorWrapper", "SubsetGenerator"]


def _leaves(value: Any, path: str) -> list[tuple[str, Any]]:
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

    Lists and tuples come back as lists; dicts keep their keys.
    """
    if isinstance(value, dict):
        return {key: take_rows(item, rows) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [take_rows(item, rows) for item in value]
    return value[rows]


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

    def __getstate__(self) -> dict[str, Any]:
        # Worker processes get the arrays, not the TensorFlow copy `tensor_dataset` keeps.
        state = super().__getstate__()
        state.pop("_kx_tensors", None)
        state.pop("_kx_datasets", None)
        return state

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
                    f"the batch of indices {_preview(indices)}. Return both, e.g. "
                    "`return x_batch, y_batch` (y_batch may be None)."
                )
            x, y = result
        if y is None and self.sample_weight is None:
            return (x,)
        if self.sample_weight is None:
            return (x, y)
        return (x, y, take_rows(self.sample_weight, rows))


    def tensor_dataset(self, *, skip_batches: int = 0) -> Any:
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
        import tensorflow as tf

        if self.transform is not None:
            raise DataError(
                "tensor_dataset() gathers batches in TensorFlow, so it cannot apply a Python "
                "`transform`. Received: a generator with transform="
                f"{self.transform!r}. Use the generator itself (or `to_dataset()`)."
            )
        parts = [self.x] if self.y is None else [self.x, self.y]
        if self.sample_weight is not None:
            parts.append(self.sample_weight)
        # Converting copies the arrays (about 0.25 s for 60,000 x 784 floats), so it is done
        # once per generator, like building a `from_tensor_slices` dataset once.
        sources = (self.x, self.y, self.sample_weight)
        cached = self.__dict__.get("_kx_tensors")
        if cached is not None and all(a is b for a, b in zip(cached[0], sources)):
            tensors = cached[1]
        else:
            tensors = tf.nest.map_structure(tf.convert_to_tensor, tuple(_as_tuple_lists(parts)))
            self._kx_tensors = (sources, tensors)
            self._kx_datasets: dict[tuple[int, int, bool, int], Any] = {}
        size, drop = self._kx_batch_size, self._kx_drop_remainder
        skip_batches = min(max(0, int(skip_batches)), len(self))
        # Building the pipeline traces its functions (about 60 ms), so each one is kept and
        # reused by later `fit` calls: it reads the generator's epoch each time it starts.
        key = (skip_batches, size, drop, self._kx_num_samples)
        datasets = self.__dict__.setdefault("_kx_datasets", {})
        if key not in datasets:
            datasets[key] = self._build_tensor_dataset(tensors, skip_batches)
        return datasets[key]

    def _build_tensor_dataset(self, tensors: Any, skip_batches: int) -> Any:
        """The pipeline behind `tensor_dataset`: one `tf.gather` per chunk of batches.

        Rows are gathered up to 64 batches (8 MiB) at a time, one `tf.gather` per array,
        and the chunk is then cut into batches by `unbatch()`, which only slices, as
        `from_tensor_slices(...).batch()` does. Each chunk reads its indices from `order()`
        (cached per epoch) when it is gathered. The pipeline is flat on purpose: tf.data
        instantiates every function and op of a pipeline again for each iterator, and
        Keras makes one per epoch. A pass of a per-pass nested `flat_map` took about 17 ms
        to set up and 30 ms to its first batch here (60,000 x 784 floats), this one about 9
        and 13 ms; a `tf.gather` per batch cost about 0.2 ms more CPU per batch.
        """
        import tensorflow as tf

        size, drop = self._kx_batch_size, self._kx_drop_remainder
        start = skip_batches * size
        count = max(0, self._kx_num_samples - start)
        full = count // size
        rest = 0 if drop else count - full * size
        span = _batches_per_chunk(tensors, size) * size

        def chunk_rows(chunk: np.int64) -> np.ndarray:
            low = start + int(chunk) * span
            return self.order()[low : min(low + span, start + full * size)].astype(np.int64)

        def rest_rows() -> np.ndarray:
            return self.order()[start + full * size :].astype(np.int64)

        def rows_of(chosen: Any) -> Any:
            return tf.nest.map_structure(lambda t: tf.gather(t, chosen), tensors)

        def chunk(index: Any) -> Any:
            chosen = tf.numpy_function(chunk_rows, [index], tf.int64, stateful=True)
            chosen.set_shape([None])
            return tf.nest.map_structure(
                lambda r: tf.reshape(r, [-1, size, *r.shape[1:].as_list()]), rows_of(chosen)
            )

        def last(_: Any) -> Any:
            chosen = tf.numpy_function(rest_rows, [], tf.int64, stateful=True)
            chosen.set_shape([rest])
            return rows_of(chosen)

        dataset = tf.data.Dataset.range(-(-full * size // span)).map(chunk).unbatch()
        if rest:
            dataset = dataset.concatenate(tf.data.Dataset.range(1).map(last))
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(self) - skip_batches))
        options = tf.data.Options()
        # tf.data's default graph rewrites serialise the pipeline, arrays included, each time
        # an iterator is made (about 0.1 s per epoch for 60,000 x 784 floats); they gain
        # nothing on a gather pipeline.
        options.experimental_optimization.apply_default_optimizations = False
        options.experimental_external_state_policy = (
            tf.data.experimental.ExternalStatePolicy.IGNORE
        )
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        # tf.data's autotuning has nothing to tune here but the prefetch buffer, which tf.data
        # then sizes by itself. Left on, dropping a used iterator (Keras does at each epoch's
        # start) blocked for 0.1-1 s in about a quarter of the epochs measured here.
        options.autotune.enabled = False
        return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


_CHUNK_BYTES = 8 << 20
"""`tensor_dataset` gathers about this many bytes of rows per op (at most 64 batches)."""


def _batches_per_chunk(tensors: Any, batch_size: int) -> int:
    import tensorflow as tf

    row_bytes = sum(
        t.dtype.size * max(1, t.shape[1:].num_elements() or 1) for t in tf.nest.flatten(tensors)
    )
    return max(1, min(64, _CHUNK_BYTES // max(1, row_bytes * batch_size)))


def _as_tuple_lists(value: Any) -> Any:
    """Lists become tuples, as in the batches `__getitem__` returns to Keras."""
    if isinstance(value, list | tuple):
        return tuple(_as_tuple_lists(item) for item in value)
    if isinstance(value, dict):
        return {key: _as_tuple_lists(item) for key, item in value.items()}
    return value


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
        steps = _check_positive_int("steps", steps)
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
        return self._kx_spec_rows  # the first batch's, as yielded

    def _summary_line(self) -> str:
        name = getattr(self.fn, "__name__", repr(self.fn))
        return (
            f"{type(self).__name__} over {name}(): {self._kx_num_samples:,} batches per epoch, "
            f"in the order the generator yields them (re-created each epoch); "
            f"epoch={self._kx_epoch}"
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
