"""The training input of `kerasx.fit`: what `model.fit` is given, and how an epoch is resumed.

- `prepare_input(...)`: plain NumPy arrays become a `DataGenerator.from_arrays`, and a
  `DataGenerator` becomes a `tf.data` pipeline with the same batches in the same order
  (gathered by TensorFlow, or loaded by `workers` threads or worker processes). The result, a
  `Feed`, also says whether SIGTERM can save a state in the middle of an epoch, and owns the
  worker processes: they start with the first batch of a `model.fit` call and stop when it
  ends (or when the feed is closed or collected).
- `train_input(feed, skip)`: the input of the next `model.fit` call, from batch `skip` on.
- `targets_of(x)`, `batches_per_epoch(...)`, `data_error_in(error)`: what `fit` reads from it.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from typing import Any

import keras

from kerasx.errors import DataError
from kerasx.models._compile import fit_jit_compile
from kerasx.training._distribute import is_multi_worker

__all__ = [
    "Feed",
    "batches_per_epoch",
    "data_error_in",
    "gathers_in_tensorflow",
    "is_dataset",
    "pipeline_steps",
    "prepare_input",
    "targets_of",
    "train_input",
]


class _RemainingBatches(keras.utils.PyDataset):
    """The batches of a `DataGenerator` from `skip` on: the rest of an epoch SIGTERM cut short.

    Keras calls it exactly as it would call the generator, so the generator's epoch advances
    as usual when the epoch ends.
    """

    def __init__(self, generator: Any, skip: int) -> None:
        super().__init__(
            workers=generator.workers,
            use_multiprocessing=generator.use_multiprocessing,
            max_queue_size=generator.max_queue_size,
        )
        self.generator = generator
        self.skip = skip

    def __len__(self) -> int:
        return len(self.generator) - self.skip

    def __getitem__(self, index: int) -> Any:
        return self.generator[index + self.skip]

    def on_epoch_begin(self) -> None:
        self.generator.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.generator.on_epoch_end()


class _WorkerProcesses(keras.callbacks.Callback):
    """Stop the worker processes of the feed's generators when a `model.fit` call ends.

    `train_input` lets them start again before each call; they start with the first batch.
    """

    def __init__(self, pools: list[Any]) -> None:
        super().__init__()
        self.pools = pools

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        _close_pools(self.pools)


def _close_pools(pools: list[Any]) -> None:
    for pool in pools:
        pool.close()


class _GeneratorEpochs(keras.callbacks.Callback):
    """Call a `DataGenerator`'s epoch hooks when `fit` feeds it as a `tf.data` pipeline.

    Keras calls a `PyDataset`'s `on_epoch_begin` and `on_epoch_end` itself, but not those of
    a pipeline made from one (`tensor_dataset`, `threaded_dataset`). A training generator
    gets them at each epoch's start and end, a validation generator around each evaluation.
    Keras ends a `PyDataset`'s epoch before the callbacks' `on_epoch_end`; this callback goes
    first in the list, so checkpoints see the same generator state either way.
    """

    def __init__(self, generator: Any, *, validation: bool = False) -> None:
        super().__init__()
        self.generator = generator
        self.validation = validation

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.validation:
            self.generator.on_epoch_begin()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.validation:
            self.generator.on_epoch_end()

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.validation:
            self.generator.on_epoch_begin()

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.validation:
            self.generator.on_epoch_end()


@dataclass
class Feed:
    """The input of `model.fit`, as `prepare_input` arranged it.

    Attributes:
        x, y, batch_size, validation_data, validation_split: for `model.fit`.
        fit_kwargs: the other `model.fit` arguments (`shuffle` set, `sample_weight` moved
            into the generator when arrays became one).
        generator: the training data when it has `get_state`/`set_state` (a
            `DataGenerator`), else None.
        mid_epoch: whether SIGTERM can save a state in the middle of an epoch and a resumed
            run skip the batches already trained.
        threads: whether `x` is `generator`'s threaded pipeline.
        processes: whether `x` is `generator`'s pipeline fed by worker processes.
        pools: the worker-process pools of the training and validation generators.
        callbacks: callbacks that call the generators' epoch hooks and stop the worker
            processes; they go first.

    A feed is a context manager: leaving it (or `close()`) stops the worker processes, also
    when training raised. They also stop when the feed is garbage-collected.
    """

    x: Any
    y: Any
    batch_size: int | None
    validation_data: Any
    validation_split: float
    fit_kwargs: dict[str, Any]
    generator: Any = None
    mid_epoch: bool = False
    threads: bool = False
    processes: bool = False
    pools: list[Any] = field(default_factory=list)
    callbacks: list[Any] = field(default_factory=list)

    def add_pool(self, pool: Any) -> None:
        """Own `pool`: it stops when a `model.fit` call ends and when the feed closes."""
        if not self.pools:
            self.callbacks.append(_WorkerProcesses(self.pools))
            weakref.finalize(self, _close_pools, self.pools)
        self.pools.append(pool)

    def close(self) -> None:
        """Stop the worker processes of the feed's generators (safe to call repeatedly)."""
        _close_pools(self.pools)

    def __enter__(self) -> Feed:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def gathers_in_tensorflow(x: Any) -> bool:
    """Whether `x` is a `DataGenerator.from_arrays` generator `fit` can feed through tf.data.

    Only plain in-memory arrays without a Python `transform` qualify: TensorFlow then gathers
    each batch from the permutation `order()` gives, the exact batches `x[i]` would return,
    without Keras's Python-generator bridge.
    """
    from kerasx.data._sources import ArrayGenerator

    return type(x) is ArrayGenerator and x.transform is None


def is_dataset(x: Any) -> bool:
    """Whether `x` is a `tf.data.Dataset`."""
    import tensorflow as tf

    return isinstance(x, tf.data.Dataset)


def _numpy_leaves(value: Any) -> list[Any] | None:
    """The arrays of `value` (an array, or a flat list/tuple/dict of arrays), else None."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return [value]
    items = list(value.values()) if isinstance(value, dict) else value
    if isinstance(items, list | tuple) and items and all(
        isinstance(item, np.ndarray) for item in items
    ):
        return list(items)
    return None


def _samples_for_generator(x: Any, y: Any, fit_kwargs: dict[str, Any]) -> int | None:
    """The number of samples of in-memory `x`/`y` that kerasx's generator can feed, or None
    to leave them to Keras: not plain NumPy, an option the generator does not have
    (`class_weight`, `steps_per_epoch`, `shuffle="batch"`, tensor sample weights), or arrays
    Keras reports as mismatched or empty itself."""
    import numpy as np

    x_leaves, y_leaves = _numpy_leaves(x), _numpy_leaves(y) if y is not None else []
    weights = fit_kwargs.get("sample_weight")
    shuffle = fit_kwargs.get("shuffle", True)
    if x_leaves is None or y_leaves is None or not isinstance(shuffle, bool):
        return None
    if weights is not None and not isinstance(weights, np.ndarray):
        return None
    if any(fit_kwargs.get(name) is not None for name in ("class_weight", "steps_per_epoch")):
        return None
    leaves = [*x_leaves, *y_leaves, *([weights] if weights is not None else [])]
    sizes = {leaf.shape[0] if leaf.ndim else -1 for leaf in leaves}
    if len(sizes) != 1 or min(sizes) < 1:
        return None
    return sizes.pop()


def _arrays_as_generator(
    x: Any,
    y: Any,
    batch_size: int | None,
    validation_data: Any,
    validation_split: float,
    seed: int | None,
    fit_kwargs: dict[str, Any],
) -> tuple[Any, Any] | None:
    """In-memory NumPy `x`/`y` as a `DataGenerator.from_arrays`, or None to leave them to Keras.

    `kerasx.fit` feeds plain arrays through its own generator, which TensorFlow then gathers
    in chunks (`tensor_dataset()`), and the data order is a function of `(seed, epoch)` that
    a run state records, so SIGTERM can save a state in the middle of an epoch and resume can
    skip the batches already trained. `validation_split` is applied as Keras applies it: the
    last fraction of the samples, before any shuffling.

    Returns:
        `(generator, validation_data)`, or None.
    """
    from kerasx.data._sources import ArrayGenerator, take_rows

    size = _samples_for_generator(x, y, fit_kwargs)
    if size is None:
        return None
    weights = fit_kwargs.get("sample_weight")
    split = float(validation_split or 0.0)
    if split and validation_data is None:
        split_at = math.floor(size * (1.0 - split))
        if y is None or not 0 < split_at < size:
            return None
        train, held_out = slice(0, split_at), slice(split_at, None)
        validation: tuple[Any, ...] = (take_rows(x, held_out), take_rows(y, held_out))
        if weights is not None:
            validation = (*validation, weights[held_out])
        x, y = take_rows(x, train), take_rows(y, train)
        weights = None if weights is None else weights[train]
        validation_data = validation
    shuffle = fit_kwargs.get("shuffle", True)
    generator = ArrayGenerator(
        x, y, weights, batch_size=batch_size or 32, shuffle=shuffle, seed=seed
    )
    fit_kwargs.pop("sample_weight", None)
    return generator, validation_data


def _skips_batches(x: Any, fit_kwargs: dict[str, Any]) -> bool:
    """Whether `fit` can start `x` part-way into an epoch (to resume a mid-epoch state)."""
    from kerasx.data import DataGenerator
    from kerasx.data._sources import has_random_access

    if "steps_per_epoch" in fit_kwargs or not isinstance(x, DataGenerator):
        return False
    return gathers_in_tensorflow(x) or has_random_access(x)


def _feeds_in_threads(x: Any, model: Any) -> bool:
    """Whether `fit` feeds the `DataGenerator` `x` through its threaded pipeline.

    That is a generator using threads (or none), outside a multi-worker strategy (which
    keeps Keras's own feeding of a `PyDataset`), with a batch structure tensors can hold.
    Process workers stay with Keras's queue.
    """
    from kerasx.data import DataGenerator

    return (
        isinstance(x, DataGenerator)
        and not x.use_multiprocessing
        and not gathers_in_tensorflow(x)
        and not is_multi_worker(model)
        and _threaded(x) is not None
    )


def _threaded(generator: Any, skip: int = 0) -> Any:
    """`generator`'s batches from `skip` on, loaded by its `workers` tf.data threads."""
    from kerasx.data._pipeline import threaded_dataset

    return threaded_dataset(generator, skip_batches=skip)


def _feeds_in_processes(x: Any, model: Any) -> bool:
    """Whether `fit` feeds the `DataGenerator` `x` through worker processes started once.

    That is a generator with `use_multiprocessing=True` (and not a `from_arrays` one
    TensorFlow gathers), outside a multi-worker strategy, with a batch structure tensors can
    hold.
    """
    from kerasx.data import DataGenerator
    from kerasx.data._pipeline import uses_processes

    return (
        isinstance(x, DataGenerator)
        and uses_processes(x)
        and not gathers_in_tensorflow(x)
        and not is_multi_worker(model)
        and _in_processes(x) is not None
    )


def _in_processes(generator: Any, skip: int = 0) -> Any:
    """`generator`'s batches from `skip` on, loaded by its worker processes."""
    from kerasx.data._pipeline import process_dataset

    return process_dataset(generator, skip_batches=skip)


def _add_workers(feed: Feed, generator: Any) -> None:
    from kerasx.data._workers import worker_pool

    feed.add_pool(worker_pool(generator))


def _generator_pipeline(feed: Feed, model: Any) -> None:
    """Feed a `DataGenerator` training input through tf.data: same batches, same order."""
    x = feed.x
    if "steps_per_epoch" in feed.fit_kwargs:
        return
    if gathers_in_tensorflow(x):
        # Same batches, same order, without a Python call per batch.
        feed.callbacks.append(_GeneratorEpochs(x))
        feed.x = x.tensor_dataset()
    elif _feeds_in_threads(x, model):
        # Same batches, same order, loaded by `workers` tf.data threads.
        feed.threads = True
        feed.callbacks.append(_GeneratorEpochs(x))
        feed.x = _threaded(x)
    elif _feeds_in_processes(x, model):
        # Same batches, same order, loaded by worker processes that start once per call.
        feed.processes = True
        feed.callbacks.append(_GeneratorEpochs(x))
        _add_workers(feed, x)
        feed.x = _in_processes(x)


def prepare_input(
    model: Any,
    x: Any,
    y: Any,
    *,
    batch_size: int | None,
    validation_data: Any,
    validation_split: float,
    seed: int | None,
    fit_kwargs: dict[str, Any],
    resumable: bool,
) -> Feed:
    """Arrange the training and validation input of `kerasx.fit` for `model.fit`.

    Args:
        model: the model to train.
        x, y, batch_size, validation_data, validation_split: as given to `kerasx.fit`.
        seed: the seed of the data order for arrays that become a generator, or None.
        fit_kwargs: the other `model.fit` arguments; a copy is arranged.
        resumable: whether the run has a directory (SIGTERM then saves mid-epoch states).

    Returns:
        The `Feed`.

    A model compiled by `kerasx.models.compile` with `jit_compile="auto"` learns here whether
    every batch has one shape (`kerasx.models._compile.fit_jit_compile`).
    """
    fit_kwargs = dict(fit_kwargs)
    converted = _arrays_as_generator(
        x, y, batch_size, validation_data, validation_split, seed, fit_kwargs
    )
    if converted is not None:
        (x, validation_data), y, batch_size, validation_split = converted, None, None, 0.0
        fit_kwargs["shuffle"] = False  # the generator shuffles, from (seed, epoch)
    elif is_dataset(x):
        # Keras ignores `shuffle` for a tf.data.Dataset, but warns about its own default.
        fit_kwargs.setdefault("shuffle", False)
    feed = Feed(x, y, batch_size, validation_data, validation_split, fit_kwargs)
    if hasattr(x, "get_state") and hasattr(x, "set_state"):
        feed.generator = x
        # A DataGenerator shuffles its samples itself, from (seed, epoch). Keras's own batch
        # shuffle would draw from Python's global RNG, which resume cannot replay.
        fit_kwargs.setdefault("shuffle", False)
        feed.mid_epoch = resumable and _skips_batches(x, fit_kwargs)
        _generator_pipeline(feed, model)
    if _feeds_in_threads(validation_data, model):
        feed.callbacks.append(_GeneratorEpochs(validation_data, validation=True))
        feed.validation_data = _threaded(validation_data)
    elif _feeds_in_processes(validation_data, model):
        feed.callbacks.append(_GeneratorEpochs(validation_data, validation=True))
        _add_workers(feed, validation_data)
        feed.validation_data = _in_processes(validation_data)
    fit_jit_compile(model, _one_shape(x) and _one_shape(validation_data))
    return feed


def _one_shape(data: Any) -> bool:
    """Whether every batch of `data` has one shape apart from the batch dimension: NumPy
    arrays (or nested dicts, lists and tuples of them; None counts as no data), or a
    `from_arrays` generator TensorFlow gathers."""
    import numpy as np

    if gathers_in_tensorflow(data):
        return True
    leaves = keras.tree.flatten(data) if isinstance(data, dict | list | tuple) else [data]
    return all(leaf is None or isinstance(leaf, np.ndarray) for leaf in leaves)


def train_input(feed: Feed, skip: int) -> Any:
    """The training input of the next `model.fit` call: from batch `skip` of the current
    epoch on when `skip` > 0 (finishing an epoch SIGTERM cut short), else `feed.x`.

    The feed's worker processes may start again for the call (the previous call's end
    stopped them).
    """
    for pool in feed.pools:
        pool.open()
    if not skip:
        return feed.x
    generator = feed.generator
    if gathers_in_tensorflow(generator):
        return generator.tensor_dataset(skip_batches=skip)
    if feed.threads:
        return _threaded(generator, skip)
    if feed.processes:
        return _in_processes(generator, skip)
    return _RemainingBatches(generator, skip)


def pipeline_steps(dataset: Any) -> int | None:
    """`steps_per_epoch` for a pipeline `fit` built from a `DataGenerator`: its length.

    Without it, Keras 3 makes two iterators per epoch (one at the start, one at the end that
    the next epoch throws away); with it, the one made at the end serves the next epoch. The
    reuse is safe because an iterator starts its pass (and reads the generator's epoch) at
    its first batch, after the next epoch's callbacks have run. Multi-worker runs shard the
    pipeline, so they are left without it.
    """
    count = int(dataset.cardinality())
    return count if count > 0 else None


def data_error_in(error: BaseException) -> DataError | None:
    """The `DataError` a generator raised, out of the TensorFlow error that carries it.

    Keras runs a `PyDataset` inside a `tf.data` pipeline, which turns the generator's
    exception into an `InvalidArgumentError` whose message holds the original's text (and,
    from worker processes, its remote traceback). The returned error has that text; the
    TensorFlow error, with the whole traceback, becomes its cause.
    """
    import tensorflow as tf

    if isinstance(error, DataError) or not isinstance(error, tf.errors.OpError):
        return None
    message = str(getattr(error, "message", error))
    marker = "DataError: "
    start = message.find(marker)
    if start < 0:
        return None
    text = message[start + len(marker) :].split("\n", 1)[0].strip()
    return DataError(text) if text else None


def _target_stand_in(leaf: Any) -> Any:
    """A one-row zero array with the shape of the `TensorSpec` `leaf` (unknown sizes 1, an
    unknown last axis 0: no class axis), or None for an unknown or zero rank."""
    import numpy as np

    shape = leaf.shape
    if shape.rank is None or shape.rank == 0:
        return None
    sizes = [1 if size is None else int(size) for size in shape[1:]]
    if sizes and shape[-1] is None:
        sizes[-1] = 0  # an unknown last axis is no class axis
    return np.zeros((1, *sizes), dtype="float32")


def targets_of(x: Any) -> Any:
    """The targets of a `DataGenerator` or `tf.data.Dataset` of `(x, y, ...)`, for
    `resolve_labels`.

    A generator's arrays or first batch; for a dataset, a one-row stand-in with the shape of
    its `y` (`resolve_labels` reads only shapes), read from its `element_spec` without
    running the pipeline. None when there are none, or when a target's rank is unknown.
    """
    from kerasx.data import DataGenerator
    from kerasx.data._sources import ArrayGenerator

    if isinstance(x, ArrayGenerator):
        return x.y
    if isinstance(x, DataGenerator):
        batch = x[0]
        return batch[1] if isinstance(batch, tuple) and len(batch) > 1 else None
    if is_dataset(x):
        spec = x.element_spec
        if not isinstance(spec, tuple) or len(spec) < 2:
            return None
        return keras.tree.map_structure(_target_stand_in, spec[1])
    return None


def batches_per_epoch(feed: Feed, x: Any) -> int | None:
    """How many batches one epoch of `model.fit` on `x` (from `feed`) has, or None."""
    steps = feed.fit_kwargs.get("steps_per_epoch")
    if steps is not None:
        return int(steps)
    if isinstance(x, keras.utils.PyDataset):
        count = x.num_batches
        return int(count) if count is not None else None
    if is_dataset(x):
        count = int(x.cardinality())
        return count if count > 0 else None
    leaves = _numpy_leaves(x)
    if leaves and leaves[0].ndim:
        rows = int(leaves[0].shape[0] * (1.0 - float(feed.validation_split or 0.0)))
        return max(1, math.ceil(rows / (feed.batch_size or 32)))
    return None
