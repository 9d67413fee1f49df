"""`DataGenerator`: the `keras.utils.PyDataset` protocol and the epoch state.

The order of the samples, the batches, their checks (`_checks.py`) and the state that makes a
run resumable live here; the tf.data feeds live in `_pipeline.py`, and the subclasses behind
`from_arrays`, `from_generator` and `split` in `_sources.py`, which names them in
`_registry.py` (it imports this module, so this module does not import it).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from keras.utils import PyDataset

from kerasx.data import _pipeline
from kerasx.data._checks import (
    BatchChecker,
    check_initialised,
    check_picklable,
    check_positive_int,
    check_seed,
    check_state,
    checked_init,
    load_error,
)
from kerasx.data._epochs import EpochCounter
from kerasx.data._registry import constructor
from kerasx.data._structure import describe_spec
from kerasx.data._workers import close_worker_pool
from kerasx.errors import DataError

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["DataGenerator"]

_SEED_BOUND = 2**31 - 1

class DataGenerator(PyDataset):
    """A `keras.utils.PyDataset` that loads batches of samples chosen by index.

    Subclass it and implement `load_batch(indices)`; or build one from arrays with
    `DataGenerator.from_arrays` or from a Python generator function with
    `DataGenerator.from_generator`.

    `fit`, `evaluate` and `predict` accept a `DataGenerator` directly, with the usual
    `PyDataset` options `workers`, `use_multiprocessing` and `max_queue_size`. `kerasx.fit`
    feeds it to Keras as a `tf.data` pipeline instead, whose `workers` threads call
    `load_batch` (with `use_multiprocessing=True`, `workers` processes started once per
    `fit`): faster, and it keeps TensorFlow's `from_generator` out of the process (see the
    data guide, docs/guides/data.md).
    Pass `shuffle=False` to `fit`: the generator shuffles the samples itself, from its seed.
    With Keras's default `shuffle=True`, Keras also permutes the order of the batches with
    Python's global `random` module, which `(seed, epoch)` does not control.

    The order of the samples in epoch `e` is a pure function of `(seed, e)`: the same seed gives
    the same batches in every run, a new epoch gives a new order, and `get_state` /
    `set_state` let a resumed run continue with exactly the permutation an uninterrupted run
    would use. The epoch counter advances once per epoch, in `on_epoch_end` after a matching
    `on_epoch_begin` (Keras also calls `on_epoch_end` when it resets an iterator; those calls do
    not advance it).

    Args:
        num_samples: number of samples; `load_batch` receives indices in `[0, num_samples)`.
        batch_size: samples per batch. Defaults to `32`.
        shuffle: draw a new permutation of the samples each epoch. Defaults to `True`.
        seed: seed of the permutations. `None` draws one from NumPy's global random generator at
            construction (so `keras.utils.set_random_seed` makes it reproducible) and keeps it in
            `get_state()`. Defaults to `None`.
        drop_remainder: drop the last batch when it has fewer than `batch_size` samples.
            Defaults to `False`.
        workers: threads (or processes) that load batches in parallel during `fit`.
            Defaults to `1`.
        use_multiprocessing: use processes instead of threads; the generator must then be
            picklable, which is checked up front. Each worker gets a copy of the generator
            when it starts: forked on Linux, pickled elsewhere (see `close`). Defaults to
            `False`.
        max_queue_size: batches kept ready by the workers. Defaults to `10`.

    Raises:
        DataError: if `num_samples` or `batch_size` is not a positive integer, if
            `drop_remainder=True` leaves no batch, if `seed` is not an integer, or if
            `use_multiprocessing=True` and an attribute cannot be pickled.

    Example:

    ```python
    class Squares(DataGenerator):
        def __init__(self, n, **kwargs):
            super().__init__(n, **kwargs)
            self.x = np.arange(n, dtype="float32")[:, None]

        def load_batch(self, indices):
            x = self.x[indices]
            return x, x**2

    gen = Squares(100, batch_size=16, seed=0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(gen, epochs=2, shuffle=False, verbose=0)
    ```
    """

    _random_access = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_kx_wrapped", False):
            wrapped = checked_init(init)
            wrapped._kx_wrapped = True  # type: ignore[attr-defined]
            cls.__init__ = wrapped  # type: ignore[method-assign]

    def __init__(
        self,
        num_samples: int,
        batch_size: int = 32,
        *,
        shuffle: bool = True,
        seed: int | None = None,
        drop_remainder: bool = False,
        workers: int = 1,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
    ) -> None:
        num_samples = check_positive_int("num_samples", num_samples)
        batch_size = check_positive_int("batch_size", batch_size)
        workers = check_positive_int("workers", workers)
        max_queue_size = check_positive_int("max_queue_size", max_queue_size)
        if drop_remainder and batch_size > num_samples:
            raise DataError(
                "`batch_size` must not exceed `num_samples` when `drop_remainder=True`, or no "
                f"batch is left. Received: batch_size={batch_size}, num_samples={num_samples}. "
                "Use a smaller batch_size or drop_remainder=False."
            )
        seed = int(np.random.randint(0, _SEED_BOUND)) if seed is None else check_seed(seed)
        super().__init__(
            workers=workers, use_multiprocessing=bool(use_multiprocessing),
            max_queue_size=max_queue_size,
        )
        self._kx_num_samples = num_samples
        self._kx_batch_size = batch_size
        self._kx_shuffle = bool(shuffle)
        self._kx_seed = int(seed)
        self._kx_drop_remainder = bool(drop_remainder)
        self._kx_use_multiprocessing = bool(use_multiprocessing)
        self._kx_epochs = EpochCounter()
        self._kx_order: tuple[int, int, np.ndarray] | None = None
        self._kx_checker = BatchChecker(batch_size)
        if type(self) is DataGenerator and self._kx_use_multiprocessing:
            check_picklable(self)

    # ------------------------------------------------------------------ properties

    @property
    def num_samples(self) -> int:
        """Number of samples."""
        return self._kx_num_samples

    @property
    def batch_size(self) -> int:
        """Samples per batch (the last batch may have fewer unless `drop_remainder`)."""
        return self._kx_batch_size

    @property
    def shuffle(self) -> bool:
        """Whether each epoch uses a new permutation of the samples."""
        return self._kx_shuffle

    @property
    def seed(self) -> int:
        """Seed of the permutations (drawn at construction when none was given)."""
        return self._kx_seed

    @property
    def drop_remainder(self) -> bool:
        """Whether a last batch smaller than `batch_size` is dropped."""
        return self._kx_drop_remainder

    @property
    def epoch(self) -> int:
        """The epoch whose permutation `__getitem__` uses now."""
        return self._kx_epochs.epoch

    @property
    def use_multiprocessing(self) -> bool:
        """Whether Keras loads batches in processes; checks picklability when `True`."""
        value = bool(self.__dict__.get("_use_multiprocessing", False))
        if value and "_kx_num_samples" in self.__dict__:
            check_picklable(self)
        return value

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = bool(value)
        self._kx_use_multiprocessing = bool(value)

    # ------------------------------------------------------------------ state

    def get_state(self) -> dict[str, Any]:
        """The state that fixes the order of the samples: seed and epoch (JSON-serialisable).

        Returns:
            `{"seed": int, "epoch": int, "num_samples": int, "batch_size": int,
            "shuffle": bool}`.
        """
        return {
            "seed": self._kx_seed,
            "epoch": self._kx_epochs.epoch,
            "num_samples": self._kx_num_samples,
            "batch_size": self._kx_batch_size,
            "shuffle": self._kx_shuffle,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore `seed` and `epoch` from `get_state()` (e.g. before resuming at an epoch).

        Only `seed` and `epoch` are restored; the other keys are informative.

        Args:
            state: a dict with integer `seed` and `epoch` (`epoch` >= 0).

        Raises:
            DataError: if `state` lacks `seed` or `epoch` or they are not non-negative integers.
        """
        self._kx_seed, epoch = check_state(state)
        self._kx_epochs.set(epoch)

    def __getstate__(self) -> dict[str, Any]:
        # A copy (a worker process, `copy.deepcopy`) leaves out the tf.data pipelines the
        # feeds keep; they call back into this very object.
        return _pipeline.without_caches(dict(self.__dict__))

    # ------------------------------------------------------------------ PyDataset protocol

    def __len__(self) -> int:
        if self._kx_drop_remainder:
            return self._kx_num_samples // self._kx_batch_size
        return math.ceil(self._kx_num_samples / self._kx_batch_size)

    def on_epoch_begin(self) -> None:
        """Called by Keras at the start of each epoch."""
        self._kx_epochs.begin()

    def on_epoch_end(self) -> None:
        """Called at the end of each epoch: the next epoch gets a new permutation.

        Advances `epoch` by one after a matching `on_epoch_begin`, as Keras calls them, or,
        without one, once every batch of the epoch was read, as a loop that follows the
        `keras.utils.Sequence` contract does. The extra `on_epoch_end` calls Keras makes when
        it resets an iterator do not advance it.
        """
        self._kx_epochs.end(len(self))

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of an epoch, in the order they are batched.

        Args:
            epoch: the epoch. Defaults to `None`, the current `epoch`.

        Returns:
            An `int64` array, a permutation of `range(num_samples)` (in order if not shuffled).
        """
        epoch = self._kx_epochs.epoch if epoch is None else int(epoch)
        cached = self._kx_order
        if cached is not None and cached[0] == self._kx_seed and cached[1] == epoch:
            return cached[2]
        if self._kx_shuffle:
            order = np.random.default_rng([self._kx_seed, epoch]).permutation(
                self._kx_num_samples
            )
        else:
            order = np.arange(self._kx_num_samples)
        self._kx_order = (self._kx_seed, epoch, order)
        return order

    def batch_indices(self, index: int) -> np.ndarray:
        """The sample indices of batch `index` in the current epoch.

        Args:
            index: batch position, `0 <= index < len(self)`.

        Returns:
            The indices `load_batch` receives for that batch.

        Raises:
            IndexError: if `index` is out of range.
            DataError: if `DataGenerator.__init__` has not run.
        """
        check_initialised(self)
        count = len(self)
        if not -count <= index < count:
            raise IndexError(
                f"Batch index out of range: the generator has {count} batches. "
                f"Received: index={index}."
            )
        index %= count
        start = index * self._kx_batch_size
        return self.order()[start : start + self._kx_batch_size]

    def __getitem__(self, index: int) -> Any:
        indices = self._indices_to_read(index)
        batch = self._load_indices(index, indices)
        self._check_batch(index, batch)
        return batch

    def _indices_to_read(self, index: int) -> np.ndarray:
        """`batch_indices(index)`, counted as a read of the epoch (see `on_epoch_end`)."""
        indices = self.batch_indices(index)
        self._kx_epochs.read(index % len(self))
        return indices

    def _load_indices(self, index: int, indices: np.ndarray) -> Any:
        """`load_batch(indices)` for batch `index`; a failure becomes the `DataError` that
        names the batch (in a worker process too)."""
        try:
            return self.load_batch(indices)
        except DataError:
            raise
        except Exception as error:
            epoch = self._kx_epochs.epoch
            raise load_error(self._origin(indices), index, epoch, error) from error

    def _check_batch(self, index: int, batch: Any) -> None:
        """Check batch `index` against the first batch loaded."""
        self._kx_checker.check(index, batch, self._owner)

    def load_batch(self, indices: np.ndarray) -> Any:
        """Load the samples at `indices` as one batch. Subclasses implement this.

        Args:
            indices: `int64` array of sample indices (a slice of this epoch's permutation).

        Returns:
            `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`, where each of `x`, `y` and
            `sample_weight` is an array or a dict/list of arrays whose first dimension is the
            number of indices.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement `load_batch(self, indices)` returning "
            "x, (x, y) or (x, y, sample_weight) for the given sample indices; or build the "
            "generator with DataGenerator.from_arrays(...) or DataGenerator.from_generator(...)."
        )

    def _origin(self, indices: np.ndarray) -> tuple[str, np.ndarray, bool]:
        """The class whose `load_batch` loads `indices`, the indices it receives, and
        whether this generator is a `split()` view of it (for error messages)."""
        return type(self).__name__, indices, False

    def _owner(self) -> str:
        """Who loads this generator's batches, as error messages name it."""
        cls, _, view = self._origin(np.empty(0, dtype=np.int64))
        return f"a split() view of {cls}" if view else cls

    # ------------------------------------------------------------------ views and conversions

    def split(
        self, validation_fraction: float, *, seed: int | None = None
    ) -> tuple[DataGenerator, DataGenerator]:
        """Split the samples into a training and a validation generator, without copying data.

        Both views call this generator's `load_batch` with indices of their own subset. The
        training view shuffles like this generator (same seed); the validation view does not
        shuffle. Each view has its own epoch counter.

        Args:
            validation_fraction: share of the samples for validation, strictly between 0 and 1.
            seed: seed of the split. Defaults to `None`, this generator's seed.

        Returns:
            `(train, val)` generators with this generator's batch size and worker options.

        Raises:
            DataError: if the fraction is not in (0, 1), leaves one side empty, or the
                generator has no random access (built by `from_generator`).

        Example:

        ```python
        train, val = DataGenerator.from_arrays(x, y, seed=0).split(0.2)
        model.fit(train, validation_data=val, epochs=2, shuffle=False)
        ```
        """
        return constructor("split")(self, validation_fraction, seed=seed)

    def to_dataset(self) -> tf.data.Dataset:
        """A `tf.data.Dataset` over this generator's batches, with prefetching.

        The element spec is taken from the first batch (batch dimension `None`), and the
        length (`cardinality()`) is `len(self)`. Each pass over the dataset is one epoch: it
        calls `on_epoch_begin()` first and `on_epoch_end()` once its last batch is loaded (a
        pass left early ends when the next one begins), so the next pass uses the next
        permutation. `workers`
        tf.data threads load the batches in parallel (one at a time for `from_generator`), and
        the batches come out in order; with `use_multiprocessing=True`, `workers` processes
        load them, started by the first pass and reused by the next ones until `close()`. It
        uses no `tf.data.Dataset.from_generator` (see the data guide, docs/guides/data.md).
        tf.data's autotuning is off in its options (nothing in it is autotuned); a
        `num_parallel_calls=tf.data.AUTOTUNE` you chain onto it then uses one thread per CPU
        core, and `dataset.with_options(...)` with
        `options.autotune.enabled = True` turns it back on.

        Returns:
            A `tf.data.Dataset` of batches.

        Raises:
            DataError: if a value in the first batch has no tensor dtype (such as NumPy
                dates). NumPy strings come out as bytes.

        Example:

        ```python
        dataset = DataGenerator.from_arrays(x, y, batch_size=32, seed=0).to_dataset()
        model.fit(dataset, epochs=2)
        ```
        """
        return _pipeline.to_dataset(self)

    def close(self) -> None:
        """Stop the worker processes that load this generator's batches, if any run.

        With `use_multiprocessing=True`, `kerasx.fit` and `to_dataset()` load the batches in
        `workers` processes, started by the first batch and reused by every epoch. Each
        gets a copy of the generator when it starts (forked on Linux, pickled elsewhere):
        changes made to the generator later reach them only after a restart. `kerasx.fit`
        stops them when training ends. A dataset from `to_dataset()` keeps them until this
        call, until the generator is garbage-collected, or until Python exits; its next pass
        starts them again. Nothing happens for thread workers.

        Example:

        ```python
        dataset = generator.to_dataset()    # generator has use_multiprocessing=True
        model.fit(dataset, epochs=5)
        generator.close()
        ```
        """
        close_worker_pool(self)

    def _threaded_dataset(self, *, skip_batches: int = 0) -> tf.data.Dataset | None:
        """The batches of each epoch loaded by `workers` threads, or None when a batch has
        no tensor form: `kerasx.data._pipeline.threaded_dataset`. Nothing here advances
        `epoch`: call `on_epoch_begin()` and `on_epoch_end()` around each pass."""
        return _pipeline.threaded_dataset(self, skip_batches=skip_batches)

    # ------------------------------------------------------------------ description

    def describe(self) -> str:
        """A few lines about the generator: samples, batches, order, workers, batch structure.

        Loads batch 0 if no batch was loaded yet, to show the structure.

        Returns:
            The description.
        """
        checker = self._kx_checker
        if checker.spec is None:
            self[0]
        lines = [
            self._summary_line(),
            f"  workers={self.workers}, use_multiprocessing={self._kx_use_multiprocessing}, "
            f"max_queue_size={self.max_queue_size}",
        ]
        if checker.spec is not None:
            lines.append(f"  batch structure (from batch {checker.spec_batch}):")
            lines.extend("  " + line for line in describe_spec(checker.spec, self._spec_rows()))
        return "\n".join(lines)

    def _spec_rows(self) -> int:
        """The batch dimension `describe` shows: the batch size."""
        return self._kx_batch_size

    def _summary_line(self) -> str:
        n, size = self._kx_num_samples, self._kx_batch_size
        batches = len(self)
        last = n - (batches - 1) * size if not self._kx_drop_remainder else size
        tail = f", last batch {last}" if last != size else ""
        dropped = n - batches * size if self._kx_drop_remainder else 0
        tail += f", {dropped} dropped per epoch" if dropped else ""
        return (
            f"{type(self).__name__}: {n:,} samples in {batches:,} batches of {size}{tail}; "
            f"shuffle={self._kx_shuffle}, seed={self._kx_seed}, epoch={self.epoch}"
        )

    def __repr__(self) -> str:
        if "_kx_num_samples" not in self.__dict__:
            return f"<{type(self).__name__} (DataGenerator.__init__ not called)>"
        return f"<{self._summary_line()}>"

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_arrays(
        cls,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        transform: Callable[[Any, Any], Any] | None = None,
        **kwargs: Any,
    ) -> DataGenerator:
        """A generator over in-memory arrays.

        Args:
            x: an array, or a dict or list of arrays (multi-input models).
            y: targets: an array, a dict or list of arrays, or `None`. Defaults to `None`.
            sample_weight: an array or `None`. Defaults to `None`.
            batch_size: samples per batch. Defaults to `32`.
            shuffle: new permutation each epoch. Defaults to `True`. Without `y` (inputs
                for `predict`), pass `shuffle=False`: a `UserWarning` says so otherwise.
            seed: seed of the permutations. Defaults to `None` (drawn once, see the class).
            transform: `transform(x_batch, y_batch)` applied to each batch (augmentation); it
                returns `(x_batch, y_batch)`. Defaults to `None`.
            **kwargs: `drop_remainder`, `workers`, `use_multiprocessing`, `max_queue_size`.

        Returns:
            A `DataGenerator` whose batches are `x`, `(x, y)` or `(x, y, sample_weight)`.

        Raises:
            DataError: if the arrays have different lengths (naming them) or no samples.

        Example:

        ```python
        x = np.random.rand(100, 4).astype("float32")
        y = x.sum(axis=1, keepdims=True)
        gen = DataGenerator.from_arrays(x, y, batch_size=16, seed=0)
        model.fit(gen, epochs=2, shuffle=False)
        ```
        """
        generator = constructor("from_arrays")(
            x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, seed=seed,
            transform=transform, **kwargs,
        )
        if y is None and shuffle:
            warnings.warn(
                "DataGenerator.from_arrays(x) without targets shuffles its samples (shuffle=True "
                "is the default), so `model.predict` on it returns predictions in a shuffled "
                "order. Pass shuffle=False to predict; to train on `x` alone, keep "
                "shuffle=True and filter this warning.",
                UserWarning,
                stacklevel=2,
            )
        return generator

    @classmethod
    def from_generator(
        cls,
        fn: Callable[[], Iterable[Any]],
        *,
        steps: int,
        workers: int = 1,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
    ) -> DataGenerator:
        """Wrap a Python generator function that yields batches; it is re-created each epoch.

        Batch `i` of an epoch is the `i`-th batch `fn()` yields; asking for an earlier batch
        re-creates the generator, so `fn` should yield the same batches each time it is called
        (or at least the same structure). Access is serialised with a lock.

        Args:
            fn: a function with no arguments returning an iterator of batches, like a Keras 2
                style `def generate_arrays(): ... yield (x, y)`. It may be infinite.
            steps: batches per epoch.
            workers: threads (or processes) loading batches. Defaults to `1`.
            use_multiprocessing: use processes; `fn` must then be picklable (a module-level
                function). Defaults to `False`.
            max_queue_size: batches kept ready by the workers. Defaults to `10`.

        Returns:
            A `DataGenerator` of `steps` batches per epoch.

        Raises:
            DataError: if `steps` is not a positive integer; when iterating, if `fn()` yields
                fewer than `steps` batches (naming the batch index).

        Example:

        ```python
        def generate_arrays():
            while True:
                yield np.zeros((8, 4), "float32"), np.zeros((8, 1), "float32")

        gen = DataGenerator.from_generator(generate_arrays, steps=10)
        model.fit(gen, epochs=2, shuffle=False)
        ```
        """
        return constructor("from_generator")(
            fn, steps=steps, workers=workers, use_multiprocessing=use_multiprocessing,
            max_queue_size=max_queue_size,
        )
