"""Batch loading from Python: `DataGenerator`, a `keras.utils.PyDataset` that is hard to misuse.

A subclass implements one method, `load_batch(indices)`, and kerasx does the rest: the number
of batches, a new permutation of the samples each epoch drawn from `(seed, epoch)` so that runs
are reproducible and resumable, the partial last batch (or dropping it), checks that every batch
has the structure, shapes and dtypes of the first one, and errors that name the batch.

`fit`, `evaluate` and `predict` accept a `DataGenerator` directly, with the usual `PyDataset`
options `workers`, `use_multiprocessing` and `max_queue_size`. `kerasx.fit` feeds it to Keras
as a `tf.data` pipeline instead, whose `workers` threads call `load_batch` (process workers
keep Keras's queue): faster, and it keeps TensorFlow's `from_generator` out of the process (see
the README's "Loading data batch by batch").

Example:

```python
import numpy as np
import keras
from kerasx.data import DataGenerator

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

Notes:
    Pass `shuffle=False` to `fit`: the generator shuffles the samples itself, from its seed.
    With Keras's default `shuffle=True`, Keras also permutes the order of the batches with
    Python's global `random` module, which `(seed, epoch)` does not control.
"""

from __future__ import annotations

import functools
import math
import numbers
import traceback
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from keras.utils import PyDataset

from kerasx.data._structure import (
    BatchSpec,
    batch_spec,
    describe_spec,
    fast_key,
    first_difference,
    leading_sizes,
    unpicklable_attributes,
)
from kerasx.errors import DataError

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["DataGenerator"]

_SEED_BOUND = 2**31 - 1


def _check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataError(
            f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}. "
            f"Pass a whole number of at least {minimum}."
        )
    return int(value)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"`seed` must be a non-negative integer or None. Received: seed={seed!r}.")
    return int(seed)


def _preview(indices: np.ndarray, limit: int = 6) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:limit])
    return f"[{shown}{', ...' if len(indices) > limit else ''}] ({len(indices)} samples)"


def _wrap_init(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap a subclass `__init__` so a forgotten `super().__init__` is reported at once."""

    @functools.wraps(init)
    def __init__(self: DataGenerator, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if "_kx_num_samples" not in self.__dict__:
            cls = type(self).__name__
            raise DataError(
                f"{cls}.__init__ must call `super().__init__(num_samples, batch_size, **kwargs)`"
                f" so that DataGenerator knows the number of samples, the batch size, the seed "
                f"and the worker options. Received: a {cls} whose __init__ did not call it. "
                f"Add `super().__init__(num_samples, batch_size=batch_size, **kwargs)` to "
                f"{cls}.__init__."
            )
        if self.__dict__.get("_kx_use_multiprocessing"):
            self._check_picklable()

    return __init__


class DataGenerator(PyDataset):
    """A `keras.utils.PyDataset` that loads batches of samples chosen by index.

    Subclass it and implement `load_batch(indices)`; or build one from arrays with
    `DataGenerator.from_arrays` or from a Python generator function with
    `DataGenerator.from_generator`.

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
            picklable, which is checked up front. Defaults to `False`.
        max_queue_size: batches kept ready by the workers. Defaults to `10`.

    Raises:
        DataError: if `num_samples` or `batch_size` is not a positive integer, if
            `drop_remainder=True` leaves no batch, if `seed` is not an integer, or if
            `use_multiprocessing=True` and an attribute cannot be pickled.

    Example:

    ```python
    class Files(DataGenerator):
        def __init__(self, paths, labels, **kwargs):
            super().__init__(len(paths), **kwargs)
            self.paths, self.labels = paths, labels

        def load_batch(self, indices):
            x = np.stack([read_image(self.paths[i]) for i in indices])
            return x, self.labels[indices]
    ```
    """

    _random_access = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_kx_wrapped", False):
            wrapped = _wrap_init(init)
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
        num_samples = _check_positive_int("num_samples", num_samples)
        batch_size = _check_positive_int("batch_size", batch_size)
        workers = _check_positive_int("workers", workers)
        max_queue_size = _check_positive_int("max_queue_size", max_queue_size)
        if drop_remainder and batch_size > num_samples:
            raise DataError(
                "`batch_size` must not exceed `num_samples` when `drop_remainder=True`, or no "
                f"batch is left. Received: batch_size={batch_size}, num_samples={num_samples}. "
                "Use a smaller batch_size or drop_remainder=False."
            )
        seed = int(np.random.randint(0, _SEED_BOUND)) if seed is None else _check_seed(seed)
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
        self._kx_epoch = 0
        self._kx_in_epoch = False
        self._kx_order: tuple[int, int, np.ndarray] | None = None
        self._kx_spec: BatchSpec | None = None
        self._kx_spec_batch = -1
        self._kx_spec_rows = batch_size
        self._kx_fast_key: Any = None
        if type(self) is DataGenerator and self._kx_use_multiprocessing:
            self._check_picklable()

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
        return self._kx_epoch

    @property
    def use_multiprocessing(self) -> bool:
        """Whether Keras loads batches in processes; checks picklability when `True`."""
        value = bool(self.__dict__.get("_use_multiprocessing", False))
        if value and "_kx_num_samples" in self.__dict__:
            self._check_picklable()
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
            "epoch": self._kx_epoch,
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
        if not isinstance(state, dict) or "seed" not in state or "epoch" not in state:
            raise DataError(
                "`state` must be a dict with integer keys 'seed' and 'epoch', as returned by "
                f"get_state(). Received: state={state!r}."
            )
        for key in ("seed", "epoch"):
            value = state[key]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise DataError(
                    f"state[{key!r}] must be a non-negative integer. Received: {key}={value!r}."
                )
        self._kx_seed = int(state["seed"])
        self._kx_epoch = int(state["epoch"])
        self._kx_in_epoch = False

    def __getstate__(self) -> dict[str, Any]:
        # A copy (a worker process, `copy.deepcopy`) leaves out the tf.data pipelines
        # `_threaded_dataset` keeps; they call back into this very object.
        state = dict(self.__dict__)
        state.pop("_kx_thread_datasets", None)
        return state

    # ------------------------------------------------------------------ PyDataset protocol

    def __len__(self) -> int:
        if self._kx_drop_remainder:
            return self._kx_num_samples // self._kx_batch_size
        return math.ceil(self._kx_num_samples / self._kx_batch_size)

    def on_epoch_begin(self) -> None:
        """Called by Keras at the start of each epoch."""
        self._kx_in_epoch = True

    def on_epoch_end(self) -> None:
        """Called by Keras at the end of each epoch: the next epoch gets a new permutation.

        Advances `epoch` by one only after a matching `on_epoch_begin`, so the extra
        `on_epoch_end` calls Keras makes when it resets an iterator do not count.
        """
        if self._kx_in_epoch:
            self._kx_epoch += 1
            self._kx_in_epoch = False

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of an epoch, in the order they are batched.

        Args:
            epoch: the epoch. Defaults to `None`, the current `epoch`.

        Returns:
            An `int64` array, a permutation of `range(num_samples)` (in order if not shuffled).
        """
        epoch = self._kx_epoch if epoch is None else int(epoch)
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
        """
        if "_kx_num_samples" not in self.__dict__:
            raise DataError(
                f"{type(self).__name__} was used before DataGenerator.__init__ ran. Call "
                "`super().__init__(num_samples, batch_size=batch_size, **kwargs)` first in "
                f"{type(self).__name__}.__init__."
            )
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
        indices = self.batch_indices(index)
        try:
            batch = self.load_batch(indices)
        except DataError:
            raise
        except Exception as error:
            raise self._load_error(index, indices, error) from error
        self._check_batch(index, batch)
        return batch

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

    # ------------------------------------------------------------------ checks

    def _origin(self, indices: np.ndarray) -> tuple[str, np.ndarray, bool]:
        """The class whose `load_batch` loads `indices`, the indices it receives, and
        whether this generator is a `split()` view of it (for error messages)."""
        return type(self).__name__, indices, False

    def _owner(self) -> str:
        """Who loads this generator's batches, as error messages name it."""
        cls, _, view = self._origin(np.empty(0, dtype=np.int64))
        return f"a split() view of {cls}" if view else cls

    def _load_error(self, index: int, indices: np.ndarray, error: Exception) -> DataError:
        cls, source, view = self._origin(indices)
        frames = traceback.extract_tb(error.__traceback__)
        where = ""
        if frames:
            where = f" at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}"
        of_view = " of a split() view" if view else ""
        return DataError(
            f"{cls}.load_batch failed on batch {index}{of_view} (epoch {self._kx_epoch}, "
            f"indices {_preview(source)}) with {type(error).__name__}: {error}{where}. The "
            "original traceback is chained above this error; fix load_batch for these indices."
        )

    def _check_batch(self, index: int, batch: Any) -> None:
        key = fast_key(batch)
        if key is not None and key == self._kx_fast_key:
            return
        spec, full_shapes = batch_spec(batch)
        sizes = set(leading_sizes(full_shapes).values())
        if len(sizes) > 1:
            raise DataError(
                f"Batch {index} of {self._owner()}: all arrays of a batch must have the "
                f"same first (batch) dimension. Received shapes: {full_shapes}. Make load_batch "
                "return one row per index for x, y and sample_weight."
            )
        reference = self._kx_spec
        if reference is None:
            self._kx_spec = spec
            self._kx_spec_batch = index
            self._kx_spec_rows = min(sizes) if sizes else self._kx_batch_size
            self._kx_fast_key = key
            return
        difference = first_difference(spec, reference, full_shapes)
        if difference is not None:
            raise DataError(
                f"Batch {index} of {self._owner()} does not match the first batch loaded "
                f"(batch {self._kx_spec_batch}): {difference}. Every batch must have the same "
                "structure, dtypes and shapes except the batch dimension; make load_batch "
                "return the same kind of arrays for every batch."
            )

    def _check_picklable(self) -> None:
        bad, whole = unpicklable_attributes(self)
        if whole is None:
            return
        cls = type(self).__name__
        if bad:
            names = ", ".join(f"`{name}` ({type(err).__name__}: {err})" for name, err in bad)
            what = f"these attributes cannot be pickled: {names}"
        else:
            what = f"it cannot be pickled ({type(whole).__name__}: {whole})"
        raise DataError(
            f"{cls} has use_multiprocessing=True, so each worker process receives a pickled "
            f"copy of it, but {what}. Received: use_multiprocessing=True. "
            "Create such objects (open files, locks, lambdas, connections) lazily inside "
            "load_batch, replace lambdas with module-level functions, or use threads "
            "(use_multiprocessing=False)."
        ) from whole

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
        """
        from kerasx.data._sources import SubsetGenerator

        if not self._random_access:
            raise DataError(
                f"split() needs random access to samples, which {type(self).__name__} (a "
                "Python generator) does not have. Received: a generator built by "
                "from_generator. Split the data before writing the generator function."
            )
        if isinstance(validation_fraction, bool) or not isinstance(
            validation_fraction, numbers.Real
        ) or not 0.0 < float(validation_fraction) < 1.0:
            raise DataError(
                "`validation_fraction` must be a number strictly between 0 and 1. "
                f"Received: validation_fraction={validation_fraction!r}."
            )
        validation_fraction = float(validation_fraction)
        if seed is not None:
            seed = _check_seed(seed)
        n_val = round(self._kx_num_samples * validation_fraction)
        n_train = self._kx_num_samples - n_val
        if n_val < 1 or n_train < 1:
            raise DataError(
                f"split({validation_fraction}) of {self._kx_num_samples} samples leaves "
                f"{n_train} for training and {n_val} for validation; both need at least one. "
                "Use a fraction closer to 0.5 or more samples."
            )
        split_seed = self._kx_seed if seed is None else int(seed)
        order = np.random.default_rng([split_seed, 2**31]).permutation(self._kx_num_samples)
        val_indices = np.sort(order[:n_val])
        train_indices = np.sort(order[n_val:])
        options = {
            "batch_size": self._kx_batch_size,
            "drop_remainder": False,
            "workers": self._workers,
            "use_multiprocessing": self._kx_use_multiprocessing,
            "max_queue_size": self._max_queue_size,
        }
        train = SubsetGenerator(
            self, train_indices, shuffle=self._kx_shuffle, seed=self._kx_seed,
            **{**options, "drop_remainder": self._kx_drop_remainder},
        )
        val = SubsetGenerator(self, val_indices, shuffle=False, seed=self._kx_seed, **options)
        return train, val

    def to_dataset(self) -> tf.data.Dataset:
        """A `tf.data.Dataset` over this generator's batches, with prefetching.

        The element spec is taken from the first batch (batch dimension `None`). Each full pass
        over the dataset is one epoch: it calls `on_epoch_begin()` first and `on_epoch_end()`
        once its last batch is loaded, so the next pass uses the next permutation. `workers`
        tf.data threads load the batches in parallel (one at a time for `from_generator`), and
        the batches come out in order. It uses no `tf.data.Dataset.from_generator` (see the
        README's notes on it). tf.data's autotuning is off in its options (nothing in it is
        autotuned); a `num_parallel_calls=tf.data.AUTOTUNE` you chain onto it then uses one
        thread per CPU core, and `dataset.with_options(...)` with
        `options.autotune.enabled = True` turns it back on.

        Returns:
            A `tf.data.Dataset` of batches.

        Raises:
            DataError: if a value in the first batch has no tensor dtype (such as NumPy
                dates). NumPy strings come out as bytes.
        """
        import tensorflow as tf

        loader = self._batch_loader()
        if loader is None:
            kinds = sorted({str(np.asarray(v).dtype) for v in _leaves(_as_tuples(self[0]))})
            raise DataError(
                f"to_dataset() needs batches of numbers, booleans or strings; batch 0 of "
                f"{self._owner()} holds dtypes {kinds}. Return numbers, booleans or strings "
                "from load_batch (e.g. dates as `a.astype('int64')`)."
            )

        def begin() -> np.int64:
            self.on_epoch_begin()
            return np.int64(0)

        def end() -> np.int64:
            self.on_epoch_end()
            return np.int64(0)

        def after(hook: Callable[[], np.int64], stop: int) -> Callable[[Any], Any]:
            def batches(_: Any) -> Any:
                # The hook's result (0) starts the range, so it runs before any batch loads.
                first = tf.numpy_function(hook, [], tf.int64, stateful=True)
                return loader(tf.data.Dataset.range(first, stop))

            return batches

        one = tf.data.Dataset.range(1)
        passes = one.flat_map(after(begin, len(self))).concatenate(one.flat_map(after(end, 0)))
        return self._with_options(passes.prefetch(self.max_queue_size))

    def _threaded_dataset(self, *, skip_batches: int = 0) -> tf.data.Dataset | None:
        """The batches of each epoch as a `tf.data` pipeline, loaded by `workers` threads.

        `kerasx.fit` trains on this instead of the generator itself when the generator uses
        threads (or no workers). `workers` tf.data threads call `self[i]` in parallel (one
        at a time for `from_generator`, which yields in order) and the batches come out in
        order, as from Keras's queue. Each pass is one epoch, in the order `order()` gives
        for `epoch` while it runs. Nothing here advances `epoch`: call `on_epoch_begin()` and
        `on_epoch_end()` around each pass, as `kerasx.fit` does from a callback.

        Keras feeds a `PyDataset` through `tf.data.Dataset.from_generator`, which is slower.
        It costs about 3 ms per batch here, against under 1 ms. Building one also makes
        TensorFlow 2.21 fix glibc's `M_MMAP_THRESHOLD` at 128 KiB for the whole process, a
        workaround for a memory leak on Python 3.11. After that every allocation of 128 KiB
        or more, NumPy's and TensorFlow's own tensors alike, is a fresh `mmap` whose pages
        fault in as they are first written. This pipeline builds no `from_generator`.

        Args:
            skip_batches: leave out the first batches of each pass (`kerasx.fit` uses it to
                finish an epoch that SIGTERM cut short). Defaults to `0`.

        Returns:
            A `tf.data.Dataset` of batches with the structure, dtypes and shapes of batch 0
            (loaded once per generator), batch dimension `None`. Returns None when a batch
            holds something with no tensor dtype (such as NumPy dates); feed the generator
            itself then.
        """
        import tensorflow as tf

        loader = self._batch_loader()
        if loader is None:
            return None
        skip_batches = min(max(0, int(skip_batches)), len(self))
        datasets = self.__dict__.setdefault("_kx_thread_datasets", {})
        if skip_batches not in datasets:
            batches = loader(tf.data.Dataset.range(skip_batches, len(self)))
            datasets[skip_batches] = self._with_options(batches.prefetch(self.max_queue_size))
        return datasets[skip_batches]

    def _batch_loader(self) -> Callable[[tf.data.Dataset], tf.data.Dataset] | None:
        """A function from a dataset of batch positions to the dataset of those batches,
        loaded by `workers` threads in order; None if a batch has no tensor form.

        Loads batch 0 the first time, for the element spec.
        """
        import tensorflow as tf

        cached = self.__dict__.get("_kx_thread_datasets", {}).get("loader", False)
        if cached is not False:
            return cached
        first = _as_tuples(self[0])
        try:
            specs = [
                tf.TensorSpec((None, *leaf.shape[1:]) if leaf.ndim else (), leaf.dtype)
                for leaf in (np.asarray(value) for value in _leaves(first))
            ]
        except TypeError:  # e.g. NumPy dates: no tensor dtype
            specs = None
        loader = None if specs is None else self._make_loader(tf, first, specs)
        self.__dict__.setdefault("_kx_thread_datasets", {})["loader"] = loader
        return loader

    def _make_loader(
        self, tf: Any, first: Any, specs: list[Any]
    ) -> Callable[[tf.data.Dataset], tf.data.Dataset]:
        dtypes = [spec.dtype for spec in specs]

        def load(index: np.int64) -> list[np.ndarray]:
            return [np.asarray(value) for value in _leaves(_as_tuples(self[int(index)]))]

        # A generator that is not random-access (from_generator) reads its batches in order.
        parallel = self.workers if self._random_access else 1
        # A random-access batch depends only on its position (the epoch's order is fixed
        # while a pass runs), so the call is declared stateless. TensorFlow runs a stateful
        # function one call at a time once op determinism is on (`seed_everything(...,
        # deterministic=True)`), which would turn `workers=2` into one loading thread.
        stateful = not self._random_access

        def element(index: Any) -> Any:
            values = tf.numpy_function(load, [index], dtypes, stateful=stateful)
            for value, spec in zip(values, specs, strict=True):
                value.set_shape(spec.shape)
            return tf.nest.pack_sequence_as(first, values)

        def loader(positions: tf.data.Dataset) -> tf.data.Dataset:
            return positions.map(element, num_parallel_calls=parallel, deterministic=True)

        return loader

    @staticmethod
    def _with_options(dataset: tf.data.Dataset) -> tf.data.Dataset:
        import tensorflow as tf

        options = tf.data.Options()
        # The pipeline calls into this Python object, which TensorFlow cannot serialise; a
        # strategy splitting batches across replicas must not try to.
        options.experimental_external_state_policy = (
            tf.data.experimental.ExternalStatePolicy.IGNORE
        )
        # Nothing here is autotuned (fixed workers, a fixed queue). Left on, tf.data's
        # autotuning made dropping a used iterator, which Keras does at each epoch's start,
        # block for 0.1-0.6 s in about one epoch in seven measured here.
        options.autotune.enabled = False
        return dataset.with_options(options)

    # ------------------------------------------------------------------ description

    def describe(self) -> str:
        """A few lines about the generator: samples, batches, order, workers, batch structure.

        Loads batch 0 if no batch was loaded yet, to show the structure.

        Returns:
            The description.
        """
        if self._kx_spec is None:
            self[0]
        lines = [self._summary_line()]
        workers = (
            f"workers={self._workers}, use_multiprocessing={self._kx_use_multiprocessing}, "
            f"max_queue_size={self._max_queue_size}"
        )
        lines.append(f"  {workers}")
        if self._kx_spec is not None:
            lines.append(f"  batch structure (from batch {self._kx_spec_batch}):")
            lines.extend("  " + line for line in describe_spec(self._kx_spec, self._spec_rows()))
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
            f"shuffle={self._kx_shuffle}, seed={self._kx_seed}, epoch={self._kx_epoch}"
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
        """
        from kerasx.data._sources import ArrayGenerator

        generator = ArrayGenerator(
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
            fn: a function with no arguments returning an iterator of batches (like the
                article's `def generate_arrays(): ... yield (x, y)`). It may be infinite.
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
        """
        from kerasx.data._sources import GeneratorWrapper

        return GeneratorWrapper(
            fn, steps=steps, workers=workers, use_multiprocessing=use_multiprocessing,
            max_queue_size=max_queue_size,
        )


def _as_tuples(batch: Any) -> Any:
    """Lists become tuples (tf.data and Keras read a tuple as `(x, y, sample_weight)`)."""
    if isinstance(batch, list):
        return tuple(_as_tuples(item) for item in batch)
    if isinstance(batch, tuple):
        return tuple(_as_tuples(item) for item in batch)
    if isinstance(batch, dict):
        return {key: _as_tuples(value) for key, value in batch.items()}
    return batch


def _leaves(batch: Any) -> list[Any]:
    """The arrays of a batch, in `tf.nest`'s order (dict keys sorted)."""
    import tensorflow as tf

    return list(tf.nest.flatten(batch))
