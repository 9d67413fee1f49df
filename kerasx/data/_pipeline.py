"""The `tf.data` feeds of a `DataGenerator`: `to_dataset()`, the pipelines that `kerasx.fit`
trains on (batches loaded by `workers` threads, or by worker processes), and the TensorFlow
gather pipeline of `DataGenerator.from_arrays`.

None of them builds a `tf.data.Dataset.from_generator`, and none advances the generator's
epoch by itself except `to_dataset()` (see each function). TensorFlow is imported on first use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import keras
import numpy as np

from kerasx.data._workers import worker_pool
from kerasx.errors import DataError

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = [
    "CACHES",
    "ArrayBatches",
    "Batches",
    "process_dataset",
    "tensor_dataset",
    "threaded_dataset",
    "to_dataset",
    "uses_processes",
    "without_caches",
]

CACHES = ("_kx_thread_datasets", "_kx_tensors", "_kx_datasets", "_kx_pool")
"""The attributes in which the feeds keep their pipelines, tensors and worker processes on a
generator."""

_CHUNK_BYTES = 8 << 20
"""`tensor_dataset` gathers about this many bytes of rows per op (at most 64 batches)."""


class Batches(Protocol):
    """What the feeds use of a `DataGenerator`."""

    workers: int
    max_queue_size: int
    epoch: int
    _random_access: bool
    _kx_use_multiprocessing: bool

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...

    def on_epoch_begin(self) -> None: ...

    def on_epoch_end(self) -> None: ...

    def _owner(self) -> str: ...

    def _indices_to_read(self, index: int) -> np.ndarray: ...

    def _check_batch(self, index: int, batch: Any) -> None: ...


class ArrayBatches(Batches, Protocol):
    """What `tensor_dataset` uses of a `DataGenerator.from_arrays` generator."""

    x: Any
    y: Any
    sample_weight: Any
    transform: Callable[[Any, Any], Any] | None
    batch_size: int
    drop_remainder: bool
    num_samples: int

    def order(self, epoch: int | None = None) -> np.ndarray: ...


def without_caches(state: dict[str, Any]) -> dict[str, Any]:
    """A generator's pickled state without the feeds' pipelines and tensors.

    A copy (a worker process, `copy.deepcopy`) leaves them out: the pipelines call back into
    the original generator, and the tensors are a copy of its arrays.

    Args:
        state: a copy of the generator's `__dict__`; changed in place.

    Returns:
        `state`.
    """
    for name in CACHES:
        state.pop(name, None)
    return state


def uses_processes(generator: Batches) -> bool:
    """Whether the generator's batches are loaded by worker processes (`use_multiprocessing`)."""
    return bool(generator.__dict__.get("_kx_use_multiprocessing", False))


# ---------------------------------------------------------------------- Python batches


def to_dataset(generator: Batches) -> tf.data.Dataset:
    """A `tf.data.Dataset` over the generator's batches in which each pass is one epoch.

    Each pass calls `on_epoch_begin()` first and `on_epoch_end()` once its last batch is
    loaded (or, if it was left earlier, when the next pass begins). A generator with
    `use_multiprocessing=True` is loaded by its worker processes
    (`kerasx.data._workers.worker_pool`), which each pass starts again if they were closed.
    See `DataGenerator.to_dataset`.

    Args:
        generator: the generator.

    Returns:
        A `tf.data.Dataset` of batches.

    Raises:
        DataError: if a value in the first batch has no tensor dtype (such as NumPy dates).
    """
    import tensorflow as tf

    processes = uses_processes(generator)
    loader = _batch_loader(generator, processes=processes)
    if loader is None:
        first = keras.tree.flatten(keras.tree.lists_to_tuples(generator[0]))
        kinds = sorted({str(np.asarray(value).dtype) for value in first})
        raise DataError(
            f"to_dataset() needs batches of numbers, booleans or strings; batch 0 of "
            f"{generator._owner()} holds dtypes {kinds}. Return numbers, booleans or strings "
            "from load_batch (e.g. dates as `a.astype('int64')`)."
        )

    hooks = _PassHooks(generator, processes=processes)
    count = len(generator)

    def one_pass(_: Any) -> Any:
        # The begin hook's result starts the range (at 0), so it runs before any batch
        # loads; the end hook runs once the last batch is loaded, with the pass's number.
        number = tf.numpy_function(hooks.begin, [], tf.int64, stateful=True)
        batches = loader(tf.data.Dataset.range(number * 0, count))

        def ending(token: Any) -> Any:
            stop = tf.numpy_function(hooks.end, [token], tf.int64, stateful=True)
            return loader(tf.data.Dataset.range(stop, 0))

        return batches.concatenate(tf.data.Dataset.from_tensors(number).flat_map(ending))

    passes = tf.data.Dataset.range(1).flat_map(one_pass)
    passes = passes.apply(tf.data.experimental.assert_cardinality(count))
    return _with_options(
        passes.prefetch(generator.max_queue_size), _in_flight(generator, processes)
    )


class _PassHooks:
    """The epoch hooks of `to_dataset`'s passes: each pass (each iterator) is one epoch.

    A pass ends after its last batch. Keras stops at the dataset's cardinality and drops the
    iterator, so that end may come late or never: the next pass's begin then ends it first,
    and an end that comes after the next pass began counts for nothing.
    """

    def __init__(self, generator: Batches, *, processes: bool) -> None:
        self.generator = generator
        self.processes = processes
        self.begun = self.ended = 0
        self.lock = threading.Lock()

    def begin(self) -> np.int64:
        with self.lock:
            if self.ended < self.begun:
                self.ended = self.begun
                self.generator.on_epoch_end()
            self.begun += 1
            number = self.begun
        if self.processes:
            worker_pool(self.generator).open()
        self.generator.on_epoch_begin()
        return np.int64(number)

    def end(self, number: np.int64) -> np.int64:
        with self.lock:
            if int(number) == self.begun and self.ended < self.begun:
                self.ended = self.begun
                self.generator.on_epoch_end()
        return np.int64(0)


def threaded_dataset(generator: Batches, *, skip_batches: int = 0) -> tf.data.Dataset | None:
    """The batches of each epoch as a `tf.data` pipeline, loaded by `workers` threads.

    `kerasx.fit` trains on this instead of the generator itself when the generator uses
    threads (or no workers). `workers` tf.data threads call `generator[i]` in parallel (one
    at a time for `from_generator`, which yields in order) and the batches come out in
    order, as from Keras's queue. Each pass is one epoch, in the order `order()` gives for
    the generator's `epoch` while it runs. Nothing here advances `epoch`: call
    `on_epoch_begin()` and `on_epoch_end()` around each pass, as `kerasx.fit` does from a
    callback. Unlike Keras's own feeding of a `PyDataset`, it builds no
    `tf.data.Dataset.from_generator`. The pipeline is built once per `skip_batches` and kept
    on the generator.

    Args:
        generator: the generator.
        skip_batches: leave out the first batches of each pass (`kerasx.fit` uses it to
            finish an epoch that SIGTERM cut short). Defaults to `0`.

    Returns:
        A `tf.data.Dataset` of batches with the structure, dtypes and shapes of batch 0
        (loaded once per generator), batch dimension `None`; or None when a batch holds
        something with no tensor dtype (such as NumPy dates).
    """
    return _epoch_pipeline(generator, skip_batches, processes=False)


def process_dataset(generator: Batches, *, skip_batches: int = 0) -> tf.data.Dataset | None:
    """Like `threaded_dataset`, with the batches loaded by the generator's worker processes.

    For a generator with `use_multiprocessing=True`. Each `load_batch` runs in one of the
    `workers` processes of `kerasx.data._workers.worker_pool(generator)`, started on the
    first batch and reused by every later pass until the pool is closed; the parent reads
    each batch's indices from `order()` and checks the batch, and the batches come out in
    order. Nothing here advances `epoch`, and nothing here closes the workers: `kerasx.fit`
    opens the pool when training begins and closes it when training ends.

    Args:
        generator: the generator.
        skip_batches: leave out the first batches of each pass. Defaults to `0`.

    Returns:
        A `tf.data.Dataset` of batches, or None when a batch holds something with no tensor
        dtype.
    """
    return _epoch_pipeline(generator, skip_batches, processes=True)


def _epoch_pipeline(generator: Batches, skip_batches: int, *, processes: bool) -> Any:
    import tensorflow as tf

    loader = _batch_loader(generator, processes=processes)
    if loader is None:
        return None
    skip_batches = min(max(0, int(skip_batches)), len(generator))
    datasets = generator.__dict__.setdefault("_kx_thread_datasets", {})
    key = ("processes" if processes else "threads", skip_batches)
    if key not in datasets:
        batches = loader(tf.data.Dataset.range(skip_batches, len(generator)))
        datasets[key] = _with_options(
            batches.prefetch(generator.max_queue_size), _in_flight(generator, processes)
        )
    return datasets[key]


def _batch_loader(
    generator: Batches, *, processes: bool = False
) -> Callable[[tf.data.Dataset], tf.data.Dataset] | None:
    """A function from a dataset of batch positions to the dataset of those batches,
    loaded in order by `workers` threads (or worker processes); None if a batch has no
    tensor form.

    Loads batch 0 the first time, for the element spec.
    """
    import tensorflow as tf

    key = "process-loader" if processes else "loader"
    cached = generator.__dict__.get("_kx_thread_datasets", {}).get(key, False)
    if cached is not False:
        return cached
    first = keras.tree.lists_to_tuples(generator[0])
    try:
        specs = [
            tf.TensorSpec((None, *leaf.shape[1:]) if leaf.ndim else (), leaf.dtype)
            for leaf in (np.asarray(value) for value in keras.tree.flatten(first))
        ]
    except TypeError:  # e.g. NumPy dates: no tensor dtype
        specs = None
    loader = None
    if specs is not None:
        fetch = _from_workers(generator) if processes else generator.__getitem__
        loader = _make_loader(generator, fetch, _in_flight(generator, processes), first, specs)
    generator.__dict__.setdefault("_kx_thread_datasets", {})[key] = loader
    return loader


def _in_flight(generator: Batches, processes: bool) -> int:
    """How many batches load at once: `workers`, or two per worker process, so each has its
    next batch queued; one for `from_generator`, which reads its batches in order."""
    if not generator._random_access:
        return 1
    return generator.workers * (2 if processes else 1)


def _from_workers(generator: Batches) -> Callable[[int], Any]:
    """`generator[index]`, loaded by a worker process: indices and checks in this process."""
    pool = worker_pool(generator)

    def fetch(index: int) -> Any:
        indices = generator._indices_to_read(index)
        batch = pool.load(index, generator.epoch, indices)
        generator._check_batch(index, batch)
        return batch

    return fetch


def _make_loader(
    generator: Batches,
    fetch: Callable[[int], Any],
    parallel: int,
    first: Any,
    specs: list[Any],
) -> Callable[[tf.data.Dataset], tf.data.Dataset]:
    import tensorflow as tf

    dtypes = [spec.dtype for spec in specs]

    def load(index: np.int64) -> list[np.ndarray]:
        batch = keras.tree.lists_to_tuples(fetch(int(index)))
        return [np.asarray(value) for value in keras.tree.flatten(batch)]

    # A random-access batch depends only on its position (the epoch's order is fixed
    # while a pass runs), so the call is declared stateless. TensorFlow runs a stateful
    # function one call at a time once op determinism is on (`seed_everything(...,
    # deterministic=True)`), which would turn `workers=2` into one loading thread.
    stateful = not generator._random_access

    def element(index: Any) -> Any:
        values = tf.numpy_function(load, [index], dtypes, stateful=stateful)
        for value, spec in zip(values, specs, strict=True):
            value.set_shape(spec.shape)
        return keras.tree.pack_sequence_as(first, values)

    def loader(positions: tf.data.Dataset) -> tf.data.Dataset:
        return positions.map(element, num_parallel_calls=parallel, deterministic=True)

    return loader


def _usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, as TensorFlow counts them)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _with_options(dataset: tf.data.Dataset, in_flight: int = 1) -> tf.data.Dataset:
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
    # tf.data runs parallel calls on a pool with one thread per usable CPU. A process pinned
    # to fewer CPUs than `workers` (a container limit, `taskset`) would load fewer batches at
    # once than asked: no overlap for loads that wait on disks, networks or worker processes.
    if in_flight > _usable_cpus():
        options.threading.private_threadpool_size = in_flight
    return dataset.with_options(options)


# ---------------------------------------------------------------------- in-memory arrays


def tensor_dataset(generator: ArrayBatches, *, skip_batches: int = 0) -> tf.data.Dataset:
    """The same batches as `generator[i]`, gathered by TensorFlow instead of Python.

    See `DataGenerator.from_arrays(...).tensor_dataset`. The arrays are converted to tensors
    once (again only when `x`, `y` or `sample_weight` is replaced by another array) and the
    pipeline is built once per `skip_batches`; both are kept on the generator.

    Args:
        generator: a generator built by `DataGenerator.from_arrays`.
        skip_batches: leave out the first batches of each pass. Defaults to `0`.

    Returns:
        A `tf.data.Dataset` of `(x,)`, `(x, y)` or `(x, y, sample_weight)` batches.

    Raises:
        DataError: if the generator has a `transform`.
    """
    if generator.transform is not None:
        raise DataError(
            "tensor_dataset() gathers batches in TensorFlow, so it cannot apply a Python "
            "`transform`. Received: a generator with transform="
            f"{generator.transform!r}. Use the generator itself (or `to_dataset()`)."
        )
    tensors = _tensors(generator)
    size, drop = generator.batch_size, generator.drop_remainder
    skip_batches = min(max(0, int(skip_batches)), len(generator))
    # Building the pipeline traces its functions (about 60 ms), so each one is kept and
    # reused by later `fit` calls: it reads the generator's epoch each time it starts.
    key = (skip_batches, size, drop, generator.num_samples)
    datasets = generator.__dict__.setdefault("_kx_datasets", {})
    if key not in datasets:
        datasets[key] = _gather_dataset(generator, tensors, skip_batches)
    return datasets[key]


def _tensors(generator: ArrayBatches) -> Any:
    """The generator's arrays as tensors: `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
    import tensorflow as tf

    parts = [generator.x] if generator.y is None else [generator.x, generator.y]
    if generator.sample_weight is not None:
        parts.append(generator.sample_weight)
    # Converting copies the arrays (about 0.25 s for 60,000 x 784 floats), so it is done
    # once per generator, like building a `from_tensor_slices` dataset once.
    sources = (generator.x, generator.y, generator.sample_weight)
    cached = generator.__dict__.get("_kx_tensors")
    if cached is not None and all(a is b for a, b in zip(cached[0], sources)):
        return cached[1]
    tensors = keras.tree.map_structure(
        tf.convert_to_tensor, tuple(keras.tree.lists_to_tuples(parts))
    )
    generator.__dict__["_kx_tensors"] = (sources, tensors)
    generator.__dict__["_kx_datasets"] = {}
    return tensors


def _gather_dataset(generator: ArrayBatches, tensors: Any, skip_batches: int) -> Any:
    """The pipeline behind `tensor_dataset`: one `tf.gather` per chunk of batches.

    Rows are gathered up to 64 batches (8 MiB) at a time, one `tf.gather` per array,
    and the chunk is then cut into batches by `unbatch()`, which only slices, as
    `from_tensor_slices(...).batch()` does. Each chunk reads its indices from `order()`
    (cached per epoch) when it is gathered. The pipeline is flat on purpose: tf.data
    instantiates every function and op of a pipeline again for each iterator, and
    Keras makes one per epoch.
    """
    import tensorflow as tf

    size, drop = generator.batch_size, generator.drop_remainder
    start = skip_batches * size
    count = max(0, generator.num_samples - start)
    full = count // size
    rest = 0 if drop else count - full * size
    span = _batches_per_chunk(tensors, size) * size

    def chunk_rows(chunk: np.int64) -> np.ndarray:
        low = start + int(chunk) * span
        return generator.order()[low : min(low + span, start + full * size)].astype(np.int64)

    def rest_rows() -> np.ndarray:
        return generator.order()[start + full * size :].astype(np.int64)

    def rows_of(chosen: Any) -> Any:
        return keras.tree.map_structure(lambda t: tf.gather(t, chosen), tensors)

    def chunk(index: Any) -> Any:
        chosen = tf.numpy_function(chunk_rows, [index], tf.int64, stateful=True)
        chosen.set_shape([None])
        return keras.tree.map_structure(
            lambda r: tf.reshape(r, [-1, size, *r.shape[1:].as_list()]), rows_of(chosen)
        )

    def last(_: Any) -> Any:
        chosen = tf.numpy_function(rest_rows, [], tf.int64, stateful=True)
        chosen.set_shape([rest])
        return rows_of(chosen)

    dataset = tf.data.Dataset.range(-(-full * size // span)).map(chunk).unbatch()
    if rest:
        dataset = dataset.concatenate(tf.data.Dataset.range(1).map(last))
    dataset = dataset.apply(
        tf.data.experimental.assert_cardinality(len(generator) - skip_batches)
    )
    return dataset.with_options(_gather_options()).prefetch(tf.data.AUTOTUNE)


def _gather_options() -> tf.data.Options:
    import tensorflow as tf

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
    return options


def _batches_per_chunk(tensors: Any, batch_size: int) -> int:
    row_bytes = sum(
        t.dtype.size * max(1, t.shape[1:].num_elements() or 1) for t in keras.tree.flatten(tensors)
    )
    return max(1, min(64, _CHUNK_BYTES // max(1, row_bytes * batch_size)))
